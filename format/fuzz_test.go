package format

import (
	"bytes"
	"errors"
	"testing"
)

// The fuzz targets' seed corpora come from the committed test vectors;
// readVectors fails the target if they are missing, so a target can never
// silently run without seeds. `make test` runs the seeds; `make fuzz` runs
// each target for a while.

// sentinels lists every sentinel a parser may return.
var sentinels = []error{
	ErrMalformed, ErrTooLarge, ErrPacketSequence, ErrUnsigned, ErrUnknownSigner,
	ErrBadSignature, ErrWeakHash, ErrWeakKey, ErrKeyExpired, ErrKeyRevoked,
	ErrSignatureExpired, ErrClockBehind, ErrWrongKind, ErrUnsupportedVersion,
}

func matchesOneSentinel(t *testing.T, err error) {
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q matches %d sentinels, want exactly 1", err, n)
	}
}

func FuzzVerify(f *testing.F) {
	fx := loadFixtures(f, false)
	for _, v := range readVectors(f) {
		f.Add(v.input)
	}
	keys := NewKeySet(fx.pub["vendor"], fx.pub["host"])
	all := []Kind{KindRequest, KindResponse, KindDeactivation, KindRevocations}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := Verify(in, VerifyOptions{Keys: keys, Kinds: all, Now: vecNow})
		if err != nil {
			matchesOneSentinel(t, err)
			return
		}
		// Whatever verifies must verify again from its binary form, with
		// the same payload, and its payload must re-validate.
		b, err := Verify(a.Binary, VerifyOptions{Keys: keys, Kinds: all, Now: vecNow})
		if err != nil || !bytes.Equal(a.Signed, b.Signed) || a.Digest != b.Digest {
			t.Fatalf("accepted once, not twice: %v", err)
		}
		if err := a.Payload.Validate(); err != nil {
			t.Fatalf("accepted an invalid payload: %v", err)
		}
	})
}

func FuzzVerifyRequest(f *testing.F) {
	for _, v := range readVectors(f) {
		f.Add(v.input)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		_, r, err := VerifyRequest(in, vecNow)
		if err != nil {
			matchesOneSentinel(t, err)
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid request: %v", err)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	for _, v := range readVectors(f) {
		if a, err := DecodeUnverified(v.input); err == nil {
			f.Add(a.Signed)
		}
	}
	f.Add([]byte(`{"format":"airlock/revocations/1","serial":1,"issued":"2026-01-01T00:00:00Z","revoked":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodePayload(in)
		if err != nil {
			matchesOneSentinel(t, err)
			return
		}
		// A decoded payload re-encodes to something that decodes to the
		// same re-encoding: one meaning, one canonical form.
		enc, err := EncodePayload(p)
		if err != nil {
			t.Fatalf("decoded payload does not encode: %v", err)
		}
		p2, err := DecodePayload(enc)
		if err != nil {
			t.Fatalf("canonical form does not decode: %v", err)
		}
		enc2, _ := EncodePayload(p2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable:\n%s\n%s", enc, enc2)
		}
	})
}

func FuzzDecodeQRText(f *testing.F) {
	for _, v := range readVectors(f) {
		if v.header["input"] == "qr" {
			f.Add(string(v.input))
		}
	}
	f.Add(QRPrefix + "BB8")
	f.Add(QRPrefix)
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeQRText(s)
		if err != nil {
			matchesOneSentinel(t, err)
			return
		}
		if len(b) > MaxArtifactSize {
			t.Fatalf("inflated to %d bytes", len(b))
		}
		back, err := DecodeQRText(EncodeQRText(b))
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseProductKey(f *testing.F) {
	r := newDetRand("fuzz-product-key")
	for i := 0; i < 4; i++ {
		k, _ := NewProductKey(r)
		f.Add(k.String())
	}
	f.Add("oooo0-iiiil-")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseProductKey(s)
		if err != nil {
			var pe *ProductKeyError
			if !errors.As(err, &pe) || pe.Group < 0 || pe.Group > 5 {
				t.Fatalf("error %v", err)
			}
			return
		}
		k2, err := ParseProductKey(k.String())
		if err != nil || k2 != k {
			t.Fatalf("canonical form %s does not parse back: %v", k, err)
		}
	})
}

func FuzzParseKeySet(f *testing.F) {
	fx := loadFixtures(f, false)
	f.Add(fx.pub["vendor"].Armor())
	f.Add(fx.pub["host"].Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		set, err := ParseKeySet(in)
		if err != nil {
			return
		}
		for _, k := range set.Keys() {
			if checkKeyAlgorithm(k.e.PrimaryKey) != nil {
				t.Fatalf("accepted a key with a refused algorithm: %s", k)
			}
		}
	})
}

// The fuzz seeds must cover at least one accepted artifact of every kind,
// or the targets would only exercise the refusal paths.
func TestFuzzSeedsCoverEveryKind(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range readVectors(t) {
		if v.header["expect"] == "ok" {
			seen[v.header["kind"]] = true
		}
	}
	for _, k := range []Kind{KindRequest, KindResponse, KindDeactivation, KindRevocations} {
		if !seen[string(k)] {
			t.Errorf("no valid %s among the vectors", k)
		}
	}
}
