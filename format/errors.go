package format

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors for the decisions a caller or a test must tell apart.
// Every error returned by [Verify] matches exactly one of them with
// [errors.Is]; the structured errors below match their sentinel too.
var (
	// ErrMalformed is the one opaque error for input that is not a
	// well-formed airlock artifact: bad armor, bad Base45, a broken packet,
	// invalid JSON, a missing, unknown or duplicate field, a value out of
	// range. The message names what is wrong.
	ErrMalformed = errors.New("malformed artifact")

	// ErrTooLarge reports input over [MaxArtifactSize] (binary message or
	// inflated QR text) or over [MaxEncodedSize] (armored or QR text).
	ErrTooLarge = errors.New("artifact too large")

	// ErrPacketSequence reports a message whose packets are not exactly
	// one-pass signature, literal data, signature: compressed data, marker
	// packets, a second signature, a text-mode signature, trailing bytes.
	ErrPacketSequence = errors.New("not a single binary-signed message")

	// ErrUnsigned reports a message with no signature at all.
	ErrUnsigned = errors.New("message is not signed")

	// ErrUnknownSigner reports a signature by a key that is not in the
	// pinned set (compared by full fingerprint).
	ErrUnknownSigner = errors.New("signed by an unknown key")

	// ErrBadSignature reports a signature that does not verify: the signed
	// bytes were altered, or the signature was forged.
	ErrBadSignature = errors.New("signature does not verify")

	// ErrWeakHash reports a signature over a hash other than SHA-256,
	// SHA-384 or SHA-512.
	ErrWeakHash = errors.New("signature uses a weak hash")

	// ErrWeakKey reports a key whose algorithm is not Ed25519 or RSA of at
	// least 3072 bits.
	ErrWeakKey = errors.New("key algorithm not allowed")

	// ErrKeyExpired reports a signing key that is expired at the trusted
	// time, or was expired when it signed.
	ErrKeyExpired = errors.New("signing key expired")

	// ErrKeyRevoked reports a signing key that is revoked.
	ErrKeyRevoked = errors.New("signing key revoked")

	// ErrSignatureExpired reports a signature whose own expiry has passed.
	ErrSignatureExpired = errors.New("signature expired")

	// ErrClockBehind reports a signature created after the trusted time
	// plus the allowed skew; see [ClockBehindError].
	ErrClockBehind = errors.New("signature is dated in the future")

	// ErrWrongKind reports an artifact of another kind than expected; see
	// [WrongKindError].
	ErrWrongKind = errors.New("wrong kind of artifact")

	// ErrUnsupportedVersion reports an artifact whose format version this
	// code does not implement; see [UnsupportedVersionError].
	ErrUnsupportedVersion = errors.New("unsupported format version")

	// ErrHostMismatch reports a machine fingerprint that does not match
	// the recorded one; see [HostMismatchError].
	ErrHostMismatch = errors.New("issued for another machine")

	// ErrProductKey reports a product key that does not parse or whose
	// check characters fail; see [ProductKeyError].
	ErrProductKey = errors.New("invalid product key")
)

// errorf returns an error that matches sentinel with [errors.Is] and reads
// as the formatted text. The sentinel's own text is not repeated, so messages
// stay one line that names the problem.
func errorf(sentinel error, format string, args ...any) error {
	return &detailError{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}

type detailError struct {
	sentinel error
	msg      string
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.sentinel }

// WrongKindError reports an artifact of another kind than the caller
// expected, such as a request presented where a response belongs.
type WrongKindError struct {
	Got  Kind
	Want []Kind
}

func (e *WrongKindError) Error() string {
	return fmt.Sprintf("this is a %s, not a %s", e.Got, kindList(e.Want))
}

func (e *WrongKindError) Unwrap() error { return ErrWrongKind }

// UnsupportedVersionError reports a "format" value whose kind is known but
// whose version is not, or whose kind is not known at all.
type UnsupportedVersionError struct {
	Format string // the value found in the "format" field
}

func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("format %q is not supported by this version of airlock; upgrade the software that reads it", e.Format)
}

func (e *UnsupportedVersionError) Unwrap() error { return ErrUnsupportedVersion }

// ClockBehindError reports a signature created further in the future than
// the allowed skew: the reading machine's clock is behind, or the signing
// machine's ahead. Callers that know which machine is which (a host
// reading the vendor's response, the desk reading a host's request) say
// so in their own words.
type ClockBehindError struct {
	SignedAt time.Time     // the signature's creation time
	By       time.Duration // how far it is ahead of the trusted time
}

func (e *ClockBehindError) Error() string {
	return fmt.Sprintf("signed %s in the future of this machine's clock (at %s): this machine's clock is behind, or the signer's ahead; set the wrong one right and try again",
		e.By.Round(time.Second), e.SignedAt.UTC().Format(time.RFC3339))
}

func (e *ClockBehindError) Unwrap() error { return ErrClockBehind }

// HostMismatchError reports a fingerprint match below the threshold.
type HostMismatchError struct {
	Matched int // recorded components that match now
	Needed  int // components that must match
	Total   int // components recorded
}

func (e *HostMismatchError) Error() string {
	return fmt.Sprintf("issued for another machine (%d of %d identifiers match, %d needed)", e.Matched, e.Total, e.Needed)
}

func (e *HostMismatchError) Unwrap() error { return ErrHostMismatch }

// ProductKeyError reports a product key that cannot be right. Group is the
// 1-based group (of five) that looks wrong, or 0 when the key as a whole is
// wrong (its length, say).
type ProductKeyError struct {
	Group  int
	Reason string
}

func (e *ProductKeyError) Error() string {
	if e.Group == 0 {
		return "product key: " + e.Reason
	}
	return fmt.Sprintf("product key: group %d %s", e.Group, e.Reason)
}

func (e *ProductKeyError) Unwrap() error { return ErrProductKey }

func kindList(kinds []Kind) string {
	s := ""
	for i, k := range kinds {
		switch {
		case i == 0:
		case i == len(kinds)-1:
			s += " or "
		default:
			s += ", "
		}
		s += string(k)
	}
	return s
}
