package format

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// MinRSABits is the smallest RSA modulus accepted in a pinned or host key.
const MinRSABits = 3072

// maxKeyringSize bounds a key file read by [ParseKeySet] or
// [ParsePrivateKey].
const maxKeyringSize = 1 << 20

// PublicKey is one OpenPGP public key (an entity: primary key, user IDs,
// self-signatures, subkeys) whose algorithm this package accepts.
type PublicKey struct {
	e *openpgp.Entity
}

// Fingerprint returns the primary key's full fingerprint.
func (k *PublicKey) Fingerprint() KeyFingerprint { return fingerprintOf(k.e.PrimaryKey.Fingerprint) }

// String describes the key by algorithm and fingerprint.
func (k *PublicKey) String() string {
	return "openpgp-" + algorithmName(k.e.PrimaryKey) + ":" + string(k.Fingerprint())
}

// UserID returns the key's primary user ID ("Name <email>"), or "".
func (k *PublicKey) UserID() string {
	for name := range k.e.Identities {
		return name
	}
	return ""
}

// Bytes returns the binary transferable public key.
func (k *PublicKey) Bytes() []byte {
	var b bytes.Buffer
	if err := k.e.Serialize(&b); err != nil {
		// Serialising a parsed or generated entity to memory cannot fail.
		panic("format: serialise public key: " + err.Error())
	}
	return b.Bytes()
}

// Armor returns the ASCII-armored public key, as gpg --import and
// sq accept it.
func (k *PublicKey) Armor() []byte {
	return armorBytes("PGP PUBLIC KEY BLOCK", k.Bytes(), nil)
}

// PrivateKey is an OpenPGP secret key held in memory. It implements
// [Signer]. Its String method never shows secret material.
type PrivateKey struct {
	e    *openpgp.Entity
	pub  *PublicKey
	rand io.Reader // signature salts; nil means crypto/rand
}

func newPrivateKey(e *openpgp.Entity, rand io.Reader) (*PrivateKey, error) {
	k := &PrivateKey{e: e, rand: rand}
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		return nil, fmt.Errorf("format: serialise public key: %w", err)
	}
	// The public key is parsed from the serialised form so that it shares
	// no secret material with k.
	pub, err := parseOneKey(b.Bytes())
	if err != nil {
		return nil, err
	}
	k.pub = pub
	return k, nil
}

// KeyOptions configure [GenerateKey].
type KeyOptions struct {
	Name, Email string    // the user ID; Name is required
	Now         time.Time // creation time; required (this package reads no clock)
	// Lifetime, if non-zero, makes the key expire that long after Now.
	Lifetime time.Duration
	// Rand is the source of the signature salts; nil means crypto/rand.
	// Ed25519 key generation itself always uses the system's randomness.
	Rand io.Reader
}

// GenerateKey creates an OpenPGP v4 Ed25519 signing key (algorithm 22,
// "EdDSA" with the Ed25519 curve, which GnuPG 2.2 and Sequoia read) with
// SHA-512 self-signatures and no encryption subkey.
func GenerateKey(opts KeyOptions) (*PrivateKey, error) {
	if opts.Name == "" {
		return nil, fmt.Errorf("format: generate key: a name is required")
	}
	if opts.Now.IsZero() {
		return nil, fmt.Errorf("format: generate key: a creation time is required")
	}
	if opts.Lifetime < 0 || opts.Lifetime.Seconds() > float64(^uint32(0)) {
		return nil, fmt.Errorf("format: generate key: lifetime out of range")
	}
	now := opts.Now.UTC().Truncate(time.Second)
	// No salt notation in the self-signature: it guards deterministic
	// EdDSA against fault attacks on a signer that signs many messages, and
	// a key's one self-signature gains nothing from it, while its 52 bytes
	// travel in every request (and its QR code).
	noSalt := false
	cfg := &packet.Config{
		Algorithm:       packet.PubKeyAlgoEdDSA,
		Curve:           packet.Curve25519,
		DefaultHash:     crypto.SHA512,
		Time:            func() time.Time { return now },
		Rand:            opts.Rand,
		KeyLifetimeSecs: uint32(opts.Lifetime / time.Second),

		NonDeterministicSignaturesViaNotation: &noSalt,
	}
	e, err := openpgp.NewEntity(opts.Name, "", opts.Email, cfg)
	if err != nil {
		return nil, fmt.Errorf("format: generate key: %w", err)
	}
	// A signing-only key is half the size; airlock never encrypts.
	e.Subkeys = nil
	return newPrivateKey(e, opts.Rand)
}

// Public returns the public part of k.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Fingerprint returns the key's full fingerprint.
func (k *PrivateKey) Fingerprint() KeyFingerprint { return fingerprintOf(k.e.PrimaryKey.Fingerprint) }

// String describes the key without showing any secret.
func (k *PrivateKey) String() string {
	return "openpgp-" + algorithmName(k.e.PrimaryKey) + "-secret:" + string(k.Fingerprint())
}

// GoString keeps %#v from printing the key's fields.
func (k *PrivateKey) GoString() string { return k.String() }

// MarshalArmored returns the ASCII-armored secret key. With a non-empty
// passphrase the secret part is encrypted (Argon2 S2K where the config
// allows it, AES-256); with an empty one it is stored in the clear, which
// only suits a file whose permissions are the protection (the host key).
func (k *PrivateKey) MarshalArmored(passphrase []byte) ([]byte, error) {
	e := k.e
	if len(passphrase) > 0 {
		// Encrypt a copy so that k stays usable for signing.
		c, err := parseSecretEntity(k.secretBytes())
		if err != nil {
			return nil, err
		}
		cfg := &packet.Config{DefaultCipher: packet.CipherAES256}
		if err := c.EncryptPrivateKeys(passphrase, cfg); err != nil {
			return nil, fmt.Errorf("format: encrypt secret key: %w", err)
		}
		e = c
	}
	var b bytes.Buffer
	if err := e.SerializePrivateWithoutSigning(&b, nil); err != nil {
		return nil, fmt.Errorf("format: serialise secret key: %w", err)
	}
	return armorBytes("PGP PRIVATE KEY BLOCK", b.Bytes(), nil), nil
}

func (k *PrivateKey) secretBytes() []byte {
	var b bytes.Buffer
	if err := k.e.SerializePrivateWithoutSigning(&b, nil); err != nil {
		panic("format: serialise secret key: " + err.Error())
	}
	return b.Bytes()
}

// ParsePrivateKey reads one armored or binary OpenPGP secret key and, when
// it is encrypted, decrypts it with passphrase. A wrong passphrase is
// reported as such.
func ParsePrivateKey(data, passphrase []byte) (*PrivateKey, error) {
	if len(data) > maxKeyringSize {
		return nil, errorf(ErrTooLarge, "secret key file is larger than %d bytes", maxKeyringSize)
	}
	bin, err := dearmorKey(data, "PGP PRIVATE KEY BLOCK")
	if err != nil {
		return nil, err
	}
	e, err := parseSecretEntity(bin)
	if err != nil {
		return nil, err
	}
	if err := checkKeyAlgorithm(e.PrimaryKey); err != nil {
		return nil, err
	}
	if e.PrivateKey.Encrypted {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("secret key is protected by a passphrase; supply it")
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("wrong passphrase for the secret key")
		}
	}
	return newPrivateKey(e, nil)
}

func parseSecretEntity(bin []byte) (*openpgp.Entity, error) {
	el, err := openpgp.ReadKeyRing(bytes.NewReader(bin))
	if err != nil {
		return nil, errorf(ErrMalformed, "secret key: %v", err)
	}
	if len(el) != 1 || el[0].PrivateKey == nil {
		return nil, errorf(ErrMalformed, "secret key file must hold exactly one secret key")
	}
	return el[0], nil
}

// KeySet is a pinned set of public keys: the only keys whose signatures
// [Verify] accepts. On a host it is the vendor keys compiled into the
// product. Most callers build it once with [ParseKeySet].
type KeySet struct {
	keys []*PublicKey
}

// NewKeySet returns a set holding keys.
func NewKeySet(keys ...*PublicKey) *KeySet {
	return &KeySet{keys: append([]*PublicKey(nil), keys...)}
}

// ParseKeySet reads one or more public keys, ASCII-armored (one or several
// blocks, concatenated; a byte-order mark and CRLF line ends are accepted)
// or binary, and refuses the whole set if any key
// uses an algorithm this package does not accept.
func ParseKeySet(data []byte) (*KeySet, error) {
	if len(data) > maxKeyringSize {
		return nil, errorf(ErrTooLarge, "key file is larger than %d bytes", maxKeyringSize)
	}
	var el openpgp.EntityList
	trimmed := skipPreamble(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		// Several armored blocks may follow each other.
		rest := trimmed
		for len(bytes.TrimSpace(rest)) > 0 {
			end := bytes.Index(rest, []byte("-----END PGP PUBLIC KEY BLOCK-----"))
			if end < 0 {
				return nil, errorf(ErrMalformed, "keys: expected an armored PGP PUBLIC KEY BLOCK")
			}
			end += len("-----END PGP PUBLIC KEY BLOCK-----")
			bin, err := dearmorKey(rest[:end], "PGP PUBLIC KEY BLOCK")
			if err != nil {
				return nil, err
			}
			more, err := openpgp.ReadKeyRing(bytes.NewReader(bin))
			if err != nil {
				return nil, errorf(ErrMalformed, "keys: %v", err)
			}
			el = append(el, more...)
			rest = bytes.TrimSpace(rest[end:])
		}
	} else {
		var err error
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, errorf(ErrMalformed, "keys: %v", err)
		}
	}
	if len(el) == 0 {
		return nil, errorf(ErrMalformed, "keys: no public key found")
	}
	set := &KeySet{}
	for _, e := range el {
		if e.PrivateKey != nil {
			return nil, errorf(ErrMalformed, "keys: %s is a secret key; pin the public key only (export it)", fingerprintOf(e.PrimaryKey.Fingerprint))
		}
		if err := checkKeyAlgorithm(e.PrimaryKey); err != nil {
			return nil, err
		}
		set.keys = append(set.keys, &PublicKey{e: e})
	}
	return set, nil
}

// Keys returns the keys of the set.
func (s *KeySet) Keys() []*PublicKey { return append([]*PublicKey(nil), s.keys...) }

// Len returns the number of keys in the set.
func (s *KeySet) Len() int { return len(s.keys) }

// Lookup returns the key with fingerprint f, or nil.
func (s *KeySet) Lookup(f KeyFingerprint) *PublicKey {
	for _, k := range s.keys {
		if k.Fingerprint() == f {
			return k
		}
	}
	return nil
}

// byFingerprint finds the pinned key whose primary key or a subkey has the
// full fingerprint fpr (bytes), or, when fpr is empty, the key ID id.
func (s *KeySet) byIssuer(fpr []byte, id uint64) *PublicKey {
	for _, k := range s.keys {
		if len(fpr) > 0 {
			if bytes.Equal(k.e.PrimaryKey.Fingerprint, fpr) {
				return k
			}
			for _, sk := range k.e.Subkeys {
				if bytes.Equal(sk.PublicKey.Fingerprint, fpr) {
					return k
				}
			}
			continue
		}
		if k.e.PrimaryKey.KeyId == id {
			return k
		}
		for _, sk := range k.e.Subkeys {
			if sk.PublicKey.KeyId == id {
				return k
			}
		}
	}
	return nil
}

// parseOneKey reads exactly one binary public key.
func parseOneKey(bin []byte) (*PublicKey, error) {
	el, err := openpgp.ReadKeyRing(bytes.NewReader(bin))
	if err != nil {
		return nil, errorf(ErrMalformed, "public key: %v", err)
	}
	if len(el) != 1 {
		return nil, errorf(ErrMalformed, "want exactly one public key, found %d", len(el))
	}
	if el[0].PrivateKey != nil {
		return nil, errorf(ErrMalformed, "found a secret key where a public key belongs")
	}
	if err := checkKeyAlgorithm(el[0].PrimaryKey); err != nil {
		return nil, err
	}
	return &PublicKey{e: el[0]}, nil
}

// parseHostKey reads the host_key field of a request: Base64 of the binary
// key, or an armored key.
func parseHostKey(s string) (*PublicKey, error) {
	var bin []byte
	if strings.HasPrefix(s, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		b, err := dearmorKey([]byte(s), "PGP PUBLIC KEY BLOCK")
		if err != nil {
			return nil, err
		}
		bin = b
	} else {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, errorf(ErrMalformed, "not Base64")
		}
		bin = b
	}
	return parseOneKey(bin)
}

// HostKeyField returns the form of k that a request's host_key carries.
func HostKeyField(k *PublicKey) string { return base64.StdEncoding.EncodeToString(k.Bytes()) }

// checkKeyAlgorithm accepts Ed25519 (as algorithm 22 with the Ed25519 curve,
// or algorithm 27) and RSA of at least MinRSABits.
func checkKeyAlgorithm(pk *packet.PublicKey) error {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoEd25519:
		return nil
	case packet.PubKeyAlgoEdDSA:
		if c, err := pk.Curve(); err == nil && c == packet.Curve25519 {
			return nil
		}
		return errorf(ErrWeakKey, "key %s: only the Ed25519 curve is accepted for EdDSA", fingerprintOf(pk.Fingerprint))
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		bits, err := pk.BitLength()
		if err != nil || bits < MinRSABits {
			return errorf(ErrWeakKey, "key %s: RSA-%d is too short; at least %d bits are required", fingerprintOf(pk.Fingerprint), bits, MinRSABits)
		}
		return nil
	}
	return errorf(ErrWeakKey, "key %s: algorithm %d is not accepted (use Ed25519, or RSA of %d bits or more)",
		fingerprintOf(pk.Fingerprint), pk.PubKeyAlgo, MinRSABits)
}

func algorithmName(pk *packet.PublicKey) string {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519:
		return "ed25519"
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		bits, _ := pk.BitLength()
		return fmt.Sprintf("rsa%d", bits)
	}
	return fmt.Sprintf("algo%d", pk.PubKeyAlgo)
}

// skipPreamble drops a byte-order mark and text before the first armor
// line of a key file (a comment such as "SAMPLE KEY"), as gpg --import
// does. Artifacts get no such leniency (only the byte-order mark).
func skipPreamble(data []byte) []byte {
	t := bytes.TrimSpace(bytes.TrimPrefix(data, byteOrderMark))
	if len(t) > 0 && t[0]&0x80 == 0 {
		if i := bytes.Index(t, []byte("\n-----BEGIN ")); i >= 0 && !bytes.HasPrefix(t, []byte("-----BEGIN ")) {
			return t[i+1:]
		}
	}
	return t
}

func dearmorKey(data []byte, blockType string) ([]byte, error) {
	trimmed := skipPreamble(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return data, nil
	}
	block, err := armor.Decode(bytes.NewReader(trimmed))
	if err != nil {
		return nil, errorf(ErrMalformed, "armor: %v", err)
	}
	if block.Type != blockType {
		return nil, errorf(ErrMalformed, "found a %s where a %s belongs", block.Type, blockType)
	}
	b, err := io.ReadAll(io.LimitReader(block.Body, maxKeyringSize+1))
	if err != nil {
		return nil, errorf(ErrMalformed, "armor: %v", err)
	}
	if len(b) > maxKeyringSize {
		return nil, errorf(ErrTooLarge, "key is larger than %d bytes", maxKeyringSize)
	}
	return b, nil
}

// issuerKey returns the primary key or subkey of k that the signature's
// issuer names (by fingerprint, or key ID without one).
func (k *PublicKey) issuerKey(fpr []byte, id uint64) *packet.PublicKey {
	match := func(pk *packet.PublicKey) bool {
		if len(fpr) > 0 {
			return bytes.Equal(pk.Fingerprint, fpr)
		}
		return pk.KeyId == id
	}
	if match(k.e.PrimaryKey) {
		return k.e.PrimaryKey
	}
	for _, sk := range k.e.Subkeys {
		if match(sk.PublicKey) {
			return sk.PublicKey
		}
	}
	return nil
}

// Expires reports when the key (or its signing subkeys) expires, as judged
// at now, and whether it expires at all.
func (k *PublicKey) Expires(now time.Time) (time.Time, bool) {
	var earliest time.Time
	found := false
	consider := func(created time.Time, lifetime *uint32) {
		if lifetime == nil || *lifetime == 0 {
			return
		}
		t := created.Add(time.Duration(*lifetime) * time.Second)
		if !found || t.Before(earliest) {
			earliest, found = t, true
		}
	}
	if sig, err := k.e.PrimarySelfSignature(now, nil); err == nil && sig != nil {
		consider(k.e.PrimaryKey.CreationTime, sig.KeyLifetimeSecs)
	}
	for _, sk := range k.e.Subkeys {
		if sig, err := sk.LatestValidBindingSignature(now, nil); err == nil && sig != nil && sig.FlagSign {
			consider(sk.PublicKey.CreationTime, sig.KeyLifetimeSecs)
		}
	}
	return earliest, found
}
