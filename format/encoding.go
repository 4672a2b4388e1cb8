package format

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// Size bounds, checked before any parsing.
const (
	// MaxArtifactSize bounds the binary OpenPGP message, and the inflated
	// content of QR text.
	MaxArtifactSize = 64 << 10
	// MaxEncodedSize bounds armored and QR text input.
	MaxEncodedSize = 128 << 10
	// QRPrefix starts the QR text form of an artifact.
	QRPrefix = "AL1:"
)

// Encoding is how an artifact's bytes were presented.
type Encoding int

// The encodings [Decode] recognises.
const (
	Binary  Encoding = iota // raw OpenPGP packets
	Armored                 // ASCII armor, "-----BEGIN PGP MESSAGE-----"
	QRText                  // "AL1:" + Base45(DEFLATE(binary))
)

func (e Encoding) String() string {
	switch e {
	case Binary:
		return "binary"
	case Armored:
		return "armored"
	case QRText:
		return "qr-text"
	}
	return "unknown"
}

// Decode detects the encoding of input and returns the binary message.
// Surrounding whitespace is ignored. Armor headers are ignored: they are
// not covered by the signature.
func Decode(input []byte) ([]byte, Encoding, error) {
	if len(input) > MaxEncodedSize {
		return nil, Binary, errorf(ErrTooLarge, "input is %d bytes, at most %d allowed", len(input), MaxEncodedSize)
	}
	t := bytes.TrimSpace(input)
	switch {
	case bytes.HasPrefix(t, []byte(QRPrefix)):
		b, err := DecodeQRText(string(t))
		return b, QRText, err
	case bytes.HasPrefix(t, []byte("-----BEGIN PGP SIGNED MESSAGE-----")):
		return nil, Armored, errorf(ErrPacketSequence, "this is a cleartext-signed message; airlock artifacts are binary signed messages")
	case bytes.HasPrefix(t, []byte("-----BEGIN ")):
		b, err := dearmorMessage(t)
		return b, Armored, err
	case len(input) > 0 && input[0]&0x80 != 0:
		if len(input) > MaxArtifactSize {
			return nil, Binary, errorf(ErrTooLarge, "message is %d bytes, at most %d allowed", len(input), MaxArtifactSize)
		}
		return input, Binary, nil
	case len(t) == 0:
		return nil, Binary, errorf(ErrMalformed, "input is empty")
	}
	return nil, Binary, errorf(ErrMalformed, "not an airlock artifact (expected ASCII armor, binary OpenPGP or %s text)", QRPrefix)
}

func dearmorMessage(t []byte) ([]byte, error) {
	block, err := armor.Decode(bytes.NewReader(t))
	if err != nil {
		return nil, errorf(ErrMalformed, "armor: %v; the file was cut or altered", err)
	}
	if block.Type != "PGP MESSAGE" {
		return nil, errorf(ErrMalformed, "found a %s, not an airlock artifact (PGP MESSAGE)", block.Type)
	}
	b, err := io.ReadAll(io.LimitReader(block.Body, MaxArtifactSize+1))
	if err != nil {
		return nil, errorf(ErrMalformed, "armor: %v; the file was cut or altered", err)
	}
	if len(b) > MaxArtifactSize {
		return nil, errorf(ErrTooLarge, "message is larger than %d bytes", MaxArtifactSize)
	}
	return b, nil
}

// Armor returns the ASCII-armored form of a binary message. The comment
// header names the kind for people; readers ignore it.
func Armor(bin []byte, kind Kind) []byte {
	var h map[string]string
	if kind != "" {
		h = map[string]string{"Comment": "airlock " + string(kind)}
	}
	return armorBytes("PGP MESSAGE", bin, h)
}

func armorBytes(blockType string, bin []byte, headers map[string]string) []byte {
	var b bytes.Buffer
	w, err := armor.Encode(&b, blockType, headers)
	if err == nil {
		_, err = w.Write(bin)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		// Writing to a bytes.Buffer cannot fail.
		panic("format: armor: " + err.Error())
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// EncodeQRText returns the QR text form of a binary message: "AL1:"
// followed by Base45 of its DEFLATE (RFC 1951) compression. Every character
// is in the QR alphanumeric set, so a QR encoder uses alphanumeric mode.
func EncodeQRText(bin []byte) string {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression) // valid level: no error
	w.Write(bin)
	w.Close()
	return QRPrefix + base45Encode(b.Bytes())
}

// DecodeQRText reverses [EncodeQRText]. Surrounding whitespace is ignored;
// the inflated size is bounded by [MaxArtifactSize].
func DecodeQRText(s string) ([]byte, error) {
	if len(s) > MaxEncodedSize {
		return nil, errorf(ErrTooLarge, "QR text is %d characters, at most %d allowed", len(s), MaxEncodedSize)
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, QRPrefix) {
		return nil, errorf(ErrMalformed, "QR text must start with %q", QRPrefix)
	}
	z, err := base45Decode(s[len(QRPrefix):])
	if err != nil {
		return nil, err
	}
	br := bytes.NewReader(z)
	r := flate.NewReader(br) // br is an io.ByteReader: flate reads no further than the stream's end
	b, err := io.ReadAll(io.LimitReader(r, MaxArtifactSize+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errorf(ErrMalformed, "QR text: compressed data ends early; the text was cut")
		}
		return nil, errorf(ErrMalformed, "QR text: compressed data is corrupt; scan or copy it again")
	}
	if len(b) > MaxArtifactSize {
		return nil, errorf(ErrTooLarge, "QR text inflates beyond %d bytes", MaxArtifactSize)
	}
	// Bytes after the end of the DEFLATE stream would be unsigned and unread.
	if br.Len() != 0 {
		return nil, errorf(ErrMalformed, "QR text: data after the compressed message")
	}
	return b, nil
}
