package format

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func testKeys(t *testing.T, n int) []ProductKey {
	r := newDetRand("product-keys")
	var ks []ProductKey
	for i := 0; i < n; i++ {
		k, err := NewProductKey(r)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	return ks
}

func TestProductKeyRoundTrip(t *testing.T) {
	for _, k := range testKeys(t, 100) {
		s := k.String()
		if len(s) != 29 || strings.Count(s, "-") != 4 {
			t.Fatalf("bad form %q", s)
		}
		got, err := ParseProductKey(s)
		if err != nil || got != k {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestProductKeyNormalisation(t *testing.T) {
	k := testKeys(t, 1)[0]
	s := k.String()
	variants := []string{
		strings.ToLower(s),
		strings.ReplaceAll(s, "-", ""),
		strings.ReplaceAll(s, "-", " "),
		"  " + strings.ReplaceAll(strings.ToLower(s), "-", "") + " ",
		strings.NewReplacer("0", "O", "1", "I").Replace(s),
		strings.NewReplacer("0", "o", "1", "l").Replace(s),
		"\ufeff" + s + "\r\n", // pasted from a file Notepad saved
		strings.ReplaceAll(s, "-", "\r\n"),
	}
	for _, v := range variants {
		got, err := ParseProductKey(v)
		if err != nil || got != k {
			t.Errorf("ParseProductKey(%q) = %v, %v; want %s", v, got, err, s)
		}
	}
}

// TestProductKeyDetectsTypos checks the promise exhaustively on many keys:
// every single-character substitution and every adjacent transposition
// (also across group boundaries, as typed without dashes) is refused, and
// the error names a group that contains the typo.
func TestProductKeyDetectsTypos(t *testing.T) {
	for _, k := range testKeys(t, 60) {
		s := strings.ReplaceAll(k.String(), "-", "")
		for i := 0; i < len(s); i++ {
			for _, c := range crockfordAlphabet {
				if byte(c) == s[i] {
					continue
				}
				typo := s[:i] + string(c) + s[i+1:]
				_, err := ParseProductKey(typo)
				var pe *ProductKeyError
				if !errors.As(err, &pe) || pe.Group != i/5+1 {
					t.Fatalf("substitution %q -> %q at %d: err %v, want group %d", s[i], c, i, err, i/5+1)
				}
			}
			if i+1 < len(s) && s[i] != s[i+1] {
				typo := s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
				_, err := ParseProductKey(typo)
				var pe *ProductKeyError
				if !errors.As(err, &pe) || (pe.Group != i/5+1 && pe.Group != (i+1)/5+1) {
					t.Fatalf("transposition at %d in %s: err %v", i, s, err)
				}
				if !errors.Is(err, ErrProductKey) {
					t.Fatalf("error does not match ErrProductKey: %v", err)
				}
			}
		}
	}
}

func TestProductKeyErrors(t *testing.T) {
	k := testKeys(t, 1)[0].String()
	cases := []struct {
		in    string
		group int
		text  string
	}{
		{"", 0, "has 0 characters"},
		{k[:28], 0, "has 24 characters"},
		{k + "7", 0, "has 26 characters"},
		{k[:6] + "U" + k[7:], 2, "has a U"},
		{k[:12] + "!" + k[13:], 3, `has '!'`},
		{"00000-00000-00000-00000-00000", 0, "all zeros"},
	}
	for _, c := range cases {
		_, err := ParseProductKey(c.in)
		var pe *ProductKeyError
		if !errors.As(err, &pe) || pe.Group != c.group || !strings.Contains(err.Error(), c.text) {
			t.Errorf("ParseProductKey(%q) = %v; want group %d containing %q", c.in, err, c.group, c.text)
		}
		if got, _ := ParseProductKey(c.in); !got.IsZero() {
			t.Errorf("ParseProductKey(%q) returned a key with its error", c.in)
		}
	}
}

// TestProductKeyRandomStrings measures how rarely a random string passes:
// five independent checks leave 1 in 32⁵ (about 3e-8).
func TestProductKeyRandomStrings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		var b [25]byte
		for j := range b {
			b[j] = crockfordAlphabet[r.IntN(32)]
		}
		if _, err := ParseProductKey(string(b[:])); err == nil {
			t.Fatalf("random string %s passed the checks", b)
		}
	}
}
