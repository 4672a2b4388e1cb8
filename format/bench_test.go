package format

import (
	"crypto/ed25519"
	"testing"
)

// Benchmarks for the signing and verification paths. The target (checked
// by `make bench`, which prints the ratio) is that verifying a response
// costs at most about twice a raw Ed25519 verification of the same bytes.

func benchResponse(b *testing.B) (*fixtures, *Response, []byte) {
	f := loadFixtures(b, false)
	r := newDetRand("bench")
	req := sampleRequest(f, r)
	resp := sampleResponse(f, req, Digest{1}, r)
	msg, err := Sign(f.sec["vendor"], resp, vecSignTime)
	if err != nil {
		b.Fatal(err)
	}
	return f, resp, msg
}

// BenchmarkSignResponse measures Sign: encoding, signing, and the check
// of the signer's output that Sign always makes.
func BenchmarkSignResponse(b *testing.B) {
	f, resp, _ := benchResponse(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(f.sec["vendor"], resp, vecSignTime); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignMessage measures the signature alone.
func BenchmarkSignMessage(b *testing.B) {
	f, resp, _ := benchResponse(b)
	payload, _ := EncodePayload(resp)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.sec["vendor"].SignMessage(payload, vecSignTime); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyResponse measures Verify of a binary response with every
// rule applied and the payload decoded.
func BenchmarkVerifyResponse(b *testing.B) {
	f, _, msg := benchResponse(b)
	opts := VerifyOptions{Keys: NewKeySet(f.pub["vendor"]), Kinds: []Kind{KindResponse}, Now: vecNow}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(msg, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRawEd25519 is the baseline: crypto/ed25519 verifying a
// signature over the same payload bytes, with nothing else.
func BenchmarkVerifyRawEd25519(b *testing.B) {
	_, resp, _ := benchResponse(b)
	payload, _ := EncodePayload(resp)
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(priv, payload)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, payload, sig) {
			b.Fatal("raw verification failed")
		}
	}
}
