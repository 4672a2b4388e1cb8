package format

import (
	"fmt"
	"io"
	"strings"
)

// A product key is 25 characters of Crockford's Base32 in five groups of
// five, such as "7K3QD-0M2XA-...". Each group is four data characters and
// one check character, so the key carries a 100-bit random serial. The check
// character makes the group a codeword of a linear code over GF(32): with
// the group's symbols d0..d4 and α a generator of GF(32),
//
//	α·d0 + α²·d1 + α³·d2 + α⁴·d3 + α⁵·d4 = 0
//
// A single substitution changes the sum by αⁱ·e ≠ 0; swapping two
// different neighbours changes it by αⁱ(1+α)(dᵢ+dᵢ₊₁) ≠ 0; so every single
// substitution and every adjacent transposition within a group is detected,
// and the group that fails is the one to check. A transposition across a
// dash (last of one group, first of the next) is a substitution in each of
// the two groups, so it is detected too.

const (
	productKeyGroups    = 5
	productKeyGroupLen  = 5
	productKeyChars     = productKeyGroups * productKeyGroupLen
	crockfordAlphabet   = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	gf32Poly            = 0x25 // x⁵ + x² + 1, primitive
	productKeySerialLen = productKeyGroups * (productKeyGroupLen - 1) * 5 / 8
)

// ProductKey is a parsed, valid product key. Its String form is canonical:
// uppercase, five dash-separated groups.
type ProductKey struct {
	sym [productKeyChars]byte // symbol values 0..31
}

var (
	gfExp [62]byte // gfExp[i] = αⁱ, doubled to avoid a modulo
	gfLog [32]int
)

func init() {
	x := byte(1)
	for i := 0; i < 31; i++ {
		gfExp[i], gfExp[i+31] = x, x
		gfLog[x] = i
		x <<= 1
		if x&0x20 != 0 {
			x ^= gf32Poly
		}
	}
}

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[gfLog[a]+gfLog[b]]
}

// groupSyndrome returns Σ α^(i+1)·dᵢ over one group; zero for a codeword.
func groupSyndrome(g []byte) byte {
	var s byte
	for i, d := range g {
		s ^= gfMul(gfExp[i+1], d)
	}
	return s
}

// NewProductKey reads a random 100-bit serial from rand (crypto/rand.Reader
// in production) and returns the product key that carries it.
func NewProductKey(rand io.Reader) (ProductKey, error) {
	var serial [13]byte // 100 bits used
	if _, err := io.ReadFull(rand, serial[:]); err != nil {
		return ProductKey{}, fmt.Errorf("format: generate product key: %w", err)
	}
	if [12]byte(serial[:12]) == [12]byte{} && serial[12]&0xf0 == 0 {
		// The all-zero key is refused by ParseProductKey; a 2^-100 event.
		return ProductKey{}, fmt.Errorf("format: generate product key: the random source returned zeros")
	}
	var k ProductKey
	bit := 0
	for g := 0; g < productKeyGroups; g++ {
		grp := k.sym[g*productKeyGroupLen : (g+1)*productKeyGroupLen]
		for i := 0; i < productKeyGroupLen-1; i++ {
			var v byte
			for j := 0; j < 5; j++ {
				v = v<<1 | serial[bit/8]>>(7-bit%8)&1
				bit++
			}
			grp[i] = v
		}
		// Choose d4 so that the syndrome is zero: α⁵·d4 = Σ_{i<4} α^(i+1)·dᵢ
		// (characteristic 2: minus is plus).
		s := groupSyndrome(grp[:productKeyGroupLen-1])
		if s != 0 {
			grp[4] = gfExp[(gfLog[s]-5+31)%31]
		}
	}
	return k, nil
}

// ParseProductKey normalises and checks a product key as a person typed
// (or pasted) it: case does not matter, dashes, spaces and line ends are
// optional, a byte-order mark is ignored, O reads as 0 and I or L as 1.
// The error names the group that looks wrong.
func ParseProductKey(s string) (ProductKey, error) {
	k, err := parseProductKey(s)
	if err != nil {
		return ProductKey{}, err
	}
	return k, nil
}

func parseProductKey(s string) (ProductKey, error) {
	var k ProductKey
	n := 0
	for _, r := range s {
		switch r {
		case '-', ' ', '\t', '\r', '\n', '\ufeff':
			// Separators, line ends, and the byte-order mark of a key
			// pasted from a file an editor saved.
			continue
		}
		c := r
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if n >= productKeyChars {
			n++
			continue
		}
		v := strings.IndexRune(crockfordAlphabet, c)
		if v < 0 {
			if c == 'U' {
				return k, &ProductKeyError{Group: n/productKeyGroupLen + 1, Reason: "has a U, which product keys never contain; check that group"}
			}
			return k, &ProductKeyError{Group: n/productKeyGroupLen + 1, Reason: fmt.Sprintf("has %q, which product keys never contain; check that group", r)}
		}
		k.sym[n] = byte(v)
		n++
	}
	if n != productKeyChars {
		return k, &ProductKeyError{Reason: fmt.Sprintf("has %d characters, want %d (five groups of five); check that none is missing or extra", n, productKeyChars)}
	}
	for g := 0; g < productKeyGroups; g++ {
		if groupSyndrome(k.sym[g*productKeyGroupLen:(g+1)*productKeyGroupLen]) != 0 {
			return k, &ProductKeyError{Group: g + 1, Reason: fmt.Sprintf("(%s) has a typo; compare it with the key you were given", k.group(g))}
		}
	}
	if k.IsZero() {
		return k, &ProductKeyError{Reason: "is all zeros, which is never issued"}
	}
	return k, nil
}

func (k ProductKey) group(g int) string {
	var b [productKeyGroupLen]byte
	for i := range b {
		b[i] = crockfordAlphabet[k.sym[g*productKeyGroupLen+i]]
	}
	return string(b[:])
}

// String returns the canonical form, "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX".
func (k ProductKey) String() string {
	var b strings.Builder
	for g := 0; g < productKeyGroups; g++ {
		if g > 0 {
			b.WriteByte('-')
		}
		b.WriteString(k.group(g))
	}
	return b.String()
}

// IsZero reports whether k is the zero value, which is never a valid key.
func (k ProductKey) IsZero() bool { return k == ProductKey{} }
