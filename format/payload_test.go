package format

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func samplePayloads(t *testing.T) (*Request, *Response, *Deactivation, *Revocations) {
	f := loadFixtures(t, false)
	r := newDetRand("payload-test")
	req := sampleRequest(f, r)
	resp := sampleResponse(f, req, sha256.Sum256([]byte("x")), r)
	nb, na := NewTime(vecKeyTime), NewTime(vecKeyTime.AddDate(1, 0, 0))
	resp.NotBefore, resp.NotAfter = &nb, &na
	d := &Deactivation{LicenseID: resp.LicenseID, RequestID: req.RequestID, HostKeyFingerprint: resp.HostKeyFingerprint, Deactivated: NewTime(vecNow)}
	rv := &Revocations{Serial: 1, Issued: NewTime(vecNow), Revoked: []ID{}}
	return req, resp, d, rv
}

func TestPayloadRoundTrip(t *testing.T) {
	req, resp, d, rv := samplePayloads(t)
	for _, p := range []Payload{req, resp, d, rv} {
		b, err := EncodePayload(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(`{"format":"`+formatName(p.Kind())+`",`)) {
			t.Fatalf("format is not first: %s", b)
		}
		got, err := DecodePayload(b)
		if err != nil {
			t.Fatalf("%s: %v", p.Kind(), err)
		}
		again, _ := EncodePayload(got)
		if !bytes.Equal(again, b) {
			t.Fatalf("%s does not round-trip:\n%s\n%s", p.Kind(), b, again)
		}
	}
}

// TestPayloadStrict edits a valid response payload and checks that each
// edit is refused with an error that names the problem.
func TestPayloadStrict(t *testing.T) {
	_, resp, _, _ := samplePayloads(t)
	good, _ := EncodePayload(resp)
	s := string(good)
	edit := func(old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("edit target %q not found in %s", old, s)
		}
		return strings.Replace(s, old, new, 1)
	}
	cases := []struct {
		name, payload, want string
		err                 error
	}{
		{"unknown field", edit(`"limits":`, `"bonus":1,"limits":`), `unknown field "bonus"`, ErrMalformed},
		{"unknown nested field", edit(`{"clients":2}`, `{"clients":2,"cpus":64}`), `unknown field "cpus"`, ErrMalformed},
		{"duplicate top-level", edit(`"limits":`, `"product":"astera","limits":`), `"product" appears twice`, ErrMalformed},
		{"duplicate nested", edit(`{"clients":2}`, `{"clients":2,"clients":99}`), `"limits.clients" appears twice`, ErrMalformed},
		{"case variant", edit(`"limits":`, `"Limits":`), `"Limits" is not a valid field name`, ErrMalformed},
		{"unicode fold (Kelvin sign)", edit(`"limits":`, "\"\u212aimits\":"), `is not a valid field name`, ErrMalformed},
		{"escaped name", edit(`"limits":`, `"\u006cimits":`), `names are written literally`, ErrMalformed},
		{"bad escape", edit(`"Ada Admin"`, `"Ada \x41dmin"`), `bad escape`, ErrMalformed},
		{"leading zero", edit(`"clients":2`, `"clients":02`), `payload JSON`, ErrMalformed},
		{"unterminated", s[:len(s)-3], `payload JSON`, ErrMalformed},
		{"null", edit(`"limits":{"clients":2}`, `"limits":null`), `"limits" is null`, ErrMalformed},
		{"float for int", edit(`"clients":2`, `"clients":2.5`), `limits.clients`, ErrMalformed},
		{"huge int", edit(`"clients":2`, `"clients":99999999999999999999999`), `limits.clients`, ErrMalformed},
		{"out of range", edit(`"clients":2`, `"clients":0`), `limits.clients`, ErrMalformed},
		{"negative version", edit(`"versions":[9]`, `"versions":[-1]`), `versions`, ErrMalformed},
		{"duplicate feature", edit(`"features":["dataflow","workflow"]`, `"features":["dataflow","dataflow"]`), `twice`, ErrMalformed},
		{"bad feature", edit(`"features":["dataflow"`, `"features":["Data Flow"`), `features`, ErrMalformed},
		{"missing field", edit(`"product":"astera",`, ``), `"product"`, ErrMalformed},
		{"time with offset", edit(`"issued":"2026-05-31T12:00:00Z"`, `"issued":"2026-05-31T14:00:00+02:00"`), `RFC 3339 UTC`, ErrMalformed},
		{"time with fraction", edit(`"issued":"2026-05-31T12:00:00Z"`, `"issued":"2026-05-31T12:00:00.5Z"`), `RFC 3339 UTC`, ErrMalformed},
		{"not_after before not_before", edit(`"not_after":"2027-01-01T00:00:00Z"`, `"not_after":"2025-01-01T00:00:00Z"`), `not_after`, ErrMalformed},
		{"format not first", `{"product":"astera",` + strings.TrimPrefix(s, "{"), `first field must be "format"`, ErrMalformed},
		{"unknown version", edit(`airlock/response/1`, `airlock/response/7`), `"airlock/response/7" is not supported`, ErrUnsupportedVersion},
		{"unknown kind", edit(`airlock/response/1`, `airlock/coupon/1`), `"airlock/coupon/1"`, ErrUnsupportedVersion},
		{"trailing data", s + `{}`, `after the JSON object`, ErrMalformed},
		{"invalid UTF-8", edit(`"Ada Admin"`, "\"Ada \xff\""), `UTF-8`, ErrMalformed},
		{"control character", edit(`"Ada Admin"`, `"Ada\u0007Admin"`), `control character`, ErrMalformed},
		{"bidi override", edit(`"Ada Admin"`, `"Ada\u202eAdmin"`), `text-direction`, ErrMalformed},
		{"type names the field", edit(`"clients":2`, `"clients":"2"`), `field "limits.clients": want int`, ErrMalformed},
		{"array top level", `[` + s + `]`, `not a JSON object`, ErrMalformed},
		{"deep nesting", edit(`{"clients":2}`, `{"clients":{"a":{"b":{"c":1}}}}`), `nests deeper`, ErrMalformed},
		{"threshold too low", edit(`"threshold":2`, `"threshold":1`), `threshold`, ErrMalformed},
		{"bad digest", edit(`"request_digest":"`, `"request_digest":"X`), `request_digest`, ErrMalformed},
	}
	for _, c := range cases {
		_, err := DecodePayload([]byte(c.payload))
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v; want %v containing %q", c.name, err, c.err, c.want)
		}
	}
}

func TestPayloadValidateOnEncode(t *testing.T) {
	req, resp, d, rv := samplePayloads(t)
	req.ProductKey = "not-a-key"
	resp.Features = append(resp.Features, resp.Features[0])
	d.HostKeyFingerprint = "abc"
	rv.Revoked = nil
	for _, p := range []Payload{req, resp, d, rv} {
		if _, err := EncodePayload(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: encoded an invalid payload: %v", p.Kind(), err)
		}
	}
}

func TestMajorVersion(t *testing.T) {
	for v, want := range map[string]int{"9": 9, "9.1.0": 9, "10.0.0-rc.1": 10, "7.2.3.4": 7, "2024.1": 2024} {
		if got, err := MajorVersion(v); err != nil || got != want {
			t.Errorf("MajorVersion(%q) = %d, %v", v, got, err)
		}
	}
	for _, v := range []string{"", "v9", "9.", "9.1.0.0.0", "1234567.0", " 9"} {
		if _, err := MajorVersion(v); err == nil {
			t.Errorf("MajorVersion(%q) accepted", v)
		}
	}
}

func TestTimeEncoding(t *testing.T) {
	tm := NewTime(time.Date(2026, 11, 29, 10, 0, 0, 999, time.FixedZone("x", 3600)))
	if tm.String() != "2026-11-29T09:00:00Z" {
		t.Errorf("NewTime: %s", tm)
	}
	if _, err := (Time{}).MarshalJSON(); err == nil {
		t.Error("zero time encoded")
	}
}

// TestRevocationsAtMaximum: a list of MaxRevoked ids signs and verifies
// within the artifact bound with the Ed25519 and the RSA-3072 fixture keys,
// with room left for the signature of an RSA key of 16384 bits; one more id
// is refused.
func TestRevocationsAtMaximum(t *testing.T) {
	ids := make([]ID, MaxRevoked)
	for i := range ids {
		var b [16]byte
		b[0], b[1] = byte(i>>8), byte(i)
		ids[i] = ID(idEncoding.EncodeToString(b[:]))
	}
	slices.Sort(ids)
	list := &Revocations{Serial: 1<<63 - 1, Issued: NewTime(vecNow), Revoked: ids}
	rsa, err := newPrivateKey(rsaFixture(t, 3072), newDetRand("rsa"))
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*PrivateKey{"ed25519": loadFixtures(t, false).sec["vendor"], "rsa3072": rsa} {
		msg, err := Sign(k, list, vecNow)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		room := 0
		if name == "rsa3072" {
			room = (16384 - 3072) / 8 // a bigger modulus, a bigger signature
		}
		if len(msg)+room > MaxArtifactSize {
			t.Fatalf("%s: %d bytes (+%d for RSA-16384), over the %d bound", name, len(msg), room, MaxArtifactSize)
		}
		if _, err := Verify(msg, VerifyOptions{Keys: NewKeySet(k.Public()), Kinds: []Kind{KindRevocations}, Now: vecNow}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if armored := Armor(msg, KindRevocations); len(armored) > MaxEncodedSize {
			t.Fatalf("%s: armored %d bytes", name, len(armored))
		}
		t.Logf("%s: %d ids, %d bytes binary", name, len(ids), len(msg))
	}
	var b [16]byte
	b[0] = 0xff
	list.Revoked = append(list.Revoked, ID(idEncoding.EncodeToString(b[:])))
	if err := list.Validate(); err == nil || !strings.Contains(err.Error(), "more than 2000") {
		t.Fatalf("one id too many: %v", err)
	}
}
