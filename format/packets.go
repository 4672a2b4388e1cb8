package format

import (
	"bytes"
	"crypto"
	"fmt"
	"io"

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
			return pkts, off, err
		}
		p.data = b[off : off+n]
		pkts = append(pkts, p)
		off += n
	}
	if off < len(b) {
		return pkts, off, fmt.Errorf("more than %d packets", maxPackets)
	}
	return pkts, off, nil
}

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
		case 2:
			hl = 5
			if len(b) < hl {
				return p, 0, io.ErrUnexpectedEOF
			}
			n = int(uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4]))
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
	if scanErr != nil {
		if len(pkts) >= 3 && tags[0] == tagOnePassSig && tags[1] == tagLiteral && tags[2] == tagSignature {
			return nil, errorf(ErrPacketSequence, "%d bytes follow the signature; nothing may follow it", len(bin)-bad)
		}
		if scanErr == io.ErrUnexpectedEOF {
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
	return m, checkProfile(m)
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
// packets before any key is consulted.
func checkProfile(m *signedMessage) error {
	ops, sig := m.ops, m.sig
	if sig.SigType != packet.SigTypeBinary || ops.SigType != packet.SigTypeBinary {
		return errorf(ErrPacketSequence, "signature type is 0x%02x; airlock signs binary documents (0x00)", byte(sig.SigType))
	}
	if !allowedHash(sig.Hash) || !allowedHash(ops.Hash) {
		return errorf(ErrWeakHash, "signature uses %s; SHA-256, SHA-384 or SHA-512 is required", hashName(sig.Hash))
	}
	if sig.Version != 4 && sig.Version != 6 {
		return errorf(ErrPacketSequence, "signature version %d is not supported", sig.Version)
	}
	if sig.IssuerKeyId == nil {
		return errorf(ErrMalformed, "signature names no issuer")
	}
	if ops.KeyId != *sig.IssuerKeyId || ops.Hash != sig.Hash || ops.PubKeyAlgo != sig.PubKeyAlgo {
		return errorf(ErrPacketSequence, "one-pass signature and signature disagree")
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
