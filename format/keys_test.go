package format

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

func TestGenerateKeyProfile(t *testing.T) {
	k, err := GenerateKey(KeyOptions{Name: "Vendor", Email: "licensing@example.com", Now: vecKeyTime})
	if err != nil {
		t.Fatal(err)
	}
	pk := k.e.PrimaryKey
	if pk.Version != 4 || pk.PubKeyAlgo != packet.PubKeyAlgoEdDSA || len(k.e.Subkeys) != 0 {
		t.Fatalf("want a v4 EdDSA key without subkeys, got v%d algo %d, %d subkeys", pk.Version, pk.PubKeyAlgo, len(k.e.Subkeys))
	}
	if c, _ := pk.Curve(); c != packet.Curve25519 {
		t.Fatalf("curve %v", c)
	}
	for _, id := range k.e.Identities {
		if id.SelfCertifications[0].Packet.Hash != crypto.SHA512 {
			t.Fatalf("self-signature hash %v", id.SelfCertifications[0].Packet.Hash)
		}
	}
	if !strings.HasPrefix(k.Public().String(), "openpgp-ed25519:") || len(k.Fingerprint()) != 40 {
		t.Fatalf("String %s", k.Public())
	}
	if n := len(k.Public().Bytes()); n > 300 {
		t.Errorf("public key is %d bytes; a signing-only Ed25519 key should be about 250", n)
	}
	if _, err := GenerateKey(KeyOptions{Name: "x"}); err == nil {
		t.Error("key generated without a creation time")
	}
}

// TestPrivateKeyNeverPrints checks that formatting a secret key shows its
// fingerprint and nothing of the secret scalar.
func TestPrivateKeyNeverPrints(t *testing.T) {
	k := loadFixtures(t, false).sec["vendor"]
	armored, _ := k.MarshalArmored(nil)
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if !strings.Contains(out, string(k.Fingerprint())) || strings.Contains(out, "PRIVATE") || len(out) > 400 {
			t.Errorf("formatted key: %q", out)
		}
	}
	if !bytes.Contains(armored, []byte("PGP PRIVATE KEY BLOCK")) {
		t.Fatal("armored secret key")
	}
}

func TestPassphrase(t *testing.T) {
	k := loadFixtures(t, false).sec["vendor"]
	enc, err := k.MarshalArmored([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKey(enc, []byte("wrong")); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("wrong passphrase: %v", err)
	}
	if _, err := ParsePrivateKey(enc, nil); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("no passphrase: %v", err)
	}
	k2, err := ParsePrivateKey(enc, []byte("correct horse"))
	if err != nil || k2.Fingerprint() != k.Fingerprint() {
		t.Fatalf("right passphrase: %v", err)
	}
	if _, err := Sign(k2, &Revocations{Serial: 1, Issued: NewTime(vecNow), Revoked: []ID{}}, vecNow); err != nil {
		t.Errorf("decrypted key cannot sign: %v", err)
	}
	// k itself stays usable after MarshalArmored encrypted a copy.
	if _, err := k.SignMessage([]byte("x"), vecNow); err != nil {
		t.Errorf("original key: %v", err)
	}
}

func TestParseKeySet(t *testing.T) {
	f := loadFixtures(t, false)
	a, b := f.pub["vendor"], f.pub["other"]
	both := append(append([]byte(nil), a.Armor()...), b.Armor()...)
	set, err := ParseKeySet(both)
	if err != nil || set.Len() != 2 || set.Lookup(b.Fingerprint()) == nil {
		t.Fatalf("two armored blocks: %v", err)
	}
	set, err = ParseKeySet(append(a.Bytes(), b.Bytes()...))
	if err != nil || set.Len() != 2 {
		t.Fatalf("binary keyring: %v", err)
	}
	// A key file as Notepad saves it: a byte-order mark, CRLF line ends.
	set, err = ParseKeySet(bomCRLF(both))
	if err != nil || set.Len() != 2 {
		t.Fatalf("byte-order mark and CRLF: %v", err)
	}
	sec, _ := f.sec["vendor"].MarshalArmored(nil)
	if _, err := ParsePrivateKey(bomCRLF(sec), nil); err != nil {
		t.Fatalf("secret key with a byte-order mark and CRLF: %v", err)
	}
	for name, in := range map[string][]byte{
		"secret key": sec,
		"empty":      nil,
		"garbage":    []byte("hello"),
		"message":    Armor([]byte{0xc4}, ""),
	} {
		if _, err := ParseKeySet(in); err == nil {
			t.Errorf("%s accepted as a key set", name)
		}
	}
}

// rsaFixture returns an RSA key of the given size from testdata/keys,
// generating it with -update (RSA generation is slow and not reproducible).
func rsaFixture(t *testing.T, bits int) *openpgp.Entity {
	path := filepath.Join(keyDir(), fmt.Sprintf("rsa%d.sec.asc", bits))
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) && *update {
		cfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: bits, DefaultHash: crypto.SHA512, Time: func() time.Time { return vecKeyTime }}
		e, err := openpgp.NewEntity(fmt.Sprintf("airlock test rsa%d - TEST ONLY", bits), "", "", cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.Subkeys = nil
		var b bytes.Buffer
		e.SerializePrivateWithoutSigning(&b, nil)
		data = armorBytes("PGP PRIVATE KEY BLOCK", b.Bytes(), nil)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatalf("%v (run make vectors)", err)
	}
	bin, err := dearmorKey(data, "PGP PRIVATE KEY BLOCK")
	if err != nil {
		t.Fatal(err)
	}
	e, err := parseSecretEntity(bin)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRSAKeys(t *testing.T) {
	weak := &PrivateKey{e: rsaFixture(t, 2048)}
	var b bytes.Buffer
	weak.e.Serialize(&b)
	if _, err := ParseKeySet(b.Bytes()); !errors.Is(err, ErrWeakKey) {
		t.Errorf("RSA-2048 pinned: %v", err)
	}
	strong, err := newPrivateKey(rsaFixture(t, 3072), newDetRand("rsa"))
	if err != nil {
		t.Fatal(err)
	}
	rv := &Revocations{Serial: 1, Issued: NewTime(vecNow), Revoked: []ID{}}
	msg, err := Sign(strong, rv, vecSignTime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(msg, VerifyOptions{Keys: NewKeySet(strong.Public()), Kinds: []Kind{KindRevocations}, Now: vecNow}); err != nil {
		t.Errorf("RSA-3072 signature: %v", err)
	}
}
