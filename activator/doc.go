// Package activator is the host side of airlock: the machine fingerprint,
// the host key, activation requests, the import and verification of the
// vendor's responses and revocation lists, the licence store, and the
// in-memory licence that a licensed product asks whether a feature is
// enabled.
//
// A licensed product needs three calls:
//
//	lic, err := activator.Open(activator.Config{Dir: dir, VendorKeys: keys, Product: "astera", Version: "9.1.0"})
//	defer lic.Close()
//	if lic.Enabled("workflow") { ... }                // lock-free, no allocation
//	seat, err := lic.Seats().Acquire(clientID)        // errors.Is(err, activator.ErrSeatLimit)
//	lic.OnChange(func(old, new *activator.Snapshot) { /* disconnect clients */ })
//
// The host admin's commands (package activator/cli, which a product's own
// activator wraps) use [OpenStore] and [Store]: Request, Import, Status,
// Deactivate, Receipt.
//
// # Trust
//
// The only trust anchor is Config.VendorKeys, the vendor public keys the
// product embeds. Nothing read from the store is trusted: every Open,
// Status and reload re-verifies the stored responses' signatures, that the
// licence in force is bound to this store's host key, to this machine's
// fingerprint, to the product and its major version, and that it is valid
// at the trusted time (the later of the clock and the highest time the
// store has seen).
//
// The store is a log, not a set of decisions: which licence is in force,
// which requests are still open and which licences are revoked are worked
// out at every load from the artifacts that verify under the reader's
// keys. A development build given another key (or a store edited by hand)
// can add licences, deactivations and revocation lists that only that key
// verifies; the product does not see them, nor anything they did: the
// licence they "replaced" stays in force, the requests their deactivation
// "ended" stay open, their revocation list revokes nothing and hides no
// genuine one. The records that are not signed (the order of imports and
// requests, replacements, deactivations) can only end a licence that
// verifies, never make one. Editing the store can therefore lock a
// licence, or bring back one the vendor once signed for this host and
// machine (undo a deactivation, drop a revocation list, rewind the highest
// time seen): the host's own records are in its admin's hands. It cannot
// create a licence, or move one to another machine.
//
// # Licence lifecycle
//
// A host holds one licence per product: the newest imported licence that
// verifies and has not ended. A response must answer a request of this
// store (by id and by the SHA-256 of the request as signed) that no other
// licence answered and no deactivation ended. A new licence replaces the
// one in force when it grants at least as much (every feature, as many
// clients, every major version, a validity that ends no earlier); one that
// grants less is refused with [ErrDowngrade], naming what would be lost,
// unless [ImportOptions].Replace. A licence answering an older request
// replaces the one in force only when it grants more. Licences of two
// product keys do not add up (a base key and an add-on): the vendor sells
// one key with every feature instead, which replaces the old licence by
// the same rule. A replaced licence never comes back ([ErrReplaced]);
// [Store.Receipt] signs its receipt so that the vendor frees the
// activation it still holds.
//
// [Store.Deactivate] ends the licence in force ([ErrDeactivated] if it is
// imported again) and every request made before it: no response to a
// request made before a deactivation (or a receipt) ever imports, so that
// the activation the vendor frees on the receipt cannot be taken back
// with a response kept in a drawer.
//
// # The store
//
// One Badger directory (mode 0700) per host, written in one transaction
// per change: the host key, the requests it signed and their order (every
// request a stored licence answers, and the newest 16 that none does: a
// response to an older one is refused with [ErrNotRequested]),
// every imported response exactly as signed with the order of imports,
// which licence replaced which, the deactivations with their receipts, the
// newest revocation list of each signing key, the highest time seen and an
// audit log. A refused import writes nothing: it is decided on a read-only
// open, and the store is opened for writing only to apply an import, so
// its files stay byte-identical. Badger is tuned for a few kilobytes (1 MiB memtable and value
// log files, no caches, no compression, synced writes, checksums verified).
// Measured on a 2-core VM with one licence (BENCHMARKS.md): 32 KiB on disk
// (1 MiB apparent, a sparse DISCARD file), `activator status` peaking at
// 14 MiB RSS; [Open] takes about 1.5 ms.
//
// Beside Badger's files, every writer leaves a read view (VIEW): a copy
// of the records that reading the licence state asks for, bound to the
// sizes and times of Badger's files as that writer left them. Readers
// ([ReadStatus], `activator status` and `check`, [Open] and its reloads)
// evaluate it instead of opening Badger while it matches those files, and
// read Badger otherwise (a writer killed before its view, a file edited
// or restored, a view missing or damaged), leaving a new view when no
// writer is at work. The view is a cache: what it holds is verified
// exactly as Badger's records are, at every use. Writers hold a session
// lock (SESSION) from their open to their view, so that no other writer's
// change falls between the two.
//
// The store's lock is held only while reading or writing: a licensed
// product opens the store, verifies, closes, and keeps an immutable
// [Snapshot]; a small GENERATION file, bumped after each change, tells it
// to reload (it polls every two seconds, and re-evaluates every minute for
// expiry). A writer that meets the lock waits (ten seconds by default),
// then names the process that holds it. Writers refuse to start with less
// than 8 MiB free (Badger can crash on a full disk).
//
// # Deployment
//
// Make the store directory belong to the product's service account
// (install -d -m 0700 -o astera /var/lib/airlock) and run `activator` as
// root: root-run commands read every identifier, including the root-only
// DMI product UUID, and hand the files they write to the directory's
// owner, so the service can read its licence.
//
// On Windows a store directory that airlock creates gets a protected ACL
// instead of a mode: full control for SYSTEM, the Administrators group and
// the account that created it, inherited by its files, nothing inherited
// from the parent (so no "Users: read" from C:\ProgramData). A directory
// that exists already keeps the ACL it has. When an administrator creates
// the store (activator request) and the product runs as a service
// account, give that account the directory too, e.g.
// icacls C:\ProgramData\Astera\licence /grant "NT SERVICE\astera:(OI)(CI)F";
// or create the directory beforehand with the three entries and no
// inheritance (icacls DIR /inheritance:r /grant:r SYSTEM:(OI)(CI)F
// Administrators:(OI)(CI)F "NT SERVICE\astera:(OI)(CI)F"). Every
// fingerprint source is readable by a service account on Windows, so
// unlike Linux nothing needs an administrator. These ACLs are tested here
// as text on every OS, and applied only on Windows (or Wine), whose own
// enforcement was not measured here.
//
// # Machine binding
//
// See [CollectFingerprint] for the identifiers and [MatchHost] for the
// match. The desk issues a threshold (format.IssueThreshold) of all
// recorded identifiers but one, raised so that at least one identifier
// that stays with the machine (SMBIOS UUID and serials, a hypervisor VM id,
// a Mac's platform UUID and serial, the MACs) must match whenever one was recorded: a replaced NIC keeps the
// licence on a machine with SMBIOS identifiers, and a clone of the disk
// with new SMBIOS and MAC values does not. A binding with fewer than 3
// identifiers, or none that stays with the machine, is weak
// ([HostFingerprint.Binding]): `activator fingerprint` and `request` say
// so, with [HostFingerprint.Advice], and the desk refuses it unless told
// otherwise. Containers can be given an operator id.
//
// On Linux the SMBIOS identifiers are readable only by root (Windows lets
// every user read them, and every macOS source may be run by any user): an unprivileged process leaves them out of the
// match and treats them as possibly
// changed, so the others must all meet the threshold. So a cloned VM with
// a new MAC stays out, and on a machine whose SMBIOS identifiers were
// recorded, a replaced NIC keeps root-run commands working but makes the
// unprivileged service refuse the licence until a new one is requested.
// Every other unreadable identifier counts as changed.
//
// # Security considerations
//
// A host admin with root controls what the operating system shows: one who
// clones every identifier to a second machine, or restores a whole-disk
// backup after deactivating, defeats the binding; SECURITY.md lists these
// residual risks. The clock is the host's own: the highest time seen stops
// a clock wound back by more than [DefaultClockTolerance] from extending a
// time-limited licence, not a clock that was always wrong. A clock once set
// far ahead leaves the highest time seen there; importing a licence
// requested after that brings it back to the later of the clock and the
// vendor's signature time (the vendor's clock vouches for the correction;
// a response to an older request vouches for nothing).
package activator
