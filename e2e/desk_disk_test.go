//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDeskFullDisk puts the desk (its ledger and key files) on a small
// tmpfs and fills it, first to 2 MiB free and then to nothing: every desk
// command that writes must refuse with one line that speaks of free space
// (never "damaged"), leave no output file behind (a licence file the
// ledger does not count would be an activation the vendor never sees),
// and lose nothing: once space is freed, the ledger holds every earlier
// activation, and the desk signs a licence that a host imports.
func TestDeskFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, 24)
	w := newWorld(t)
	w.desk = filepath.Join(mnt, "desk")
	w.initDesk()
	key := w.newKey(20, "dataflow,workflow")
	first := w.activate(key, "l1")
	// A deactivation receipt of the host's licence, for the desk to take
	// back; then the host's next request.
	w.must("activator", "deactivate", "-o", "l1.deact")
	w.request(key, "l2.req")
	for i, name := range []string{"b1.req", "b2.req", "b3.req"} {
		req, _ := simulatedRequest(t, key, i, "deskfull")
		if err := os.WriteFile(filepath.Join(w.root, name), req, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// One licence signed for a simulated host, to revoke on the full disk.
	w.must("issuer", "sign", "b3.req", "-o", "b3.lic")
	revokee := licenceID(t, filepath.Join(w.root, "b3.lic"))
	if err := os.Mkdir(filepath.Join(w.root, "batch"), 0o700); err != nil {
		t.Fatal(err)
	}
	ledger := func(when string) []string {
		t.Helper()
		p := w.mustWhen(when, "issuer", "ledger", "--json")
		var l deskLedger
		if err := json.Unmarshal(p.stdout.Bytes(), &l); err != nil {
			t.Fatalf("%s: issuer ledger --json: %v", when, err)
		}
		var ids []string
		for _, a := range l.Activations {
			ids = append(ids, a.LicenseID)
		}
		slices.Sort(ids)
		return ids
	}
	before := ledger("before the disk fills")
	if len(before) != 2 || !slices.Contains(before, first) || !slices.Contains(before, revokee) {
		t.Fatalf("before the disk fills, the ledger holds %v; want %s and %s", before, first, revokee)
	}

	writers := [][]string{
		{"issuer", "sign", "l2.req", "-o", "l2.lic"},
		{"issuer", "sign", "b1.req", "b2.req", "-o", "batch"},
		{"issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow", "--clients", "1"},
		{"issuer", "deactivate", "--force", "l1.deact"},
		{"issuer", "revoke", revokee, "--reason", "refunded"},
		{"issuer", "revocations", "-o", "list.rev"},
	}
	outputs := []string{"l2.lic", "batch/b1.lic", "batch/b2.lic", "list.rev"}
	var fillers []string
	for _, leave := range []int64{2 << 20, 0} {
		fillers = append(fillers, fill(t, mnt, "filler"+strings.Repeat("x", len(fillers)), leave))
		t.Logf("tmpfs filled: %d KiB free", freeBytes(t, mnt)>>10)
		for _, args := range writers {
			p := w.run(args[0], args[1:]...)
			msg := strings.TrimSpace(p.stderr.String())
			if p.code != 1 || strings.Contains(msg, "\n") || !(strings.Contains(msg, "free") || strings.Contains(msg, "space")) || strings.Contains(msg, "damaged") {
				t.Errorf("%d KiB free: want exit 1 and one line saying free space is missing (not that the desk is damaged): %s", freeBytes(t, mnt)>>10, p)
			}
		}
		for _, f := range outputs {
			if exists(filepath.Join(w.root, f)) {
				t.Errorf("%d KiB free: a refused command left %s behind", freeBytes(t, mnt)>>10, f)
			}
		}
		// Reading the desk needs no space.
		if got := ledger("on the full disk"); !slices.Equal(got, before) {
			t.Errorf("on the full disk the ledger holds %v, want %v", got, before)
		}
		w.mustWhen("on the full disk", "issuer", "keys", "list")
	}

	for _, f := range fillers {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("space freed: %d KiB free", freeBytes(t, mnt)>>10)
	if got := ledger("after freeing space"); !slices.Equal(got, before) {
		t.Fatalf("after freeing space the ledger holds %v, want %v", got, before)
	}
	for _, args := range writers {
		w.mustWhen("after freeing space", args[0], args[1:]...)
	}
	for _, f := range outputs {
		if !exists(filepath.Join(w.root, f)) {
			t.Errorf("after freeing space, %s was not written", f)
		}
	}
	after := ledger("after signing again")
	if len(after) != len(before)+3 {
		t.Fatalf("after freeing space and signing three requests the ledger holds %v (before: %v)", after, before)
	}
	next := licenceID(t, filepath.Join(w.root, "l2.lic"))
	w.must("activator", "import", "l2.lic")
	if got := w.activeLicence("after importing the licence signed once space was freed"); got != next {
		t.Fatalf("the active licence is %q, want %s", got, next)
	}
}
