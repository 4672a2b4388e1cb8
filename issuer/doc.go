// Package issuer is the vendor side of airlock: the vendor signing key,
// product keys and their entitlements, signing of responses, the ledger of
// activations, deactivations and revocation lists.
//
// It is not written yet (issue 4); this file holds its place in the layout
// of ../shared/DESIGN.md. It will build on package
// github.com/airlock-license/airlock/format, whose Signer interface lets a
// key held by GnuPG or a smartcard sign.
package issuer
