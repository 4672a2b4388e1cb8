package issuer

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The desk's ledger under years of commands (issue 12, part 2): every
// command opens and closes the ledger, as the CLI does, and the files it
// leaves stay bounded by what it holds, not by how many commands ran.
// make test runs 500 commands; make soak runs AIRLOCK_SOAK (100,000).
func TestSoakLedger(t *testing.T) {
	n := 500
	if v, err := strconv.Atoi(os.Getenv("AIRLOCK_SOAK")); err == nil && v > 0 {
		n = v
	}
	d, c := newDesk(t)
	signer := d.signer
	key := oneKey(t, d, KeyOptions{Activations: 1_000_000})
	cfg := d.cfg
	d.Close()
	// A request whose product key the desk never sold: refused.
	unsold := newHost(t, "m-x", "mac-x", "disk-x").request(t, "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH", "9.1.0", c.Now())
	activations := 0
	start := time.Now()
	for i := range n {
		c.Add(time.Minute)
		d, err := OpenDesk(cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 10 {
		case 0: // issuer sign, a new host
			d.signer = signer // the passphrase's key derivation is not under test
			h := newHost(t, fmt.Sprintf("m-%d", i), fmt.Sprintf("mac-%d", i), fmt.Sprintf("disk-%d", i))
			if _, err := d.Sign(h.request(t, key, "9.1.0", c.Now())); err != nil {
				t.Fatalf("command %d: %v", i, err)
			}
			activations++
		case 1: // issuer sign, refused
			d.signer = signer
			if _, err := d.Sign(unsold); err == nil {
				t.Fatal("a request with an unsold key was signed")
			}
		default: // issuer keys list
			if _, err := d.Keys(); err != nil {
				t.Fatal(err)
			}
		}
		d.Close()
		if (i+1)%(max(n/10, 1)) == 0 {
			f, b := ledgerUse(t, cfg.Dir)
			t.Logf("%7d commands, %6d activations: %2d files, %9d bytes (%v)", i+1, activations, f, b, time.Since(start).Round(time.Second))
		}
	}
	files, size := ledgerUse(t, cfg.Dir)
	// Tables are 2 MiB (ledgerOptions): files grow with what the ledger
	// holds, by one per 2 MiB, and by nothing else.
	if limit := 20 + int(size>>21); files > limit {
		t.Errorf("after %d commands (%d activations) the ledger has %d files, %d bytes; at most %d", n, activations, files, size, limit)
	}
}

func ledgerUse(t *testing.T, dir string) (files int, size int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && fi.Mode().IsRegular() {
			files++
			size += fi.Size()
		}
	}
	return files, size
}
