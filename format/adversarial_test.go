package format

import (
	"bytes"
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Cases found in review: each is a message that a lax verifier accepts, or
// reports with the wrong error.

func revocationsPayload(t *testing.T) []byte {
	return mustJSON(t, &Revocations{Serial: 1, Issued: NewTime(vecSignTime), Revoked: []ID{}})
}

func revOpts(k *PublicKey, now time.Time) VerifyOptions {
	return VerifyOptions{Keys: NewKeySet(k), Kinds: []Kind{KindRevocations}, Now: now}
}

// subkeySigner returns a key whose signing is done by a signing subkey.
func subkeySigner(t *testing.T, lifetime uint32) *PrivateKey {
	k, err := GenerateKey(KeyOptions{Name: "subkey signer", Now: vecKeyTime, Rand: newDetRand("sub")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &packet.Config{Time: func() time.Time { return vecKeyTime }, DefaultHash: crypto.SHA512, KeyLifetimeSecs: lifetime, Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}
	if err := k.e.AddSigningSubkey(cfg); err != nil {
		t.Fatal(err)
	}
	k2, err := newPrivateKey(k.e, newDetRand("sub"))
	if err != nil {
		t.Fatal(err)
	}
	return k2
}

func TestWeakSubkey(t *testing.T) {
	k, _ := GenerateKey(KeyOptions{Name: "weak subkey", Now: vecKeyTime})
	later := vecKeyTime.Add(time.Hour) // the newest signing key signs
	cfg := &packet.Config{Time: func() time.Time { return later }, Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024}
	if err := k.e.AddSigningSubkey(cfg); err != nil {
		t.Fatal(err)
	}
	k2, _ := newPrivateKey(k.e, nil)
	msg := craftWithSubkey(t, k2, revocationsPayload(t), vecSignTime)
	if _, err := Verify(msg, revOpts(k2.Public(), vecNow)); !errors.Is(err, ErrWeakKey) {
		t.Errorf("RSA-1024 signing subkey: %v", err)
	}
}

func TestSubkeySignatures(t *testing.T) {
	k := subkeySigner(t, 0)
	payload := revocationsPayload(t)
	msg := signAt(t, k, payload, vecSignTime)
	if _, err := Verify(msg, revOpts(k.Public(), vecNow)); err != nil {
		t.Fatalf("signing subkey: %v", err)
	}

	// The same subkey, revoked after it signed.
	revoked := subkeySigner(t, 0)
	msg = signAt(t, revoked, payload, vecSignTime)
	at := vecSignTime.Add(time.Hour)
	cfg := &packet.Config{Time: func() time.Time { return at }, DefaultHash: crypto.SHA512}
	if err := revoked.e.Subkeys[0].Revoke(packet.KeyCompromised, "lost", cfg); err != nil {
		t.Fatal(err)
	}
	pub, _ := newPrivateKey(revoked.e, nil)
	if _, err := Verify(msg, revOpts(pub.Public(), vecNow)); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("revoked subkey: %v", err)
	}

	// A subkey that had expired when it signed.
	short := subkeySigner(t, 3600)
	msg = craftWithSubkey(t, short, payload, vecKeyTime.Add(2*time.Hour))
	if _, err := Verify(msg, revOpts(short.Public(), vecNow)); !errors.Is(err, ErrKeyExpired) {
		t.Errorf("expired subkey: %v", err)
	}
}

// craftWithSubkey signs with the first subkey regardless of its validity.
func craftWithSubkey(t *testing.T, k *PrivateKey, payload []byte, at time.Time) []byte {
	sub := &PrivateKey{e: &openpgp.Entity{PrimaryKey: k.e.Subkeys[0].PublicKey, PrivateKey: k.e.Subkeys[0].PrivateKey}}
	return craft(t, sub, payload, at, crypto.SHA512, packet.SigTypeBinary, nil)
}

// A key created a minute after the trusted time signs within the skew:
// accepted, like any signature within the skew.
func TestNewKeyWithinSkew(t *testing.T) {
	created := vecNow.Add(time.Minute)
	k, err := GenerateKey(KeyOptions{Name: "fresh", Now: created})
	if err != nil {
		t.Fatal(err)
	}
	msg := signAt(t, k, revocationsPayload(t), created.Add(time.Second))
	if _, err := Verify(msg, revOpts(k.Public(), vecNow)); err != nil {
		t.Errorf("key and signature within the skew: %v", err)
	}
}

// A signature with a lifetime is judged at the trusted time, not at the
// trusted time plus the skew.
func TestSignatureLifetime(t *testing.T) {
	k := loadFixtures(t, false).sec["vendor"]
	payload := revocationsPayload(t)
	var b bytes.Buffer
	cfg := &packet.Config{DefaultHash: crypto.SHA512, Time: func() time.Time { return vecNow.Add(-12 * time.Hour) }, SigLifetimeSecs: 12*3600 + 120}
	w, err := openpgp.SignWithParams(&b, []*openpgp.Entity{k.e}, &openpgp.SignParams{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(payload)
	w.Close()
	if _, err := Verify(b.Bytes(), revOpts(k.Public(), vecNow)); err != nil {
		t.Errorf("signature valid for two more minutes: %v", err)
	}
	if _, err := Verify(b.Bytes(), revOpts(k.Public(), vecNow.Add(time.Hour))); !errors.Is(err, ErrSignatureExpired) {
		t.Errorf("signature expired an hour ago: %v", err)
	}
}

func TestManySignatures(t *testing.T) {
	f := loadFixtures(t, false)
	v := f.sec["vendor"].e
	var b bytes.Buffer
	cfg := &packet.Config{DefaultHash: crypto.SHA512, Time: func() time.Time { return vecSignTime }}
	w, _ := openpgp.SignWithParams(&b, []*openpgp.Entity{v, v, v, v}, &openpgp.SignParams{Config: cfg})
	w.Write(revocationsPayload(t))
	w.Close()
	if _, err := Verify(b.Bytes(), revOpts(f.pub["vendor"], vecNow)); !errors.Is(err, ErrPacketSequence) {
		t.Errorf("four signatures: %v", err)
	}
}

func TestArmorStrict(t *testing.T) {
	f := loadFixtures(t, false)
	msg := signAt(t, f.sec["vendor"], revocationsPayload(t), vecSignTime)
	other := signAt(t, f.sec["other"], revocationsPayload(t), vecSignTime)
	arm := string(Armor(msg, KindRevocations))
	armOther := string(Armor(other, KindRevocations))
	lines := strings.Split(strings.TrimSpace(arm), "\n")
	crcLine := len(lines) - 2
	badCRC := append([]string(nil), lines...)
	badCRC[crcLine] = "=AAAA"
	noCRC := append(append([]string(nil), lines[:crcLine]...), lines[crcLine+1:]...)
	skipped := strings.Replace(armOther, "Comment: airlock revocations", "garbage header", 1)
	cases := map[string]string{
		"two blocks":          arm + armOther,
		"skipped first block": skipped + arm,
		"text after END":      arm + "trailing words\n",
		"wrong CRC":           strings.Join(badCRC, "\n"),
		"no END line":         strings.Join(lines[:len(lines)-1], "\n"),
		"damaged BEGIN":       strings.Replace(arm, "BEGIN PGP MESSAGE", "BEGIN PGP MESSAGEX", 1),
		"broken header":       strings.Replace(arm, "Comment: airlock revocations", "Comment airlock", 1),
		"no blank line":       strings.Replace(arm, "Comment: airlock revocations\n\n", "Comment: airlock revocations\n", 1),
		"cut in the Base64":   arm[:len(arm)/2],
		"cut in the END line": arm[:len(arm)-8],
		"BOM before binary":   "\ufeff" + string(msg),
		"UTF-16":              "\xff\xfe-\x00-\x00",
	}
	for name, in := range cases {
		if _, err := Verify([]byte(in), revOpts(f.pub["vendor"], vecNow)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Still accepted: CRLF line ends, a byte-order mark, no checksum line,
	// no headers, surrounding whitespace.
	for name, in := range map[string]string{
		"CRLF":        strings.ReplaceAll(arm, "\n", "\r\n"),
		"BOM":         "\ufeff" + arm,
		"BOM, CRLF":   "\ufeff" + strings.ReplaceAll(arm, "\n", "\r\n"),
		"no checksum": strings.Join(noCRC, "\n"),
		"no headers":  strings.Replace(arm, "Comment: airlock revocations\n", "", 1),
		"whitespace":  "\n\n  " + arm + "\n\n",
	} {
		if _, err := Verify([]byte(in), revOpts(f.pub["vendor"], vecNow)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNonCanonicalFraming(t *testing.T) {
	f := loadFixtures(t, false)
	payload := revocationsPayload(t)
	msg := signAt(t, f.sec["vendor"], payload, vecSignTime)
	pkts, _, err := scanPackets(msg)
	if err != nil {
		t.Fatal(err)
	}
	// The OPS packet rewritten with a five-octet length.
	ops := pkts[0].data
	long := append([]byte{ops[0], 255, 0, 0, 0, byte(len(ops) - 2)}, ops[2:]...)
	if _, err := Verify(append(long, msg[len(ops):]...), revOpts(f.pub["vendor"], vecNow)); err == nil {
		t.Error("five-octet length for a 13-byte packet accepted")
	}
	// An unsigned notation added to the signature's unhashed area.
	sig := pkts[2].data
	body := append([]byte(nil), sig[headerLen(sig):]...)
	hashedLen := int(body[4])<<8 | int(body[5])
	u := 6 + hashedLen
	if body[u] != 0 || body[u+1] != 0 {
		t.Fatalf("expected an empty unhashed area")
	}
	extra := []byte{5, 0x65, 'a', 'b', 'c', 'd'}
	nb := append(append(append([]byte(nil), body[:u]...), 0, byte(len(extra))), extra...)
	nb = append(nb, body[u+2:]...)
	var p bytes.Buffer
	if len(nb) < 192 {
		p.Write([]byte{0xc2, byte(len(nb))})
	} else {
		n := len(nb) - 192
		p.Write([]byte{0xc2, byte(n>>8) + 192, byte(n)})
	}
	p.Write(nb)
	forged := append(append([]byte(nil), msg[:len(msg)-len(sig)]...), p.Bytes()...)
	if _, err := Verify(forged, revOpts(f.pub["vendor"], vecNow)); !errors.Is(err, ErrPacketSequence) {
		t.Errorf("unhashed subpacket: %v", err)
	}
}

func TestLiteralDate(t *testing.T) {
	f := loadFixtures(t, false)
	payload := revocationsPayload(t)
	for _, c := range []struct {
		date time.Time
		ok   bool
	}{
		{time.Unix(0, 0), true},
		{vecSignTime, true},
		{vecSignTime.Add(-time.Second), true}, // gpg: a second ticked over
		{vecSignTime.Add(-time.Hour), false},
		{vecSignTime.Add(time.Second), false},
	} {
		var b bytes.Buffer
		cfg := &packet.Config{DefaultHash: crypto.SHA512, Time: func() time.Time { return vecSignTime }}
		hints := &openpgp.FileHints{ModTime: c.date}
		if c.date.Unix() == 0 {
			hints = nil
		}
		w, _ := openpgp.SignWithParams(&b, []*openpgp.Entity{f.sec["vendor"].e}, &openpgp.SignParams{Config: cfg, Hints: hints})
		w.Write(payload)
		w.Close()
		_, err := Verify(b.Bytes(), revOpts(f.pub["vendor"], vecNow))
		if c.ok != (err == nil) {
			t.Errorf("literal dated %v: %v", c.date, err)
		}
	}
}
