// Package format is the airlock wire format: the four signed artifacts that
// travel between an isolated host and the vendor's licence desk, the
// OpenPGP profile that signs them, their encodings, product keys and machine
// fingerprints. This comment is the specification; the code implements it
// and nothing more. The key words MUST, MUST NOT, SHOULD and MAY are to be
// read as in RFC 2119.
//
// Package format is pure: it reads no clock, no disk and no global state.
// Callers pass the trusted time and the pinned keys. Most callers want
// [Verify] and [Sign]; the host and vendor tools (packages activator and
// issuer) are built on them.
//
// # Artifacts
//
// An artifact is one OpenPGP signed message (RFC 4880 / RFC 9580) whose
// literal data is a JSON document, the payload. There are four kinds:
//
//	kind          signed by                      carries
//	request       the host key inside it         a host's application for a licence
//	response      a vendor key                   the licence for that host
//	deactivation  the host key of the licence    proof that the host removed it
//	revocations   a vendor key                   the licences the vendor revoked
//
// # Message grammar
//
// The binary message MUST be exactly these three packets, in this order,
// with nothing before, between or after them:
//
//	message  = one-pass-signature literal-data signature
//
// Each packet is constrained:
//
//   - one-pass signature (tag 4): version 3, signature type 0x00, and its
//     "last" flag byte exactly 1; its type, key ID, hash and algorithm MUST
//     equal the signature's. No signature covers this packet: where it
//     disagrees with the signature, the refusal says that the file was
//     damaged or altered, not what either claims.
//   - literal data (tag 11): format 'b', an empty file name, and date 0 or
//     at most five minutes before the signature's creation time. The body
//     is the payload. (gpg writes this when it signs standard input, or
//     with --set-filename "".)
//   - signature (tag 2): version 4 (RFC 9580 version 6 signatures are not
//     part of format version 1), type 0x00 (binary document), hash
//     SHA-256, SHA-384 or SHA-512, public-key algorithm Ed25519 (22 with
//     the Ed25519 curve, or 27) or RSA of at least 3072 bits, with an
//     issuer key ID, and SHOULD carry an issuer fingerprint subpacket. The
//     unhashed subpacket area MUST be empty or hold exactly one issuer key
//     ID subpacket equal to the issuer (as gpg writes). Signature values
//     MUST be canonical multiprecision integers (no leading zero bits), and
//     the two-byte hash tag MUST match.
//
// Packet lengths MUST be minimally encoded; partial lengths are allowed for
// the literal data only.
//
// Compressed data, marker packets, a second signature, a text-mode
// signature, trailing bytes and cleartext-signed messages are refused
// ([ErrPacketSequence]); a message with no signature is [ErrUnsigned].
//
// These rules leave no bit of a message that airlock writes which can be
// changed without the message being refused (a test flips every one).
// Other signers may choose legacy or new packet headers, partial lengths
// and the literal date, so an artifact's identity is the SHA-256 of its
// payload ([Artifact].Digest), never its bytes.
//
// # Verification
//
// A verifier MUST, in this order:
//
//  1. refuse input over [MaxEncodedSize] or a binary message over
//     [MaxArtifactSize] before parsing ([ErrTooLarge]);
//  2. check the grammar above from the packet headers themselves;
//  3. find the signer among the pinned keys by the issuer fingerprint (or,
//     without one, the key ID), comparing full fingerprints of primary keys
//     and subkeys; a key not pinned is [ErrUnknownSigner]. Key IDs and user
//     IDs are never trusted;
//  4. check the signature's value over the payload with that key
//     ([ErrBadSignature]: the file was damaged or altered, or the
//     signature forged). Until it holds, nothing the signature covers is a
//     fact: a refusal MUST NOT say anything of a clock or of a key's
//     validity from a creation time that has not verified;
//  5. refuse a signature created more than the skew ([DefaultSkew], five
//     minutes) after the trusted time ([ErrClockBehind]: the reading
//     machine's clock is behind, or the signer's ahead);
//  6. verify the signature as a whole, with the signing key valid when it
//     signed and at the trusted time: not expired ([ErrKeyExpired]) and
//     not revoked ([ErrKeyRevoked]). Judging expiry at the trusted time
//     too stops whoever holds an old, expired key from backdating;
//  7. decode the payload (below), check that its kind is one the caller
//     expects ([ErrWrongKind]) and that its format version is known
//     ([ErrUnsupportedVersion]).
//
// Everything decided comes from the signed bytes and the typed result of
// the verification: armor headers, the literal packet's metadata and any
// printed text are never consulted. The trusted time is the caller's: a
// host passes the later of its clock and the highest time its store has
// seen.
//
// Every error [Verify] returns for bad input matches exactly one of the
// package's sentinel errors with [errors.Is] and reads as one line.
//
// # Payload grammar
//
// The payload MUST be a UTF-8 JSON object (RFC 8259) whose first member is
// "format" with the value "airlock/<kind>/1". Member names MUST match
// [a-z0-9][a-z0-9_-]* and MUST NOT repeat within an object; null MUST NOT
// appear (an optional member is omitted); nesting is at most 4 levels; no
// data may follow the object. Unknown members, unknown format values and
// out-of-range values are refused, naming the member ([ErrMalformed]). A
// payload is parsed exactly as signed; it is never re-serialised and
// re-verified. Writers emit members in the order below, without spaces.
//
// Times are RFC 3339 in UTC with seconds and a "Z" ("2026-11-29T10:00:00Z"),
// nothing else. IDs (request_id, license_id) are 128 random bits as 26
// characters of RFC 4648 Base32, uppercase, unpadded. A key fingerprint is
// the full OpenPGP fingerprint in uppercase hexadecimal (40 digits for v4).
// A product is 1-64 of [a-z0-9._-] starting with a letter or digit; a
// feature is 1-64 of [a-z0-9_-] starting likewise; a product version is one
// to four dot-separated numbers of up to six digits, optionally followed by
// "-" or "+" and a suffix, whose first number is the major version. Text
// typed by people (licensee name and organisation, reasons) is 1-256 bytes
// of UTF-8 without control characters or surrounding spaces.
//
//	request      = { "format": "airlock/request/1",
//	                 "request_id": ID, "created": TIME,
//	                 "product": PRODUCT, "product_version": VERSION,
//	                 "product_key": PRODUCT-KEY (canonical form),
//	                 "licensee": { "name": TEXT, "organization": TEXT },
//	                 "fingerprint": { "components": { NAME: VALUE, ... } },
//	                 "host_key": Base64 of the binary public key (or armored) }
//	response     = { "format": "airlock/response/1",
//	                 "license_id": ID, "request_id": ID,
//	                 "request_digest": 64 lowercase hex digits,
//	                 "issued": TIME, "product": PRODUCT,
//	                 "versions": [ MAJOR, ... ]            1-16, unique, 0-999999
//	                 "licensee": { "name": TEXT, "organization": TEXT },
//	                 "host_key_fingerprint": KEY-FINGERPRINT,
//	                 "fingerprint": { "components": {...}, "threshold": N },
//	                 "features": [ FEATURE, ... ]          0-64, unique
//	                 "limits": { "clients": N },           1-1000000
//	                 "not_before": TIME, "not_after": TIME (both optional) }
//	deactivation = { "format": "airlock/deactivation/1",
//	                 "license_id": ID, "request_id": ID,
//	                 "host_key_fingerprint": KEY-FINGERPRINT,
//	                 "deactivated": TIME }
//	revocations  = { "format": "airlock/revocations/2",
//	                 "serial": N (1 or more; only grows), "issued": TIME,
//	                 "revoked": [ ID, ... ] }   0-2000, ascending, unique
//
// A revocation list of the most ids, 2000, is 58,000 bytes of payload (29
// bytes an id, about 90 for the rest): with the literal packet's header
// and the signature of an Ed25519 key or an RSA key of up to 16384 bits it
// stays below the 64 KiB bound (TestRevocationsAtMaximum). Reasons are not
// sent: hosts never show them, and the vendor's ledger keeps them. Readers
// MUST still accept version 1 of the list ("airlock/revocations/1", each
// entry { "license_id": ID, "reason": TEXT (optional) }, at most 1000, in
// any order without repeats), so that a list a host holds, or one from a
// desk not yet updated, keeps revoking; writers write version 2.
//
// A response's request_digest is the SHA-256 of the request's payload
// exactly as signed (the literal data), which [Artifact].Digest holds. A
// response without not_after is perpetual. not_after MUST be after
// not_before when both are present.
//
// # Encodings
//
// An artifact travels in one of three encodings, and every reader MUST
// accept all three, detected from the content ([Decode]); surrounding
// whitespace is ignored:
//
//   - binary: the raw packets;
//   - armored: exactly one OpenPGP ASCII armor block of type "PGP
//     MESSAGE" (the default for files): the BEGIN line, "Key: Value"
//     headers (ignored), a blank line, Base64, an optional CRC-24 line that
//     MUST match, the END line, and nothing else but whitespace;
//   - QR text: "AL1:" followed by Base45 (RFC 9285) of the raw DEFLATE
//     (RFC 1951) compression of the binary message. Every character is in
//     the QR alphanumeric set, so a QR code of it uses alphanumeric mode and
//     any phone scanner yields text that can be copied. A reader MUST bound
//     the inflated size by [MaxArtifactSize] and refuse data after the end
//     of the DEFLATE stream. A request fits one QR code at error-correction
//     level M.
//
// Armored and QR text are text, and text is saved by editors in their own
// ways: a reader MUST accept it with CRLF line ends and with a UTF-8
// byte-order mark (EF BB BF) before it, as Notepad writes, and MUST NOT
// take a byte-order mark for the start of a binary message. The same holds
// for armored key files (below). UTF-16 text is refused, by name.
//
// # Keys
//
// Vendor and host keys are OpenPGP v4 Ed25519 signing keys (algorithm 22,
// curve Ed25519) with SHA-512 self-signatures and no encryption subkey,
// which GnuPG 2.2 and Sequoia read ([GenerateKey]). A verifier MAY pin RSA
// keys of at least 3072 bits and keys whose signing subkey signs. The pinned
// set is read from armored blocks or a binary keyring ([ParseKeySet]).
// Signing goes through the [Signer] interface, so that a key held by GnuPG
// or a smartcard can sign; [Sign] verifies what any signer produced before
// it is written anywhere.
//
// # Product keys
//
// A product key is 25 characters of Crockford's Base32
// (0123456789ABCDEFGHJKMNPQRSTVWXYZ) in five dash-separated groups of five.
// Each group is four serial characters and one check character chosen so
// that, with the group's symbol values d0..d4 in GF(32) (polynomial
// x⁵+x²+1, α = x), α·d0 + α²·d1 + α³·d2 + α⁴·d3 + α⁵·d4 = 0. The serial is
// 100 random bits, taken five bits a symbol, most significant first. Every
// single substitution and every adjacent transposition is detected, and the
// error names the group ([ProductKeyError]). Readers ignore case, dashes,
// spaces, tabs, line ends and a byte-order mark (a key pasted from a file),
// and read O as 0 and I or L as 1. A product key identifies a
// sale in the vendor's ledger; it carries no entitlement itself.
//
// # Fingerprints
//
// A machine fingerprint is a set of named components ("machine-id",
// "dmi-product-uuid", "mac", "root-disk", or any name of 1-32 of
// [a-z0-9-]), at most 16, at least 1. Each value is HMAC-SHA-256 keyed by
// the product identifier over the raw identifier, truncated to 16 bytes,
// in unpadded Base64url ([HashComponent]), so raw identifiers never leave
// the host and two products see unlinkable values. Missing components are
// omitted, never faked. A host matches a recorded fingerprint when at least
// threshold of the recorded components have the same value now ([Match]);
// the default threshold for n components is n-1 when n is 3 or more and n
// otherwise ([DefaultThreshold]), and a response MUST NOT carry less than 2
// when n is 3 or more.
//
// Components are machine-bound (their value stays with the machine when its
// disk, an image of it or its files are copied: "dmi-product-uuid",
// "dmi-board-serial", "dmi-chassis-serial", "hypervisor-uuid",
// "platform-uuid", "platform-serial", "mac") or
// portable (every other name: "machine-id", "root-disk", "disk-serial",
// "operator-id"); see [MachineBound]. A desk SHOULD issue the threshold of
// [IssueThreshold]: the default, raised to one more than the portable
// components and capped at n, so that a licence needs a machine-bound
// identifier whenever one was recorded. A fingerprint with fewer than 3
// components, or none machine-bound, is weak ([Fingerprint.Binding]): a
// copy of the disk or the host's files carries its licence elsewhere.
//
// # Security considerations
//
// The signature is the only protection of an artifact; every rule above
// exists so that the signed bytes have one meaning. Payloads are decoded
// only after the signature holds ([DecodeUnverified] exists for display and
// to find which key to check with; its output is not to be trusted). The
// fingerprint binds a licence to hardware identifiers that an
// administrator with root can read and, with effort, fake on another
// machine; the host key binds it to one store. Neither survives a clone of
// the whole machine; see SECURITY.md.
//
// # Test vectors
//
// testdata/vectors holds one file per case, each with a header (expect:
// ok or the error it must produce; kind: the kind the verifier expects;
// pinned: the fixture key in testdata/keys to pin, or "self" for a request
// verified against its own host key; now: the trusted time; input:
// armored, binary (as Base64) or qr), a blank line and the artifact. The
// fixture keys are TEST ONLY. `make vectors` regenerates the files from
// vectors_gen_test.go.
package format
