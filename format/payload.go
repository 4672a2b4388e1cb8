package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Kind names one of the four artifacts.
type Kind string

// The artifact kinds. The wire name of each format is "airlock/<kind>/1".
const (
	KindRequest      Kind = "request"
	KindResponse     Kind = "response"
	KindDeactivation Kind = "deactivation"
	KindRevocations  Kind = "revocations"
)

// Bounds on payload contents. Each is far above what a real artifact needs
// and far below what would make a 64 KiB artifact expensive to handle.
const (
	MaxTextBytes      = 256  // licensee name and organisation, revocation reason
	MaxFeatures       = 64   // features in one response
	MaxVersions       = 16   // licensed major versions in one response
	MaxComponents     = 16   // fingerprint components
	MaxRevoked        = 2000 // licences in one revocation list: 2000 IDs take 58,000 bytes, within MaxMessageSize with any key
	MaxClients        = 1_000_000
	MaxMajorVersion   = 999_999
	maxHostKeyEncoded = 4096 // base64 or armored host public key
)

// Payload is one of [*Request], [*Response], [*Deactivation] or
// [*Revocations]: the signed JSON document inside an artifact.
type Payload interface {
	// Kind returns the payload's kind.
	Kind() Kind
	// Validate reports the first field that breaks the format's rules.
	Validate() error
}

// formatVersion is the version of each kind's format that this code reads
// and writes. Revocation lists are at version 2: a list of licence ids
// (version 1 carried a reason with each, which hosts never showed and which
// made the list too big to hold many).
var formatVersion = map[Kind]string{KindRequest: "1", KindResponse: "1", KindDeactivation: "1", KindRevocations: "2"}

// formatName returns the "format" value that this code writes for k.
func formatName(k Kind) string { return "airlock/" + string(k) + "/" + formatVersion[k] }

// parseFormatName splits a "format" value into its kind and checks that its
// version is one this code implements.
func parseFormatName(s string) (Kind, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] != "airlock" {
		return "", &UnsupportedVersionError{Format: s}
	}
	k := Kind(parts[1])
	switch k {
	case KindRequest, KindResponse, KindDeactivation, KindRevocations:
	default:
		return "", &UnsupportedVersionError{Format: s}
	}
	if s != formatName(k) && s != revocationsV1 {
		return k, &UnsupportedVersionError{Format: s}
	}
	return k, nil
}

// revocationsV1 is the earlier format of revocation lists, which readers
// still accept (a host may hold one, and a desk may not be updated yet);
// writers write version 2.
const revocationsV1 = "airlock/revocations/1"

// plainRevocationsV1 is the payload of a version 1 list.
type plainRevocationsV1 struct {
	Serial  uint64 `json:"serial"`
	Issued  Time   `json:"issued"`
	Revoked []struct {
		LicenseID ID     `json:"license_id"`
		Reason    string `json:"reason,omitempty"`
	} `json:"revoked"`
}

// decodeRevocationsV1 reads a version 1 list into the current form: its
// ids sorted (version 1 did not order them), its reasons checked and
// dropped.
func decodeRevocationsV1(b []byte) (Payload, error) {
	var v1 plainRevocationsV1
	if err := decodeChecked(b, &struct {
		Format string `json:"format"`
		*plainRevocationsV1
	}{plainRevocationsV1: &v1}); err != nil {
		return nil, err
	}
	if v1.Revoked == nil {
		return nil, fieldError("revoked", "is missing (an empty list is [])")
	}
	if len(v1.Revoked) > 1000 {
		return nil, fieldError("revoked", "lists more than 1000 licences (version 1)")
	}
	r := &Revocations{Serial: v1.Serial, Issued: v1.Issued, Revoked: make([]ID, 0, len(v1.Revoked))}
	for _, e := range v1.Revoked {
		if e.Reason != "" {
			if err := validText("revoked[].reason", e.Reason, MaxTextBytes); err != nil {
				return nil, err
			}
		}
		r.Revoked = append(r.Revoked, e.LicenseID)
	}
	slices.Sort(r.Revoked) // then Validate refuses repeats
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Licensee is who the licence is for, as the host admin typed it.
type Licensee struct {
	Name         string `json:"name"`
	Organization string `json:"organization"`
}

func (l Licensee) validate() error {
	if err := validText("licensee.name", l.Name, MaxTextBytes); err != nil {
		return err
	}
	return validText("licensee.organization", l.Organization, MaxTextBytes)
}

// Request asks the vendor for a licence for one host. It is signed by the
// host key that it carries in HostKey.
type Request struct {
	RequestID      ID          `json:"request_id"`
	Created        Time        `json:"created"`
	Product        string      `json:"product"`
	ProductVersion string      `json:"product_version"`
	ProductKey     string      `json:"product_key"`
	Licensee       Licensee    `json:"licensee"`
	Fingerprint    Fingerprint `json:"fingerprint"`
	// HostKey is the host's OpenPGP public key: standard Base64 of the
	// binary transferable public key (what this package writes) or the
	// ASCII-armored key.
	HostKey string `json:"host_key"`
}

// Response is the vendor's licence for one host, answering one request.
type Response struct {
	LicenseID     ID     `json:"license_id"`
	RequestID     ID     `json:"request_id"`
	RequestDigest Digest `json:"request_digest"`
	Issued        Time   `json:"issued"`
	Product       string `json:"product"`
	// Versions are the licensed major versions.
	Versions           []int          `json:"versions"`
	Licensee           Licensee       `json:"licensee"`
	HostKeyFingerprint KeyFingerprint `json:"host_key_fingerprint"`
	// Fingerprint is the request's fingerprint with Threshold set.
	Fingerprint Fingerprint `json:"fingerprint"`
	Features    []string    `json:"features"`
	Limits      Limits      `json:"limits"`
	// NotBefore and NotAfter bound the licence's validity; nil means
	// unbounded (NotAfter nil: perpetual).
	NotBefore *Time `json:"not_before,omitempty"`
	NotAfter  *Time `json:"not_after,omitempty"`
}

// Limits are the numeric limits of a licence.
type Limits struct {
	// Clients is how many clients may connect to the licensed server at once.
	Clients int `json:"clients"`
}

// Deactivation is the host's signed receipt that it removed a licence.
type Deactivation struct {
	LicenseID          ID             `json:"license_id"`
	RequestID          ID             `json:"request_id"`
	HostKeyFingerprint KeyFingerprint `json:"host_key_fingerprint"`
	Deactivated        Time           `json:"deactivated"`
}

// Revocations is the vendor's list of revoked licences. Serial only grows:
// a host applies a list with a higher serial than the one it holds.
// Revoked holds licence ids in ascending order, each once; why each was
// revoked stays in the vendor's ledger.
type Revocations struct {
	Serial  uint64 `json:"serial"`
	Issued  Time   `json:"issued"`
	Revoked []ID   `json:"revoked"`
}

// Kind implements [Payload].
func (*Request) Kind() Kind { return KindRequest }

// Kind implements [Payload].
func (*Response) Kind() Kind { return KindResponse }

// Kind implements [Payload].
func (*Deactivation) Kind() Kind { return KindDeactivation }

// Kind implements [Payload].
func (*Revocations) Kind() Kind { return KindRevocations }

// The wire form puts "format" first. Each MarshalJSON embeds the payload in
// a struct whose first field is Format; the plain types drop the methods so
// that encoding does not recurse.
type (
	plainRequest      Request
	plainResponse     Response
	plainDeactivation Deactivation
	plainRevocations  Revocations
)

// MarshalJSON implements [json.Marshaler], writing "format" first.
func (r *Request) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Format string `json:"format"`
		*plainRequest
	}{formatName(KindRequest), (*plainRequest)(r)})
}

// MarshalJSON implements [json.Marshaler], writing "format" first.
func (r *Response) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Format string `json:"format"`
		*plainResponse
	}{formatName(KindResponse), (*plainResponse)(r)})
}

// MarshalJSON implements [json.Marshaler], writing "format" first.
func (d *Deactivation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Format string `json:"format"`
		*plainDeactivation
	}{formatName(KindDeactivation), (*plainDeactivation)(d)})
}

// MarshalJSON implements [json.Marshaler], writing "format" first.
func (r *Revocations) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Format string `json:"format"`
		*plainRevocations
	}{formatName(KindRevocations), (*plainRevocations)(r)})
}

// EncodePayload validates p and returns its canonical JSON: the bytes that
// a signer signs.
func EncodePayload(p Payload) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", p.Kind(), err)
	}
	return json.Marshal(p)
}

// DecodePayload parses signed payload bytes strictly and validates them.
// It returns the payload of whatever kind the "format" field names; callers
// check the kind (as [Verify] does). Most callers want [Verify] instead,
// which decodes only after the signature holds.
func DecodePayload(b []byte) (Payload, error) {
	if len(b) > MaxArtifactSize {
		return nil, errorf(ErrTooLarge, "payload is %d bytes, at most %d allowed", len(b), MaxArtifactSize)
	}
	kind, err := peekKind(b)
	if err != nil {
		return nil, err
	}
	return decodeKind(b, kind)
}

// decodeKind decodes a payload that [checkJSON] accepted and whose format
// names kind.
func decodeKind(b []byte, kind Kind) (Payload, error) {
	if kind == KindRevocations && bytes.HasPrefix(b, []byte(`{"format":"`+revocationsV1+`"`)) {
		return decodeRevocationsV1(b)
	}
	var p Payload
	var into any
	switch kind {
	case KindRequest:
		v := new(Request)
		p, into = v, &struct {
			Format string `json:"format"`
			*plainRequest
		}{plainRequest: (*plainRequest)(v)}
	case KindResponse:
		v := new(Response)
		p, into = v, &struct {
			Format string `json:"format"`
			*plainResponse
		}{plainResponse: (*plainResponse)(v)}
	case KindDeactivation:
		v := new(Deactivation)
		p, into = v, &struct {
			Format string `json:"format"`
			*plainDeactivation
		}{plainDeactivation: (*plainDeactivation)(v)}
	case KindRevocations:
		v := new(Revocations)
		p, into = v, &struct {
			Format string `json:"format"`
			*plainRevocations
		}{plainRevocations: (*plainRevocations)(v)}
	}
	if err := decodeChecked(b, into); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate implements [Payload].
func (r *Request) Validate() error {
	if !r.RequestID.Valid() {
		return fieldError("request_id", "is not 26 characters of Base32")
	}
	if r.Created.IsZero() {
		return fieldError("created", "is missing")
	}
	if !ValidProduct(r.Product) {
		return fieldError("product", "is missing or not a product identifier")
	}
	if _, err := MajorVersion(r.ProductVersion); err != nil {
		return fieldError("product_version", "is missing or not a version such as 9.1.0")
	}
	if k, err := ParseProductKey(r.ProductKey); err != nil || k.String() != r.ProductKey {
		return fieldError("product_key", "is missing or not a valid product key in canonical form")
	}
	if err := r.Licensee.validate(); err != nil {
		return err
	}
	if err := r.Fingerprint.validate(false); err != nil {
		return err
	}
	if r.HostKey == "" {
		return fieldError("host_key", "is missing")
	}
	if _, err := r.PublicKey(); err != nil {
		return err
	}
	return nil
}

// PublicKey parses the request's host key.
func (r *Request) PublicKey() (*PublicKey, error) {
	if len(r.HostKey) > maxHostKeyEncoded {
		return nil, fieldError("host_key", fmt.Sprintf("is longer than %d characters", maxHostKeyEncoded))
	}
	k, err := parseHostKey(r.HostKey)
	if err != nil {
		return nil, fieldError("host_key", "is not a usable public key: "+err.Error())
	}
	return k, nil
}

// Validate implements [Payload].
func (r *Response) Validate() error {
	switch {
	case !r.LicenseID.Valid():
		return fieldError("license_id", "is not 26 characters of Base32")
	case !r.RequestID.Valid():
		return fieldError("request_id", "is not 26 characters of Base32")
	case r.RequestDigest == Digest{}:
		return fieldError("request_digest", "is missing")
	case r.Issued.IsZero():
		return fieldError("issued", "is missing")
	case !ValidProduct(r.Product):
		return fieldError("product", "is missing or not a product identifier")
	case len(r.Versions) == 0 || len(r.Versions) > MaxVersions:
		return fieldError("versions", fmt.Sprintf("must list 1 to %d major versions", MaxVersions))
	case !r.HostKeyFingerprint.Valid():
		return fieldError("host_key_fingerprint", "is not a key fingerprint in uppercase hexadecimal")
	case r.Features == nil:
		return fieldError("features", "is missing (no features is [])")
	case len(r.Features) > MaxFeatures:
		return fieldError("features", fmt.Sprintf("lists more than %d features", MaxFeatures))
	case r.Limits.Clients < 1 || r.Limits.Clients > MaxClients:
		return fieldError("limits.clients", fmt.Sprintf("must be 1 to %d", MaxClients))
	}
	seenVersion := map[int]bool{}
	for _, v := range r.Versions {
		if v < 0 || v > MaxMajorVersion {
			return fieldError("versions", fmt.Sprintf("has %d, out of range", v))
		}
		if seenVersion[v] {
			return fieldError("versions", fmt.Sprintf("lists %d twice", v))
		}
		seenVersion[v] = true
	}
	seenFeature := map[string]bool{}
	for _, f := range r.Features {
		if !ValidFeature(f) {
			return fieldError("features", fmt.Sprintf("has %q, not a feature name", f))
		}
		if seenFeature[f] {
			return fieldError("features", fmt.Sprintf("lists %q twice", f))
		}
		seenFeature[f] = true
	}
	if err := r.Licensee.validate(); err != nil {
		return err
	}
	if err := r.Fingerprint.validate(true); err != nil {
		return err
	}
	if r.NotBefore != nil && r.NotBefore.IsZero() || r.NotAfter != nil && r.NotAfter.IsZero() {
		return fieldError("not_before", "or not_after is empty")
	}
	if r.NotBefore != nil && r.NotAfter != nil && !r.NotAfter.After(r.NotBefore.Time) {
		return fieldError("not_after", "is not after not_before")
	}
	return nil
}

// Licenses reports whether the response licenses major version major.
func (r *Response) Licenses(major int) bool {
	for _, v := range r.Versions {
		if v == major {
			return true
		}
	}
	return false
}

// Validate implements [Payload].
func (d *Deactivation) Validate() error {
	switch {
	case !d.LicenseID.Valid():
		return fieldError("license_id", "is not 26 characters of Base32")
	case !d.RequestID.Valid():
		return fieldError("request_id", "is not 26 characters of Base32")
	case !d.HostKeyFingerprint.Valid():
		return fieldError("host_key_fingerprint", "is not a key fingerprint in uppercase hexadecimal")
	case d.Deactivated.IsZero():
		return fieldError("deactivated", "is missing")
	}
	return nil
}

// Validate implements [Payload].
func (r *Revocations) Validate() error {
	switch {
	case r.Serial == 0:
		return fieldError("serial", "must be 1 or more")
	case r.Issued.IsZero():
		return fieldError("issued", "is missing")
	case r.Revoked == nil:
		return fieldError("revoked", "is missing (an empty list is [])")
	case len(r.Revoked) > MaxRevoked:
		return fieldError("revoked", fmt.Sprintf("lists more than %d licences", MaxRevoked))
	}
	for i, id := range r.Revoked {
		if !id.Valid() {
			return fieldError("revoked[]", "is not 26 characters of Base32")
		}
		if i > 0 && id <= r.Revoked[i-1] {
			return fieldError("revoked", fmt.Sprintf("is not in ascending order without repeats at %s", id))
		}
	}
	return nil
}

// Contains reports whether the list revokes id.
func (r *Revocations) Contains(id ID) bool {
	_, found := slices.BinarySearch(r.Revoked, id)
	return found
}
