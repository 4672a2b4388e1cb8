package format

import "strings"

// Base45 as specified in RFC 9285: every two bytes become three characters
// of the QR alphanumeric alphabet, a trailing byte becomes two.

const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

func base45Encode(b []byte) string {
	var s strings.Builder
	s.Grow(len(b)/2*3 + 2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[n/45%45])
		s.WriteByte(base45Alphabet[n/45/45])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[n/45])
	}
	return s.String()
}

func base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, errorf(ErrMalformed, "QR text: Base45 length %d is impossible; the text was cut or altered", len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		chunk := s[i:min(i+3, len(s))]
		n := 0
		for j := len(chunk) - 1; j >= 0; j-- {
			v := base45Index[chunk[j]]
			if v < 0 {
				return nil, errorf(ErrMalformed, "QR text: %q at position %d is not a Base45 character", chunk[j], i+j)
			}
			n = n*45 + int(v)
		}
		if len(chunk) == 3 {
			if n > 0xffff {
				return nil, errorf(ErrMalformed, "QR text: Base45 group at position %d is out of range", i)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, errorf(ErrMalformed, "QR text: Base45 group at position %d is out of range", i)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
