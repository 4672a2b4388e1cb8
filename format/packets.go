package format

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// OpenPGP packet tags that matter here (RFC 9580, section 5).
const (
	tagSignature  = 2
	tagOnePassSig = 4
	tagCompressed = 8
	tagMarker     = 10
	tagLiteral    = 11
)

// maxPackets bounds how many packet headers are scanned; a valid artifact
// has three.
const maxPackets = 8

// rawPacket is one packet as it appears in the message.
type rawPacket struct {
	tag     int
	data    []byte // header and body, exactly as in the message
	partial bool   // body uses partial lengths
}

// scanPackets splits a binary message into packets by their headers alone,
// independently of go-crypto's parser (which skips some packets it does not
// need). It returns the packets read before any error, and the offset of
// the first byte it could not read as a packet.
func scanPackets(b []byte) (pkts []rawPacket, bad int, err error) {
	off := 0
	for off < len(b) && len(pkts) < maxPackets {
		p, n, err := scanOne(b[off:])
		if err != nil {
			// The tag of the packet that failed, if its header got that far,
			// is kept in the error: an old-style compressed packet of
			// indeterminate length (as gpg writes) must be reported as
			// compression, not as garbage.
			return pkts, off, &scanError{tag: p.tag, err: err}
		}
		p.data = b[off : off+n]
		pkts = append(pkts, p)
		off += n
	}
	if off < len(b) {
		return pkts, off, errTooManyPackets
	}
	return pkts, off, nil
}

// errTooManyPackets stops a scan at maxPackets.
var errTooManyPackets = fmt.Errorf("more than %d packets", maxPackets)

// errNonMinimal reports a packet length written with more octets than it
// needs: a second encoding of the same packet.
var errNonMinimal = errors.New("packet length is not minimally encoded")

// scanError reports a packet that could not be read, with its tag when
// the header was readable (0 otherwise).
type scanError struct {
	tag int
	err error
}

func (e *scanError) Error() string { return e.err.Error() }

// scanOne reads one packet header and skips its body, returning the
// packet's total length.
func scanOne(b []byte) (rawPacket, int, error) {
	var p rawPacket
	if len(b) == 0 || b[0]&0x80 == 0 {
		return p, 0, fmt.Errorf("not an OpenPGP packet header")
	}
	if b[0]&0x40 == 0 { // legacy format
		p.tag = int(b[0]>>2) & 0xf
		var n, hl int
		switch b[0] & 3 {
		case 0:
			hl = 2
			if len(b) < hl {
				return p, 0, io.ErrUnexpectedEOF
			}
			n = int(b[1])
		case 1:
			hl = 3
			if len(b) < hl {
				return p, 0, io.ErrUnexpectedEOF
			}
			n = int(b[1])<<8 | int(b[2])
			if n < 1<<8 {
				return p, 0, errNonMinimal
			}
		case 2:
			hl = 5
			if len(b) < hl {
				return p, 0, io.ErrUnexpectedEOF
			}
			n = int(uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4]))
			if n < 1<<16 {
				return p, 0, errNonMinimal
			}
		default:
			return p, 0, fmt.Errorf("indeterminate packet length")
		}
		if n < 0 || n > len(b)-hl {
			return p, 0, io.ErrUnexpectedEOF
		}
		return p, hl + n, nil
	}
	p.tag = int(b[0] & 0x3f)
	off := 1
	for {
		if off >= len(b) {
			return p, 0, io.ErrUnexpectedEOF
		}
		c := int(b[off])
		var n int
		switch {
		case c < 192:
			n, off = c, off+1
		case c < 224:
			if off+1 >= len(b) {
				return p, 0, io.ErrUnexpectedEOF
			}
			n, off = (c-192)<<8+int(b[off+1])+192, off+2
		case c == 255:
			if off+4 >= len(b) {
				return p, 0, io.ErrUnexpectedEOF
			}
			n = int(uint32(b[off+1])<<24 | uint32(b[off+2])<<16 | uint32(b[off+3])<<8 | uint32(b[off+4]))
			off += 5
			if n < 8384 {
				return p, 0, errNonMinimal
			}
		default: // partial body length: a chunk, then another length
			p.partial = true
			n = 1 << (c & 0x1f)
			off++
			if n > len(b)-off {
				return p, 0, io.ErrUnexpectedEOF
			}
			off += n
			continue
		}
		if n < 0 || n > len(b)-off {
			return p, 0, io.ErrUnexpectedEOF
		}
		return p, off + n, nil
	}
}

// signedMessage is a message whose structure has been checked but whose
// signature has not.
type signedMessage struct {
	bin     []byte
	ops     *packet.OnePassSignature
	literal []byte
	sig     *packet.Signature
}

// parseStructure checks that bin is exactly one-pass signature, literal
// data, signature and returns those parts. It checks no cryptography.
func parseStructure(bin []byte) (*signedMessage, error) {
	if len(bin) > MaxArtifactSize {
		return nil, errorf(ErrTooLarge, "message is %d bytes, at most %d allowed", len(bin), MaxArtifactSize)
	}
	pkts, bad, scanErr := scanPackets(bin)
	tags := make([]int, len(pkts))
	for i, p := range pkts {
		tags[i] = p.tag
	}
	if scanErr == errTooManyPackets {
		return nil, checkSequence(tags)
	}
	if scanErr != nil {
		if se, ok := scanErr.(*scanError); ok && (se.tag == tagCompressed || se.tag == tagMarker) {
			return nil, checkSequence(append(tags, se.tag))
		}
		for _, tag := range tags {
			if tag == tagCompressed || tag == tagMarker {
				return nil, checkSequence(tags)
			}
		}
		if len(pkts) >= 3 && tags[0] == tagOnePassSig && tags[1] == tagLiteral && tags[2] == tagSignature {
			return nil, errorf(ErrPacketSequence, "%d bytes follow the signature; nothing may follow it", len(bin)-bad)
		}
		if se, ok := scanErr.(*scanError); ok && se.err == io.ErrUnexpectedEOF {
			return nil, errorf(ErrMalformed, "message ends inside a packet; the file was cut")
		}
		return nil, errorf(ErrMalformed, "message: byte %d: %v", bad, scanErr)
	}
	if err := checkSequence(tags); err != nil {
		return nil, err
	}
	if pkts[0].partial || pkts[2].partial {
		return nil, errorf(ErrMalformed, "signature packets may not use partial lengths")
	}
	m := &signedMessage{bin: bin}

	p, err := packet.Read(bytes.NewReader(pkts[0].data))
	ops, ok := p.(*packet.OnePassSignature)
	if err != nil || !ok {
		return nil, errorf(ErrMalformed, "one-pass signature packet: %v", err)
	}
	m.ops = ops

	p, err = packet.Read(bytes.NewReader(pkts[1].data))
	lit, ok := p.(*packet.LiteralData)
	if err != nil || !ok {
		return nil, errorf(ErrMalformed, "literal data packet: %v", err)
	}
	if m.literal, err = io.ReadAll(lit.Body); err != nil {
		return nil, errorf(ErrMalformed, "literal data packet: %v", err)
	}

	p, err = packet.Read(bytes.NewReader(pkts[2].data))
	sig, ok := p.(*packet.Signature)
	if err != nil || !ok {
		return nil, errorf(ErrMalformed, "signature packet: %v", err)
	}
	m.sig = sig
	if pkts[0].data[len(pkts[0].data)-1] != 1 {
		// go-crypto reads any non-zero byte as "last"; only 1 is canonical.
		return nil, errorf(ErrPacketSequence, "one-pass signature's last-signature flag is not 1")
	}
	if err := checkProfile(m); err != nil {
		return nil, err
	}
	if err := checkSignatureEncoding(pkts[2].data, sig); err != nil {
		return nil, err
	}
	return m, checkCanonical(ops, lit, sig)
}

func checkSequence(tags []int) error {
	count := map[int]int{}
	for _, t := range tags {
		count[t]++
	}
	switch {
	case len(tags) == 3 && tags[0] == tagOnePassSig && tags[1] == tagLiteral && tags[2] == tagSignature:
		return nil
	case count[tagCompressed] > 0:
		return errorf(ErrPacketSequence, "message is compressed; airlock artifacts are signed without compression (gpg: --compress-algo none)")
	case count[tagMarker] > 0:
		return errorf(ErrPacketSequence, "message contains a marker packet")
	case count[tagSignature] == 0 && count[tagOnePassSig] == 0:
		return errorf(ErrUnsigned, "message is not signed")
	case count[tagSignature] > 1 || count[tagOnePassSig] > 1:
		return errorf(ErrPacketSequence, "message carries %d signatures; exactly one is allowed", max(count[tagSignature], count[tagOnePassSig]))
	case count[tagLiteral] != 1:
		return errorf(ErrPacketSequence, "message carries %d literal data packets; exactly one is required", count[tagLiteral])
	}
	return errorf(ErrPacketSequence, "packets are %v; want one-pass signature, literal data, signature", tags)
}

// checkProfile enforces the algorithm rules that can be read off the
// packets before any key is consulted. The one-pass signature is covered by
// no signature: where it disagrees with the signature, the file was damaged
// or altered, and nothing is said of either value.
func checkProfile(m *signedMessage) error {
	ops, sig := m.ops, m.sig
	if sig.IssuerKeyId == nil {
		return errorf(ErrMalformed, "signature names no issuer; the file was damaged or altered: get it again from its sender")
	}
	var differ []string
	if ops.SigType != sig.SigType {
		differ = append(differ, "type")
	}
	if ops.Hash != sig.Hash {
		differ = append(differ, "hash")
	}
	if ops.PubKeyAlgo != sig.PubKeyAlgo {
		differ = append(differ, "algorithm")
	}
	if ops.KeyId != *sig.IssuerKeyId {
		differ = append(differ, "key ID")
	}
	if len(differ) > 0 {
		return errorf(ErrPacketSequence, "the one-pass signature packet does not match the signature (its %s differs): the file was damaged or altered; get it again from its sender", strings.Join(differ, ", "))
	}
	if sig.SigType != packet.SigTypeBinary {
		return errorf(ErrPacketSequence, "signature type is 0x%02x; airlock signs binary documents (0x00): sign without --textmode or --clearsign", byte(sig.SigType))
	}
	if !allowedHash(sig.Hash) {
		return errorf(ErrWeakHash, "signature uses %s; SHA-256, SHA-384 or SHA-512 is required", hashName(sig.Hash))
	}
	if sig.Version != 4 || ops.Version != 3 {
		// RFC 9580 v6 keys may be added as an option in a later format
		// version; GnuPG 2.2 reads none of them.
		return errorf(ErrPacketSequence, "signature version %d (one-pass version %d) is not supported; airlock uses version 4 (3)", sig.Version, ops.Version)
	}
	switch sig.PubKeyAlgo {
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519, packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
	default:
		return errorf(ErrWeakKey, "signature algorithm %d is not accepted (Ed25519 or RSA-3072+)", sig.PubKeyAlgo)
	}
	return nil
}

func allowedHash(h crypto.Hash) bool {
	return h == crypto.SHA256 || h == crypto.SHA384 || h == crypto.SHA512
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA-1"
	case crypto.RIPEMD160:
		return "RIPEMD-160"
	case crypto.SHA224:
		return "SHA-224"
	}
	if h.Available() {
		return h.String()
	}
	return fmt.Sprintf("hash %d", h)
}

// checkCanonical refuses the bits of a message that no signature covers
// and that could otherwise be flipped without notice: the one-pass
// signature's "last" flag must be set, and the literal data packet must be
// binary ('b'), with no file name, dated 0 or in the few minutes up to the
// signature's time. gpg writes that when it signs standard input.
func checkCanonical(ops *packet.OnePassSignature, lit *packet.LiteralData, sig *packet.Signature) error {
	switch {
	case !ops.IsLast:
		return errorf(ErrPacketSequence, "one-pass signature announces a further signature")
	case lit.Format != 'b':
		return errorf(ErrPacketSequence, "literal data is marked %q; airlock artifacts are binary ('b')", lit.Format)
	case lit.FileName != "":
		return errorf(ErrPacketSequence, "literal data carries a file name; sign from standard input (gpg --sign < payload.json)")
	case lit.Time != 0 && (int64(lit.Time) > sig.CreationTime.Unix() || int64(lit.Time) < sig.CreationTime.Unix()-literalDateWindow):
		return errorf(ErrPacketSequence, "literal data date is not 0 and not just before the signature's time")
	}
	return nil
}

// literalDateWindow is how long (seconds) before the signature a signer may
// date the literal data: gpg dates it when it starts reading, so a second
// may tick over before it signs.
const literalDateWindow = 300

// checkSignatureEncoding requires the signature values of a v4 signature
// to be encoded canonically: go-crypto tolerates a wrong MPI bit count,
// which would leave bits that can be flipped without effect.
func checkSignatureEncoding(raw []byte, sig *packet.Signature) error {
	body := raw[headerLen(raw):]
	// version, type, algorithm, hash, hashed subpackets, unhashed
	// subpackets, two bytes of hash tag.
	off := 4
	for i := 0; i < 2; i++ {
		if off+2 > len(body) {
			return errorf(ErrMalformed, "signature packet is truncated")
		}
		n := int(body[off])<<8 | int(body[off+1])
		if i == 1 && n > 0 {
			if off+2+n > len(body) {
				return errorf(ErrMalformed, "signature packet is truncated")
			}
			if err := checkUnhashed(body[off+2:off+2+n], sig); err != nil {
				return err
			}
		}
		off += 2 + n
	}
	off += 2
	if off > len(body) {
		return errorf(ErrMalformed, "signature packet is truncated")
	}
	rest := body[off:]
	if sig.PubKeyAlgo == packet.PubKeyAlgoEd25519 {
		if len(rest) != 64 {
			return errorf(ErrMalformed, "Ed25519 signature is %d bytes, want 64", len(rest))
		}
		return nil
	}
	for len(rest) > 0 {
		if len(rest) < 2 {
			return errorf(ErrMalformed, "signature value is truncated")
		}
		bits := int(rest[0])<<8 | int(rest[1])
		n := (bits + 7) / 8
		if n == 0 || 2+n > len(rest) || rest[2] == 0 || bitLen(rest[2])+8*(n-1) != bits {
			return errorf(ErrBadSignature, "signature value is not canonically encoded; the file was damaged or altered: get it again from its sender")
		}
		rest = rest[2+n:]
	}
	return nil
}

// headerLen returns the length of a non-partial packet header.
func headerLen(raw []byte) int {
	if raw[0]&0x40 == 0 {
		return 1 + []int{1, 2, 4}[raw[0]&3]
	}
	switch c := raw[1]; {
	case c < 192:
		return 2
	case c < 224:
		return 3
	}
	return 6
}

func bitLen(b byte) int {
	n := 0
	for ; b != 0; b >>= 1 {
		n++
	}
	return n
}

// checkUnhashed allows in a signature's unhashed area (which the signature
// does not cover) only what gpg writes there: one issuer key ID subpacket
// equal to the signature's issuer.
func checkUnhashed(area []byte, sig *packet.Signature) error {
	bad := errorf(ErrPacketSequence, "signature carries unsigned subpackets other than its issuer")
	// One subpacket: a one-octet length of 9, type 16 (issuer key ID), and
	// the eight-octet key ID.
	if len(area) != 10 || area[0] != 9 || area[1] != 16 || sig.IssuerKeyId == nil {
		return bad
	}
	var id uint64
	for _, b := range area[2:] {
		id = id<<8 | uint64(b)
	}
	if id != *sig.IssuerKeyId {
		return bad
	}
	return nil
}
