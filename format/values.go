package format

import (
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Time is an instant written as RFC 3339 in UTC with second precision and a
// "Z" suffix, such as "2026-11-29T10:00:00Z". Decoding refuses any other
// spelling (offsets, fractions, lowercase), so that one instant has exactly
// one encoding.
type Time struct{ time.Time }

const timeLayout = "2006-01-02T15:04:05Z"

// timeSyntax reports whether s is exactly "NNNN-NN-NNTNN:NN:NNZ".
func timeSyntax(s string) bool {
	const pattern = "0000-00-00T00:00:00Z"
	if len(s) != len(pattern) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if pattern[i] == '0' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != pattern[i] {
			return false
		}
	}
	return true
}

// NewTime returns t in UTC, truncated to the second.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Second)} }

// String returns the wire form of t.
func (t Time) String() string { return t.UTC().Format(timeLayout) }

// MarshalJSON implements [json.Marshaler].
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return nil, fmt.Errorf("format: zero time cannot be encoded")
	}
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON implements [json.Unmarshaler].
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a time such as \"2026-11-29T10:00:00Z\"")
	}
	if !timeSyntax(s) {
		return fmt.Errorf("time %q is not RFC 3339 UTC with seconds (e.g. \"2026-11-29T10:00:00Z\")", s)
	}
	v, err := time.Parse(timeLayout, s)
	if err != nil {
		return fmt.Errorf("time %q: %v", s, err)
	}
	t.Time = v
	return nil
}

// ID is a 128-bit random identifier (request_id, license_id) written as 26
// characters of RFC 4648 Base32 without padding, uppercase.
type ID string

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID reads 16 bytes from rand and returns them as an [ID].
// Callers pass crypto/rand.Reader; tests pass a deterministic reader.
func NewID(rand io.Reader) (ID, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("format: generate id: %w", err)
	}
	return ID(idEncoding.EncodeToString(b[:])), nil
}

// Valid reports whether id is in canonical form.
func (id ID) Valid() bool {
	if len(id) != 26 {
		return false
	}
	b, err := idEncoding.DecodeString(string(id))
	return err == nil && len(b) == 16 && idEncoding.EncodeToString(b) == string(id)
}

// Digest is a SHA-256 digest written as 64 lowercase hexadecimal digits.
type Digest [32]byte

// String returns the wire form of d.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalJSON implements [json.Marshaler].
func (d Digest) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON implements [json.Unmarshaler].
func (d *Digest) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || len(s) != 64 || strings.ToLower(s) != s {
		return fmt.Errorf("want 64 lowercase hexadecimal digits")
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("want 64 lowercase hexadecimal digits")
	}
	copy(d[:], v)
	return nil
}

// KeyFingerprint is the full fingerprint of an OpenPGP key in uppercase
// hexadecimal: 40 digits for a v4 key, 64 for a v6 key. Keys are always
// compared by it, never by key ID or user ID.
type KeyFingerprint string

// ParseKeyFingerprint accepts a key fingerprint in hexadecimal, in either
// case, with or without spaces (as gpg prints it), and returns it in
// canonical form.
func ParseKeyFingerprint(s string) (KeyFingerprint, error) {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	f := KeyFingerprint(s)
	if !f.Valid() {
		return "", errorf(ErrMalformed, "key fingerprint %q: want 40 (v4) or 64 (v6) hexadecimal digits", s)
	}
	return f, nil
}

// Valid reports whether f is in canonical form.
func (f KeyFingerprint) Valid() bool {
	if len(f) != 40 && len(f) != 64 {
		return false
	}
	for _, c := range f {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func fingerprintOf(b []byte) KeyFingerprint {
	return KeyFingerprint(strings.ToUpper(hex.EncodeToString(b)))
}

// Product identifiers, feature names and fingerprint component names are
// short lowercase ASCII tokens: a letter or digit, then up to max-1 of
// the same or of extra. (Hand-written rather than regular expressions: a
// licensed product pays for package initialisation at every start.)
func token(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && strings.IndexByte(extra, c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func componentName(s string) bool { return token(s, 32, "-") }

// ValidProduct reports whether p is a valid product identifier: 1 to 64
// characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
func ValidProduct(p string) bool { return token(p, 64, "._-") }

// ValidFeature reports whether f is a valid feature name: 1 to 64
// characters of a-z, 0-9, '_' and '-', starting with a letter or digit.
func ValidFeature(f string) bool { return token(f, 64, "_-") }

// MajorVersion returns the major version of a product version such as
// "9.1.0" (9). Versions are one to four dot-separated numbers of up to six
// digits, optionally followed by "-" or "+" and a suffix.
func MajorVersion(v string) (int, error) {
	bad := errorf(ErrMalformed, "product version %q: want numbers such as 9.1.0", v)
	core, suffix := v, ""
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		core, suffix = v[:i], v[i+1:]
		if len(suffix) == 0 || len(suffix) > 32 {
			return 0, bad
		}
		for _, c := range []byte(suffix) {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-') {
				return 0, bad
			}
		}
	}
	parts := strings.Split(core, ".")
	if len(parts) > 4 {
		return 0, bad
	}
	for _, p := range parts {
		if len(p) == 0 || len(p) > 6 {
			return 0, bad
		}
		for _, c := range []byte(p) {
			if c < '0' || c > '9' {
				return 0, bad
			}
		}
	}
	n, _ := strconv.Atoi(parts[0]) // at most six digits: cannot fail
	return n, nil
}

// CheckText checks text typed by people (names, organisations, reasons)
// against the format's rule for it, naming field in the error.
func CheckText(field, s string) error { return validText(field, s, MaxTextBytes) }

// validText checks a human-entered string: valid UTF-8, no control
// characters, no surrounding space, at most max bytes.
func validText(field, s string, max int) error {
	switch {
	case s == "":
		return fieldError(field, "is empty")
	case len(s) > max:
		return fieldError(field, fmt.Sprintf("is %d bytes long, at most %d allowed", len(s), max))
	case !utf8.ValidString(s):
		return fieldError(field, "is not valid UTF-8")
	case strings.TrimSpace(s) != s:
		return fieldError(field, "has leading or trailing spaces")
	}
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return fieldError(field, "contains an invalid character")
		case unicode.IsControl(r):
			return fieldError(field, "contains a control character")
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F,
			r == 0x200B, r == 0xFEFF, r == 0x061C:
			// Bidirectional overrides and invisible characters make a
			// licensee look like another in the ledger and in status output.
			return fieldError(field, "contains an invisible or text-direction character")
		}
	}
	return nil
}

func fieldError(field, problem string) error {
	return errorf(ErrMalformed, "field %q %s", field, problem)
}
