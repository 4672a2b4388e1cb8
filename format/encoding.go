package format

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
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

// byteOrderMark is the UTF-8 encoding of U+FEFF, which Notepad and other
// editors write at the start of a text file. It is not part of any
// encoding; a reader skips it before text (armor, QR text, keys).
var byteOrderMark = []byte("\xef\xbb\xbf")

// Decode detects the encoding of input and returns the binary message.
// Surrounding whitespace is ignored, and so is a UTF-8 byte-order mark
// before armored or QR text; CRLF line ends are accepted. Armor headers
// are ignored: they are not covered by the signature.
func Decode(input []byte) ([]byte, Encoding, error) {
	if len(input) > MaxEncodedSize {
		return nil, Binary, errorf(ErrTooLarge, "input is %d bytes, at most %d allowed", len(input), MaxEncodedSize)
	}
	text, bom := bytes.CutPrefix(input, byteOrderMark)
	t := bytes.TrimSpace(text)
	switch {
	case bytes.HasPrefix(t, []byte(QRPrefix)):
		b, err := DecodeQRText(string(t))
		return b, QRText, err
	case bytes.HasPrefix(t, []byte("-----BEGIN PGP SIGNED MESSAGE-----")):
		return nil, Armored, errorf(ErrPacketSequence, "this is a cleartext-signed message; airlock artifacts are binary signed messages")
	case bytes.HasPrefix(t, []byte("-----BEGIN ")):
		b, err := dearmorMessage(t)
		return b, Armored, err
	case bytes.HasPrefix(input, []byte("\xff\xfe")) || bytes.HasPrefix(input, []byte("\xfe\xff")):
		return nil, Binary, errorf(ErrMalformed, "the file is UTF-16 text (Notepad's \"Unicode\"); save it as UTF-8 and try again")
	case !bom && len(input) > 0 && input[0]&0x80 != 0:
		if len(input) > MaxArtifactSize {
			return nil, Binary, errorf(ErrTooLarge, "message is %d bytes, at most %d allowed", len(input), MaxArtifactSize)
		}
		return input, Binary, nil
	case len(t) == 0:
		return nil, Binary, errorf(ErrMalformed, "input is empty")
	}
	return nil, Binary, errorf(ErrMalformed, "not an airlock artifact (expected ASCII armor, binary OpenPGP or %s text)", QRPrefix)
}

// dearmorMessage reads exactly one armored PGP MESSAGE block, more
// strictly than go-crypto's armor reader (which skips a block whose
// headers it cannot parse and reads on to the next): the text must be one
// BEGIN line, "Key: Value" headers, a blank line, Base64 lines, an optional
// CRC-24 line that must match, and one END line, with nothing around it but
// whitespace. gpg refuses what this refuses.
func dearmorMessage(t []byte) ([]byte, error) {
	const begin, end = "-----BEGIN PGP MESSAGE-----", "-----END PGP MESSAGE-----"
	text := strings.ReplaceAll(string(t), "\r\n", "\n")
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t\r")
	}
	if lines[0] != begin {
		if strings.HasPrefix(lines[0], "-----BEGIN ") {
			return nil, errorf(ErrMalformed, "found a %s, not an airlock artifact (PGP MESSAGE)", strings.Trim(lines[0], "- "))
		}
		return nil, errorf(ErrMalformed, "armor: first line is not %q", begin)
	}
	last := lines[len(lines)-1]
	switch begins, ends := strings.Count(text, "-----BEGIN "), strings.Count(text, "-----END "); {
	case begins > 1 || ends > 1:
		return nil, errorf(ErrMalformed, "armor: more than one armored block; give one artifact per file")
	case ends == 0 || last != end && strings.HasPrefix(end, last):
		return nil, errorf(ErrMalformed, "armor: the %q line is missing: the file was cut short; copy the whole file again", end)
	case !strings.HasPrefix(last, "-----END "):
		return nil, errorf(ErrMalformed, "armor: text follows the %q line; give the file as it was sent, without additions", end)
	case last != end:
		return nil, errorf(ErrMalformed, "armor: the last line is not %q; the file was damaged or altered: copy it again", end)
	}
	i := 1
	for ; i < len(lines)-1 && lines[i] != ""; i++ {
		if !strings.Contains(lines[i], ": ") {
			// No blank line after the headers, or a broken header.
			return nil, errorf(ErrMalformed, "armor: line %d is neither a header nor the blank line before the data", i+1)
		}
	}
	if i >= len(lines)-1 {
		return nil, errorf(ErrMalformed, "armor: no data; the file was cut")
	}
	var body strings.Builder
	var crc string
	for i++; i < len(lines)-1; i++ {
		l := lines[i]
		if strings.HasPrefix(l, "=") {
			if crc != "" || i != len(lines)-2 {
				return nil, errorf(ErrMalformed, "armor: the checksum line must come last, once")
			}
			crc = l[1:]
			continue
		}
		body.WriteString(l)
	}
	if body.Len() > MaxEncodedSize {
		return nil, errorf(ErrTooLarge, "armored message is larger than %d bytes", MaxEncodedSize)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(body.String())
	if err != nil {
		return nil, errorf(ErrMalformed, "armor: data is not Base64; the file was damaged or altered: copy it again")
	}
	if crc != "" {
		want, err := base64.StdEncoding.Strict().DecodeString(crc)
		got := crc24(b)
		if err != nil || len(want) != 3 || want[0] != byte(got>>16) || want[1] != byte(got>>8) || want[2] != byte(got) {
			return nil, errorf(ErrMalformed, "armor: checksum does not match; the file was damaged or altered: copy it again")
		}
	}
	if len(b) > MaxArtifactSize {
		return nil, errorf(ErrTooLarge, "message is larger than %d bytes", MaxArtifactSize)
	}
	return b, nil
}

// crc24 is the OpenPGP armor checksum (RFC 4880, section 6.1).
func crc24(b []byte) uint32 {
	crc := uint32(0xB704CE)
	for _, c := range b {
		crc ^= uint32(c) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864CFB
			}
		}
	}
	return crc & 0xFFFFFF
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

// DecodeQRText reverses [EncodeQRText]. Surrounding whitespace (CRLF
// included) and a leading byte-order mark are ignored; the inflated size is
// bounded by [MaxArtifactSize].
func DecodeQRText(s string) ([]byte, error) {
	if len(s) > MaxEncodedSize {
		return nil, errorf(ErrTooLarge, "QR text is %d characters, at most %d allowed", len(s), MaxEncodedSize)
	}
	s = strings.TrimSpace(strings.TrimPrefix(s, string(byteOrderMark)))
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
