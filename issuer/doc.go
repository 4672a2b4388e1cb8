// Package issuer is the vendor side of airlock, run on the licence desk's
// offline machine: the vendor signing key, product keys and what they
// entitle to, the signing of requests into licences, and the ledger of
// activations, deactivations and revocations.
//
// A desk is a directory: a Badger ledger (crash-safe, synced writes, one
// transaction per signing) and, unless the key lives in GnuPG or on a
// smartcard ([GPGSigner]), the vendor's secret key encrypted with a
// passphrase. A write needs free space for Badger to rewrite every table
// of the ledger, and twice what the command writes (at least 8 MiB in
// all): a disk that fills under Badger kills the process, so the desk
// refuses first. Reading ([OpenDeskReadOnly]) needs none.
//
//	d, _ := issuer.OpenDesk(issuer.Config{Dir: dir}, false)
//	defer d.Close()
//	d.Unlock(passphrase)
//	signed, err := d.Sign(requestBytes)   // errors.Is(err, issuer.ErrActivationLimit)
//
// # Counting
//
// A product key allows a number of activations at once. A new host uses
// one; the same request signed twice returns the same licence and counts
// once; a host that already holds a live activation of the key (same host
// key, or a fingerprint that matches by the tolerant rule) reinstalls: its
// new licence replaces the old one without using another activation. A
// deactivation receipt, verified against the host key the ledger recorded
// for that licence, frees its activation once. The activation is recorded
// before the response leaves [Desk.Sign].
//
// # Security considerations
//
// The desk's secret key is the vendor's most valuable asset: keep the desk
// offline, the passphrase out of shell history (--passphrase-file or the
// prompt), and consider a smartcard through GnuPG. The key file
// (vendor.sec.asc, encrypted with the passphrase) is written readable by
// the desk's account alone: mode 0600 on Unix, and on Windows a protected
// ACL for SYSTEM, Administrators and that account, as the desk directory
// itself gets when issuer init creates it. Every response the desk
// signs is checked by [format.Sign] exactly as a host will check it, so a
// misconfigured gpg (compression, a weak hash) fails here, not at the
// customer's.
package issuer
