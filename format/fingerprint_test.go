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

// names returns a fingerprint with the named components.
func names(ns ...string) Fingerprint {
	var kv []string
	for _, n := range ns {
		kv = append(kv, n, n+"-value")
	}
	return fp(kv...)
}

func TestIssueThreshold(t *testing.T) {
	cases := []struct {
		f    Fingerprint
		want int
		weak bool
	}{
		{names("machine-id"), 1, true},
		{names("machine-id", "operator-id"), 2, true},
		// No machine-bound identifier: all must match, and it stays weak.
		{names("machine-id", "root-disk", "disk-serial"), 3, true},
		// A VM without SMBIOS: the MAC is the one machine-bound identifier,
		// so a disk clone with a new MAC (3 of 4) does not match.
		{names("machine-id", "mac", "root-disk", "disk-serial"), 4, false},
		{names("machine-id", "mac", "root-disk"), 3, false},
		// With the SMBIOS UUID a replaced NIC is tolerated (4 of 5), a clone
		// with a new MAC and UUID (3 of 5) is not.
		{names("machine-id", "dmi-product-uuid", "mac", "root-disk", "disk-serial"), 4, false},
		{names("machine-id", "dmi-product-uuid", "dmi-board-serial", "dmi-chassis-serial", "mac", "root-disk", "disk-serial"), 6, false},
		// Unknown names count as portable.
		{names("machine-id", "mac", "some-future-id"), 3, false},
		// Only root may read the SMBIOS identifiers: without another one
		// that stays with the machine, the product (no root) checks only
		// what a copy carries. (Found in review: a request with made-up
		// SMBIOS values, or one made as root in a container, rated strong.)
		{names("machine-id", "dmi-product-uuid", "dmi-board-serial"), 2, true},
		{names("machine-id", "dmi-product-uuid", "root-disk", "disk-serial"), 4, true},
		{names("machine-id", "operator-id", "dmi-product-uuid", "dmi-board-serial", "dmi-chassis-serial"), 4, true},
		// Fewer than 3 left without the root-only ones: the product checks
		// one or two, and any machine given them passes. (Found in review: a
		// netbooted host with SMBIOS ids and one NIC rated strong.)
		{names("dmi-product-uuid", "dmi-board-serial", "dmi-chassis-serial", "mac"), 3, true},
		{names("dmi-product-uuid", "dmi-board-serial", "mac", "machine-id"), 3, true},
		{names("dmi-product-uuid", "mac", "machine-id", "root-disk"), 3, false},
	}
	for _, c := range cases {
		b := c.f.Binding()
		if got := IssueThreshold(c.f); got != c.want || b.Threshold != got {
			t.Errorf("%v: threshold %d (binding %d), want %d", b.Names, got, b.Threshold, c.want)
		}
		if b.Weak != c.weak || (b.Weak && b.Reason == "") {
			t.Errorf("%v: weak %v (%q), want %v", b.Names, b.Weak, b.Reason, c.weak)
		}
		f := c.f
		f.Threshold = b.Threshold
		if err := f.validate(true); err != nil {
			t.Errorf("%v: the issued threshold does not validate: %v", b.Names, err)
		}
	}
	// The clone and the replaced NIC, as the comments above say.
	rec := names("machine-id", "dmi-product-uuid", "mac", "root-disk", "disk-serial")
	rec.Threshold = IssueThreshold(rec)
	nic := names("machine-id", "dmi-product-uuid", "root-disk", "disk-serial")
	nic.Components["mac"] = HashComponent("astera", "new")
	if !Match(rec, nic).OK() {
		t.Error("a replaced NIC does not match")
	}
	clone := names("machine-id", "root-disk", "disk-serial")
	if Match(rec, clone).OK() {
		t.Error("a disk clone with a new MAC and SMBIOS UUID matches")
	}
}
