// Package activator is the host side of airlock: fingerprint collection,
// the host key, request creation, import and verification of responses,
// the Badger store, the in-memory licence snapshot that a licensed product
// queries with Enabled, client seats and status.
//
// It is not written yet (issue 3); this file holds its place in the layout
// of ../shared/DESIGN.md. It will build on package
// github.com/airlock-license/airlock/format, which defines every artifact
// it reads and writes.
package activator
