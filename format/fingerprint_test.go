package format

import (
	"errors"
	"testing"
)

func TestHashComponentKnownValues(t *testing.T) {
	// Computed independently (Python hmac): base64url(HMAC-SHA-256(key=product, raw)[:16]).
	raw := "0123456789abcdef0123456789abcdef"
	if got := HashComponent("astera", raw); got != "kAZv5ida0DmF52ADHfp2dQ" {
		t.Errorf("astera: %s", got)
	}
	if got := HashComponent("other-product", raw); got != "k3NZ8pkXPfTiXi5a8yPDHw" {
		t.Errorf("other-product: %s (two products must see unlinkable values)", got)
	}
}

func TestDefaultThreshold(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 4, 16: 15} {
		if got := DefaultThreshold(n); got != want {
			t.Errorf("DefaultThreshold(%d) = %d, want %d", n, got, want)
		}
		if n >= 3 && DefaultThreshold(n) < 2 {
			t.Errorf("DefaultThreshold(%d) below 2", n)
		}
	}
}

func fp(kv ...string) Fingerprint {
	f := Fingerprint{Components: map[string]string{}}
	for i := 0; i < len(kv); i += 2 {
		f.Components[kv[i]] = HashComponent("astera", kv[i+1])
	}
	return f
}

func TestMatch(t *testing.T) {
	rec := fp("machine-id", "m1", "mac", "aa", "root-disk", "d1")
	cases := []struct {
		name    string
		now     Fingerprint
		thresh  int
		ok      bool
		matched int
	}{
		{"same host", fp("machine-id", "m1", "mac", "aa", "root-disk", "d1"), 0, true, 3},
		{"NIC replaced", fp("machine-id", "m1", "mac", "bb", "root-disk", "d1"), 0, true, 2},
		{"NIC removed", fp("machine-id", "m1", "root-disk", "d1"), 0, true, 2},
		{"new component only adds", fp("machine-id", "m1", "mac", "aa", "root-disk", "d1", "dmi-product-uuid", "u"), 0, true, 3},
		{"other machine, cloned machine-id", fp("machine-id", "m1", "mac", "cc", "root-disk", "d2"), 0, false, 1},
		{"other machine", fp("machine-id", "m2", "mac", "cc", "root-disk", "d2"), 0, false, 0},
		{"strict threshold", fp("machine-id", "m1", "mac", "bb", "root-disk", "d1"), 3, false, 2},
		{"nothing now", fp(), 0, false, 0},
	}
	for _, c := range cases {
		r := rec
		r.Threshold = c.thresh
		m := Match(r, c.now)
		if m.OK() != c.ok || m.Matched != c.matched || m.Total != 3 {
			t.Errorf("%s: %+v", c.name, m)
		}
		err := m.Err()
		var he *HostMismatchError
		if c.ok != (err == nil) || !c.ok && (!errors.As(err, &he) || he.Matched != c.matched || !errors.Is(err, ErrHostMismatch)) {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
	if m := Match(rec, fp("machine-id", "m1", "mac", "bb", "root-disk", "d1")); len(m.Changed) != 1 || m.Changed[0] != "mac" {
		t.Errorf("changed: %v", m.Changed)
	}
}

func TestFingerprintValidate(t *testing.T) {
	good := fp("machine-id", "m1", "mac", "aa", "root-disk", "d1")
	if err := good.validate(false); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		f    Fingerprint
		resp bool
	}{
		{"empty", fp(), false},
		{"threshold in request", Fingerprint{Components: good.Components, Threshold: 2}, false},
		{"threshold 1 of 3", Fingerprint{Components: good.Components, Threshold: 1}, true},
		{"threshold above total", Fingerprint{Components: good.Components, Threshold: 4}, true},
		{"missing threshold in response", good, true},
		{"raw value", Fingerprint{Components: map[string]string{"mac": "52:54:00:12:34:56"}}, false},
		{"bad name", Fingerprint{Components: map[string]string{"MAC": HashComponent("a", "b")}}, false},
	}
	for _, c := range bad {
		if err := c.f.validate(c.resp); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	many := Fingerprint{Components: map[string]string{}}
	for i := 0; i <= MaxComponents; i++ {
		many.Components[string(rune('a'+i))] = HashComponent("a", "b")
	}
	if err := many.validate(false); !errors.Is(err, ErrMalformed) {
		t.Errorf("too many components: %v", err)
	}
}
