package format

import (
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"testing"
)

func TestBase45RFC9285(t *testing.T) {
	for in, want := range map[string]string{"AB": "BB8", "Hello!!": "%69 VD92EX0", "base-45": "UJCLQE7W581", "ietf!": "QED8WEX0", "": ""} {
		if got := base45Encode([]byte(in)); got != want {
			t.Errorf("encode %q = %q, want %q", in, got, want)
		}
		got, err := base45Decode(want)
		if err != nil || string(got) != in {
			t.Errorf("decode %q = %q, %v", want, got, err)
		}
	}
	for _, bad := range []string{"GGW", "ZZZ", "A", "ab8", "BB8A"} {
		if _, err := base45Decode(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("decode %q: %v", bad, err)
		}
	}
}

func TestQRTextRoundTrip(t *testing.T) {
	msg := []byte("\xc4\x0d\x03\x00\x0a\x16 any binary message \x00\xff")
	q := EncodeQRText(msg)
	if !strings.HasPrefix(q, QRPrefix) {
		t.Fatalf("prefix: %q", q)
	}
	for _, c := range q {
		if !strings.ContainsRune(base45Alphabet, c) && c != ':' {
			t.Fatalf("%q is outside the QR alphanumeric set", c)
		}
	}
	for _, in := range []string{q, " \n" + q + "\r\n\t"} {
		got, err := DecodeQRText(in)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("decode: %v", err)
		}
		got, enc, err := Decode([]byte(in))
		if err != nil || enc != QRText || !bytes.Equal(got, msg) {
			t.Fatalf("Decode: %v %v", enc, err)
		}
	}
}

func TestQRTextRefusals(t *testing.T) {
	var bomb bytes.Buffer
	w, _ := flate.NewWriter(&bomb, flate.BestCompression)
	w.Write(make([]byte, 10*MaxArtifactSize))
	w.Close()
	if _, err := DecodeQRText(QRPrefix + base45Encode(bomb.Bytes())); !errors.Is(err, ErrTooLarge) {
		t.Errorf("deflate bomb: %v", err)
	}
	valid := EncodeQRText([]byte("message"))
	z, _ := base45Decode(valid[len(QRPrefix):])
	cases := map[string]error{
		"wrong prefix":       ErrMalformed,
		valid[:len(valid)-3]: ErrMalformed, // cut
		QRPrefix + base45Encode(append(append([]byte(nil), z...), 1, 2, 3)): ErrMalformed, // data after the stream
		QRPrefix + "AB": ErrMalformed,
		QRPrefix + strings.Repeat("A", MaxEncodedSize): ErrTooLarge,
	}
	for in, want := range cases {
		if _, err := DecodeQRText(in); !errors.Is(err, want) {
			t.Errorf("%.40q: %v, want %v", in, err, want)
		}
	}
}

func TestDecodeDetection(t *testing.T) {
	msg := []byte{0xc4, 0x0d, 0x03}
	if b, enc, err := Decode(msg); err != nil || enc != Binary || !bytes.Equal(b, msg) {
		t.Errorf("binary: %v %v", enc, err)
	}
	arm := Armor(msg, KindResponse)
	if b, enc, err := Decode(arm); err != nil || enc != Armored || !bytes.Equal(b, msg) {
		t.Errorf("armored: %v %v", enc, err)
	}
	// Armor headers are not covered by the signature and are ignored.
	withHeaders := bytes.Replace(arm, []byte("Comment: airlock response"), []byte("Comment: airlock request\nVersion: evil"), 1)
	if b, _, err := Decode(withHeaders); err != nil || !bytes.Equal(b, msg) {
		t.Errorf("headers: %v", err)
	}
	key := armorBytes("PGP PUBLIC KEY BLOCK", msg, nil)
	for in, want := range map[string]error{
		"":                                     ErrMalformed,
		"{\"format\":1}":                       ErrMalformed,
		string(key):                            ErrMalformed,
		string(arm[:40]):                       ErrMalformed,
		"-----BEGIN PGP SIGNED MESSAGE-----\n": ErrPacketSequence,
		string(make([]byte, MaxEncodedSize+1)): ErrTooLarge,
	} {
		if _, _, err := Decode([]byte(in)); !errors.Is(err, want) {
			t.Errorf("%.30q: %v, want %v", in, err, want)
		}
	}
	big := append([]byte{0xc4}, make([]byte, MaxArtifactSize)...)
	if _, _, err := Decode(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("large binary: %v", err)
	}
}
