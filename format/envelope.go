package format

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// DefaultSkew is how far a signature may be dated after the trusted time
// before [Verify] refuses it as [ErrClockBehind].
const DefaultSkew = 5 * time.Minute

// Signer produces a complete binary OpenPGP signed message (one-pass
// signature, literal data, signature; no compression) over payload, dated
// now. [*PrivateKey] implements it; a key held by GnuPG or a smartcard
// implements it by running gpg. Most callers want [Sign], which encodes the
// payload and checks the signer's output.
type Signer interface {
	Public() *PublicKey
	SignMessage(payload []byte, now time.Time) ([]byte, error)
}

// Sign encodes p, has signer sign it, and verifies the result exactly as a
// reader will, so that a signer that compresses, picks a weak hash or signs
// with another key fails here rather than on the customer's host. A
// request must be signed by the host key it carries.
func Sign(signer Signer, p Payload, now time.Time) ([]byte, error) {
	body, err := EncodePayload(p)
	if err != nil {
		return nil, err
	}
	pub := signer.Public()
	if r, ok := p.(*Request); ok {
		hk, err := r.PublicKey()
		if err != nil {
			return nil, err
		}
		if hk.Fingerprint() != pub.Fingerprint() {
			return nil, fmt.Errorf("sign request: it must be signed by its own host key %s, not %s", hk.Fingerprint(), pub.Fingerprint())
		}
	}
	msg, err := signer.SignMessage(body, now)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", p.Kind(), err)
	}
	if _, err := Verify(msg, VerifyOptions{Keys: NewKeySet(pub), Kinds: []Kind{p.Kind()}, Now: now}); err != nil {
		return nil, fmt.Errorf("sign %s: the signer's output does not verify: %w", p.Kind(), err)
	}
	// An artifact must not die on its own: no expiry on the signature (gpg's
	// default-sig-expire) nor on the key that made it (gpg's default of two
	// years), or a perpetual licence would stop working one day.
	m, _ := parseStructure(msg) // verified above
	if m.sig.SigLifetimeSecs != nil && *m.sig.SigLifetimeSecs != 0 {
		return nil, fmt.Errorf("sign %s: the signer set an expiry on the signature; sign without one (gpg: no default-sig-expire)", p.Kind())
	}
	if exp, ok := pub.Expires(now); ok {
		return nil, fmt.Errorf("sign %s: the signing key expires on %s, and everything it signs would stop verifying then; use a key without expiry (gpg --quick-set-expire FPR 0)", p.Kind(), exp.Format("2006-01-02"))
	}
	return msg, nil
}

// SignMessage implements [Signer]: an Ed25519 signature over SHA-512, with
// go-crypto's salt notation, and a literal data packet with no file name
// and date 0 (readers ignore both).
func (k *PrivateKey) SignMessage(payload []byte, now time.Time) ([]byte, error) {
	if now.IsZero() {
		return nil, fmt.Errorf("format: sign: a signing time is required")
	}
	if k.e.PrivateKey.Encrypted {
		return nil, fmt.Errorf("format: sign: the secret key is still encrypted")
	}
	cfg := &packet.Config{
		DefaultHash:            crypto.SHA512,
		DefaultCompressionAlgo: packet.CompressionNone,
		Time:                   func() time.Time { return now },
		Rand:                   k.rand,
	}
	var b bytes.Buffer
	w, err := openpgp.SignWithParams(&b, []*openpgp.Entity{k.e}, &openpgp.SignParams{Config: cfg})
	if err != nil {
		return nil, fmt.Errorf("format: sign: %w", err)
	}
	if _, err := w.Write(payload); err != nil {
		return nil, fmt.Errorf("format: sign: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("format: sign: %w", err)
	}
	return b.Bytes(), nil
}

// VerifyOptions configure [Verify].
type VerifyOptions struct {
	// Keys is the pinned set; a signature by any other key is refused.
	Keys *KeySet
	// Kinds lists the kinds the caller accepts (at least one).
	Kinds []Kind
	// Now is the trusted time: on a host, the later of the wall clock and
	// the highest time the store has seen. Required.
	Now time.Time
	// Skew is how far a signature may be dated after Now; zero means
	// DefaultSkew.
	Skew time.Duration
}

// Artifact is a verified artifact.
type Artifact struct {
	Kind    Kind
	Payload Payload // *Request, *Response, *Deactivation or *Revocations
	// Signed is the payload exactly as signed; Digest is its SHA-256 (a
	// response's request_digest is the Digest of its request).
	Signed   []byte
	Digest   Digest
	Signer   *PublicKey // the pinned key that signed; nil from DecodeUnverified
	SignedAt time.Time
	Encoding Encoding // how the input was presented
	Binary   []byte   // the binary message
}

// Verify checks an artifact (armored, binary or QR text) against the pinned
// keys and returns its payload. It enforces, in this order: the size bound;
// the packet sequence (one-pass signature, literal data, signature, nothing
// else); a binary signature over SHA-256, SHA-384 or SHA-512; a signer in
// the pinned set by full fingerprint; the signature's value (so that no
// refusal speaks of a clock or a key from a time that did not verify); a
// creation time no later than Now plus Skew; the signature as a whole, the
// signing key valid (not expired, not revoked) both when it signed and at
// Now; then the payload's format, kind and fields. The error matches exactly one of the package's sentinels,
// except when opts itself is incomplete (no keys, kinds or time), which is
// a programming error reported as such.
func Verify(input []byte, opts VerifyOptions) (*Artifact, error) {
	if opts.Keys == nil || len(opts.Keys.keys) == 0 {
		return nil, fmt.Errorf("format: verify: no pinned keys")
	}
	if len(opts.Kinds) == 0 || opts.Now.IsZero() {
		return nil, fmt.Errorf("format: verify: the expected kinds and the trusted time are required")
	}
	bin, enc, err := Decode(input)
	if err != nil {
		return nil, err
	}
	m, err := parseStructure(bin)
	if err != nil {
		return nil, err
	}
	return verifyParsed(m, enc, opts)
}

// verifyParsed is Verify after the message's encoding and structure have
// been read.
func verifyParsed(m *signedMessage, enc Encoding, opts VerifyOptions) (*Artifact, error) {
	skew := opts.Skew
	if skew == 0 {
		skew = DefaultSkew
	}
	key := opts.Keys.byIssuer(m.sig.IssuerFingerprint, *m.sig.IssuerKeyId)
	if key == nil {
		who := fmt.Sprintf("key ID %016X", *m.sig.IssuerKeyId)
		if len(m.sig.IssuerFingerprint) > 0 {
			who = "key " + string(fingerprintOf(m.sig.IssuerFingerprint))
		}
		return nil, errorf(ErrUnknownSigner, "signed by %s, which is not a trusted key here", who)
	}
	if pk := key.issuerKey(m.sig.IssuerFingerprint, *m.sig.IssuerKeyId); pk != nil {
		if err := checkKeyAlgorithm(pk); err != nil {
			return nil, err
		}
	}
	// Nothing the signature covers is a fact before it verifies: a
	// creation time in the future, or one at which the key was not valid,
	// is reported as such only once the signature holds over it;
	// otherwise the bytes were damaged or altered.
	if ahead := m.sig.CreationTime.Sub(opts.Now); ahead > skew {
		if err := checkSignatureValue(m, key); err != nil {
			return nil, err
		}
		return nil, &ClockBehindError{SignedAt: m.sig.CreationTime, By: ahead}
	}
	if err := verifyCrypto(m, key, opts.Now); err != nil {
		if errors.Is(err, ErrKeyExpired) || errors.Is(err, ErrKeyRevoked) || errors.Is(err, ErrSignatureExpired) {
			if verr := checkSignatureValue(m, key); verr != nil {
				return nil, verr
			}
		}
		return nil, err
	}
	p, err := decodePayloadAs(m.literal, opts.Kinds)
	if err != nil {
		return nil, err
	}
	a := newArtifact(m, p, enc)
	a.Signer = key
	return a, nil
}

func newArtifact(m *signedMessage, p Payload, enc Encoding) *Artifact {
	return &Artifact{
		Kind:     p.Kind(),
		Payload:  p,
		Signed:   m.literal,
		Digest:   sha256.Sum256(m.literal),
		SignedAt: m.sig.CreationTime,
		Encoding: enc,
		Binary:   m.bin,
	}
}

var weakHashes = map[crypto.Hash]bool{crypto.MD5: true, crypto.SHA1: true, crypto.RIPEMD160: true, crypto.SHA224: true}

// verifyCrypto runs go-crypto's openpgp/v2 verification with only the
// candidate key in the key ring, reads the body to EOF (the verdict exists
// only then) and decides from the typed result alone.
func verifyCrypto(m *signedMessage, key *PublicKey, now time.Time) error {
	// Judge validity at the trusted time, or at the signature's time when
	// it is (within the skew) later: go-crypto reports a signature dated
	// after its clock as expired, and a key created seconds before it
	// signed would otherwise have no valid self-signature yet.
	at := now
	if m.sig.CreationTime.After(at) {
		at = m.sig.CreationTime
	}
	cfg := &packet.Config{
		Time:                        func() time.Time { return at },
		RejectHashAlgorithms:        weakHashes,
		RejectMessageHashAlgorithms: weakHashes,
		MinRSABits:                  MinRSABits,
	}
	md, err := openpgp.ReadMessage(bytes.NewReader(m.bin), openpgp.EntityList{key.e}, nil, cfg)
	if err != nil {
		return errorf(ErrMalformed, "message: %v", err)
	}
	body, err := io.ReadAll(md.UnverifiedBody)
	if err != nil && md.SignatureError == nil {
		return errorf(ErrMalformed, "message: %v", err)
	}
	switch {
	case !md.IsSigned:
		return errorf(ErrUnsigned, "message is not signed")
	case !md.IsVerified:
		return errorf(ErrBadSignature, "signature was not checked")
	case md.SignatureError != nil:
		return signatureError(keyState(key, *m.sig.IssuerKeyId, m.sig.CreationTime, cfg, md.SignatureError))
	case md.SignedBy == nil || md.Signature == nil || md.SignedBy.Entity == nil:
		return errorf(ErrBadSignature, "no valid signature")
	case !bytes.Equal(md.SignedBy.Entity.PrimaryKey.Fingerprint, key.e.PrimaryKey.Fingerprint):
		return errorf(ErrUnknownSigner, "signed by a key that is not the pinned one")
	case !bytes.Equal(body, m.literal):
		return errorf(ErrMalformed, "message body is ambiguous")
	}
	if err := checkKeyAlgorithm(md.SignedBy.PublicKey); err != nil {
		return err
	}
	// go-crypto does not check a v4 signature's two-byte hash tag (the
	// "left 16 bits"), which no signature covers; a flipped tag must not
	// pass unnoticed.
	h := m.sig.Hash.New()
	h.Write(m.literal)
	if packet.VerifyHashTag(h, m.sig) != nil {
		return errorf(ErrBadSignature, "signature hash tag does not match the content; the file was damaged or altered: get it again from its sender")
	}
	// go-crypto judged the key at the signature's creation time. An
	// expired or revoked key must not be trusted today either: whoever
	// holds an old key could backdate a signature.
	if _, err := key.e.VerifyPrimaryKey(at, cfg); err != nil {
		return signatureError(err)
	}
	if _, ok := key.e.SigningKeyById(at, md.SignedBy.PublicKey.KeyId, cfg); !ok {
		return signatureError(keyState(key, md.SignedBy.PublicKey.KeyId, at, cfg,
			errorf(ErrKeyExpired, "the signing key %s is not valid at %s", key.Fingerprint(), at.UTC().Format(time.RFC3339))))
	}
	return nil
}

// checkSignatureValue checks the signature's value over the literal data
// with the pinned key it names, and nothing else (not the key's validity,
// not the time), so that the hashed fields, creation time included, may be
// believed before any decision is made from them. It is not the verdict:
// verifyCrypto, through go-crypto's openpgp/v2 reader, is. It runs only on
// the way to a refusal, so an artifact that verifies pays for one check.
func checkSignatureValue(m *signedMessage, key *PublicKey) error {
	pk := key.issuerKey(m.sig.IssuerFingerprint, *m.sig.IssuerKeyId)
	if pk == nil {
		return errorf(ErrUnknownSigner, "signed by a key that is not trusted here")
	}
	h := m.sig.Hash.New()
	h.Write(m.literal)
	if pk.VerifySignature(h, m.sig) != nil {
		return errorf(ErrBadSignature, badSignatureText)
	}
	return nil
}

// badSignatureText is what a signature that does not hold means to the
// person who has the file.
const badSignatureText = "signature does not verify: the file was damaged or altered (or the signature forged); get it again from its sender"

// keyState explains a failure in terms of the signing key when the key is
// the reason: a revoked or expired primary key or signing subkey. It
// returns fallback otherwise.
func keyState(key *PublicKey, id uint64, at time.Time, cfg *packet.Config, fallback error) error {
	if _, err := key.e.VerifyPrimaryKey(at, cfg); err != nil {
		return err
	}
	for i := range key.e.Subkeys {
		sk := &key.e.Subkeys[i]
		if sk.PublicKey.KeyId == id {
			if _, err := sk.Verify(at, cfg); err != nil {
				return err
			}
		}
	}
	return fallback
}

func signatureError(err error) error {
	var own *detailError
	if errors.As(err, &own) {
		return err
	}
	switch {
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return errorf(ErrKeyExpired, "the signing key has expired; the vendor must re-issue with a current key")
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return errorf(ErrKeyRevoked, "the signing key is revoked; ask the vendor for a new licence")
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		return errorf(ErrSignatureExpired, "the signature has expired")
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return errorf(ErrUnknownSigner, "signed by a key that is not trusted here")
	}
	var weak pgperrors.WeakAlgorithmError
	if errors.As(err, &weak) {
		return errorf(ErrWeakKey, "signature: %v", err)
	}
	return errorf(ErrBadSignature, badSignatureText)
}

// decodePayloadAs checks the kind named by the "format" field before
// decoding the rest, so that a request presented as a response is refused
// as the wrong kind whatever else is in it.
func decodePayloadAs(b []byte, kinds []Kind) (Payload, error) {
	kind, err := peekKind(b)
	if err != nil {
		return nil, err
	}
	ok := false
	for _, k := range kinds {
		ok = ok || k == kind
	}
	if !ok {
		return nil, &WrongKindError{Got: kind, Want: kinds}
	}
	return decodeKind(b, kind)
}

// DecodeUnverified parses an artifact's structure and payload WITHOUT
// checking its signature, for display (issuer inspect) and for finding the
// key to verify it with (a deactivation receipt names the licence whose
// host key signed it). Nothing it returns may be trusted; Signer is nil.
func DecodeUnverified(input []byte) (*Artifact, error) {
	bin, enc, err := Decode(input)
	if err != nil {
		return nil, err
	}
	m, err := parseStructure(bin)
	if err != nil {
		return nil, err
	}
	p, err := DecodePayload(m.literal)
	if err != nil {
		return nil, err
	}
	return newArtifact(m, p, enc), nil
}

// VerifyRequest verifies a request against the host key it carries: the
// request proves possession of that key, and the vendor later binds the
// licence to it. now is the verifier's clock.
func VerifyRequest(input []byte, now time.Time) (*Artifact, *Request, error) {
	bin, enc, err := Decode(input)
	if err != nil {
		return nil, nil, err
	}
	m, err := parseStructure(bin)
	if err != nil {
		return nil, nil, err
	}
	kind, err := peekKind(m.literal)
	if err != nil {
		return nil, nil, err
	}
	if kind != KindRequest {
		return nil, nil, &WrongKindError{Got: kind, Want: []Kind{KindRequest}}
	}
	p, err := decodeKind(m.literal, kind)
	if err != nil {
		return nil, nil, err
	}
	hk, err := p.(*Request).PublicKey()
	if err != nil {
		return nil, nil, err
	}
	if now.IsZero() {
		return nil, nil, fmt.Errorf("format: verify: the trusted time is required")
	}
	a, err := verifyParsed(m, enc, VerifyOptions{Keys: NewKeySet(hk), Kinds: []Kind{KindRequest}, Now: now})
	if err != nil {
		return nil, nil, err
	}
	return a, a.Payload.(*Request), nil
}

// peekKind checks the payload's JSON rules and returns the kind its
// "format" field names.
func peekKind(b []byte) (Kind, error) {
	name, err := checkJSON(b)
	if err != nil {
		return "", err
	}
	return parseFormatName(name)
}
