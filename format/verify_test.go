package format

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

func vendorOpts(f *fixtures, now time.Time, kinds ...Kind) VerifyOptions {
	return VerifyOptions{Keys: NewKeySet(f.pub["vendor"]), Kinds: kinds, Now: now}
}

func TestVerifySkew(t *testing.T) {
	f := loadFixtures(t, false)
	_, resp, _, _ := samplePayloads(t)
	for _, c := range []struct {
		ahead time.Duration
		ok    bool
	}{{0, true}, {4 * time.Minute, true}, {DefaultSkew, true}, {DefaultSkew + time.Second, false}, {6 * time.Hour, false}} {
		msg, err := Sign(f.sec["vendor"], resp, vecNow.Add(c.ahead))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Verify(msg, vendorOpts(f, vecNow, KindResponse))
		var cb *ClockBehindError
		if c.ok != (err == nil) || !c.ok && (!errors.As(err, &cb) || cb.By != c.ahead) {
			t.Errorf("signed %v ahead: %v", c.ahead, err)
		}
		if !c.ok && !strings.Contains(err.Error(), "clock") {
			t.Errorf("message does not mention the clock: %v", err)
		}
	}
	// A custom skew.
	msg, _ := Sign(f.sec["vendor"], resp, vecNow.Add(time.Hour))
	o := vendorOpts(f, vecNow, KindResponse)
	o.Skew = 2 * time.Hour
	if _, err := Verify(msg, o); err != nil {
		t.Errorf("custom skew: %v", err)
	}
}

func TestVerifyArtifactFields(t *testing.T) {
	f := loadFixtures(t, false)
	req, resp, _, _ := samplePayloads(t)
	reqMsg, err := Sign(f.sec["host"], req, vecSignTime)
	if err != nil {
		t.Fatal(err)
	}
	a, r, err := VerifyRequest(Armor(reqMsg, KindRequest), vecNow)
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != sha256.Sum256(a.Signed) || r.RequestID != req.RequestID || a.Encoding != Armored || !a.SignedAt.Equal(vecSignTime) {
		t.Fatalf("artifact: %+v", a)
	}
	if !bytes.Equal(a.Binary, reqMsg) || a.Signer.Fingerprint() != f.pub["host"].Fingerprint() {
		t.Fatal("binary or signer")
	}
	// Several kinds accepted at once: the kind is taken from the payload.
	msg, _ := Sign(f.sec["vendor"], resp, vecSignTime)
	a, err = Verify([]byte(EncodeQRText(msg)), vendorOpts(f, vecNow, KindRevocations, KindResponse))
	if err != nil || a.Kind != KindResponse || a.Encoding != QRText {
		t.Fatalf("kinds: %v %v", a, err)
	}
	var wk *WrongKindError
	_, err = Verify(msg, vendorOpts(f, vecNow, KindRevocations, KindDeactivation))
	if !errors.As(err, &wk) || wk.Got != KindResponse || err.Error() != "this is a response, not a revocations or deactivation" {
		t.Fatalf("wrong kind: %v", err)
	}
}

func TestVerifyRequiresOptions(t *testing.T) {
	f := loadFixtures(t, false)
	for _, o := range []VerifyOptions{
		{Kinds: []Kind{KindResponse}, Now: vecNow},
		{Keys: NewKeySet(f.pub["vendor"]), Now: vecNow},
		{Keys: NewKeySet(f.pub["vendor"]), Kinds: []Kind{KindResponse}},
	} {
		if _, err := Verify([]byte("x"), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// compressingSigner is a Signer that compresses, as gpg does by default.
type compressingSigner struct{ *PrivateKey }

func (s compressingSigner) SignMessage(p []byte, now time.Time) ([]byte, error) {
	m, err := s.PrivateKey.SignMessage(p, now)
	if err != nil {
		return nil, err
	}
	return compressed(nil, m), nil
}

func TestSignChecksSignerOutput(t *testing.T) {
	f := loadFixtures(t, false)
	req, resp, _, _ := samplePayloads(t)
	if _, err := Sign(compressingSigner{f.sec["vendor"]}, resp, vecNow); !errors.Is(err, ErrPacketSequence) {
		t.Errorf("compressed output: %v", err)
	}
	if _, err := Sign(f.sec["vendor"], req, vecNow); err == nil || !strings.Contains(err.Error(), "own host key") {
		t.Errorf("request signed by another key: %v", err)
	}
	resp.Limits.Clients = 0
	if _, err := Sign(f.sec["vendor"], resp, vecNow); !errors.Is(err, ErrMalformed) {
		t.Errorf("invalid payload signed: %v", err)
	}
}

func TestDecodeUnverified(t *testing.T) {
	f := loadFixtures(t, false)
	_, _, d, _ := samplePayloads(t)
	msg, _ := Sign(f.sec["other"], d, vecSignTime) // not the host key: unverified still decodes
	a, err := DecodeUnverified(msg)
	if err != nil || a.Kind != KindDeactivation || a.Signer != nil {
		t.Fatalf("%+v %v", a, err)
	}
	tampered := bytes.Replace(msg, []byte("deactivated"), []byte("Deactivated"), 1)
	if _, err := DecodeUnverified(tampered); !errors.Is(err, ErrMalformed) {
		t.Fatalf("tampered: %v", err)
	}
}

// TestVerifyEveryBitFlip flips every bit of a signed response and checks
// that each copy is refused: no single-bit change of a valid artifact
// verifies, and none panics.
func TestVerifyEveryBitFlip(t *testing.T) {
	f := loadFixtures(t, false)
	_, resp, _, _ := samplePayloads(t)
	msg, _ := Sign(f.sec["vendor"], resp, vecSignTime)
	o := vendorOpts(f, vecNow, KindResponse)
	buf := make([]byte, len(msg))
	for i := 0; i < len(msg)*8; i++ {
		copy(buf, msg)
		buf[i/8] ^= 1 << (i % 8)
		if _, err := Verify(buf, o); err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		}
	}
	for n := 0; n < len(msg); n++ {
		if _, err := Verify(msg[:n], o); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

// expiringSigner signs with a signature lifetime, as gpg does with
// default-sig-expire.
type expiringSigner struct{ *PrivateKey }

func (s expiringSigner) SignMessage(p []byte, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	cfg := &packet.Config{DefaultHash: crypto.SHA512, Time: func() time.Time { return now }, SigLifetimeSecs: 86400}
	w, err := openpgp.SignWithParams(&b, []*openpgp.Entity{s.e}, &openpgp.SignParams{Config: cfg})
	if err != nil {
		return nil, err
	}
	w.Write(p)
	w.Close()
	return b.Bytes(), nil
}

// Sign refuses what would expire on its own: a signature with a lifetime,
// or a key with one.
func TestSignRefusesExpiry(t *testing.T) {
	f := loadFixtures(t, false)
	rv := &Revocations{Serial: 1, Issued: NewTime(vecKeyTime.Add(time.Hour)), Revoked: []ID{}}
	if _, err := Sign(expiringSigner{f.sec["vendor"]}, rv, vecKeyTime.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "expiry on the signature") {
		t.Errorf("signature lifetime: %v", err)
	}
	if _, err := Sign(f.sec["expiring"], rv, vecKeyTime.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "signing key expires on 2026-01-31") {
		t.Errorf("expiring key: %v", err)
	}
}
