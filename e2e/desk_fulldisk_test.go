//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
)

// deskMinFree is the free space below which the desk refuses to write
// (kv.minFreeBytes): the edge cases fill the disk to just that.
const deskMinFree = 8 << 20

// TestDeskFullDisk (issue 12, part 4) puts the licence desk (its ledger and
// key files) on a small tmpfs and fills it, nearly and then completely:
// every writing command must refuse in one line that speaks of free space
// (never of a damaged desk), print and leave no output, and change nothing
// the ledger holds; the read-only commands must still work. At the edge
// (just the space a write needs when it starts), a command of several
// transactions or files must either complete or say what it recorded and
// hand it out. Once space is freed the desk must be whole: every earlier
// activation in the ledger, the vendor key usable, and a licence signed
// then imports on a host.
func TestDeskFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, 32)
	w := newWorld(t)
	w.desk = filepath.Join(mnt, "desk")
	w.initDesk()
	key := w.newKey(1000, "dataflow,workflow")
	spare := w.newKey(1, "dataflow") // for keys revoke
	w.activate(key, "fd-base")
	// The host gives its licence back: the receipt for the desk.
	w.must("activator", "deactivate", "-o", "fd-base.deact")
	w.request(key, "fd-one.req")
	// A licence of another host, to revoke.
	otherReq := simulatedRequests(t, w, key, "fd-other", 1)
	w.must("issuer", "sign", otherReq[0], "-o", "fd-other.lic")
	other := licenceID(t, filepath.Join(w.root, "fd-other.lic"))
	batch := simulatedRequests(t, w, key, "fd-batch", 5)
	out := filepath.Join(mnt, "out") // outputs on the full disk too
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	before := w.deskState("before the disk fills")
	pub, err := os.ReadFile(w.vendorKey)
	if err != nil {
		t.Fatal(err)
	}
	secret := secretKeyFiles(t, w.desk)

	writers := []struct {
		name    string
		args    []string
		outputs []string // files that a refusal must not leave
	}{
		{"sign", []string{"sign", "fd-one.req", "-o", filepath.Join(out, "one.lic")}, []string{filepath.Join(out, "one.lic")}},
		{"sign (batch)", append(append([]string{"sign"}, batch...), "-o", out), nil},
		{"keys create", []string{"keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow", "--clients", "1", "--count", "3"}, nil},
		{"keys revoke", []string{"keys", "revoke", spare, "--reason", "refunded"}, nil},
		{"revoke", []string{"revoke", other, "--reason", "refunded"}, nil},
		{"deactivate (receipt)", []string{"deactivate", "fd-base.deact"}, nil},
		{"revocations", []string{"revocations", "-o", filepath.Join(out, "fd.rev")}, []string{filepath.Join(out, "fd.rev")}},
		{"init --rotate", []string{"init", "--rotate", "--name", "Example Vendor Licensing 2", "--email", "licensing@example.com", "--new-passphrase-file", w.passFile}, nil},
	}
	// refusedAll runs every writer and the read-only commands on the full
	// disk. Errorf, so that the recovery below runs whatever happens here.
	refusedAll := func(when string) {
		for _, c := range writers {
			p := w.run("issuer", c.args...)
			if !refusedForSpace(p) {
				t.Errorf("%s: %s: want exit 1 and one line saying that free space is missing (not that the desk is damaged): %s", when, c.name, p)
			}
			if s := strings.TrimSpace(p.stdout.String()); s != "" {
				t.Errorf("%s: %s: refused, but printed %q (keys or licences the refusal did not record?)", when, c.name, s)
			}
			for _, f := range c.outputs {
				if exists(f) {
					t.Errorf("%s: %s: refused, but left its output %s", when, c.name, f)
				}
			}
			if entries, _ := os.ReadDir(out); len(entries) > 0 {
				t.Errorf("%s: %s: refused, but %s holds files: %s", when, c.name, out, listing(out))
			}
			if got := secretKeyFiles(t, w.desk); !maps.Equal(got, secret) {
				t.Errorf("%s: %s: the desk's secret key files changed: %v, were %v", when, c.name, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(secret)))
			}
		}
		// Nothing changed, and reading works: the ledger, the keys, the
		// public key, an inspection.
		if got := w.deskStateErr(when); got != nil && !got.equal(before) {
			t.Errorf("%s: the ledger changed under refused commands:\n  before: %+v\n  now:    %+v", when, before, got)
		}
		pubNow := filepath.Join(w.root, fmt.Sprintf("pub-%d.asc", time.Now().UnixNano()))
		if p := w.run("issuer", "export-key", "-o", pubNow); p.code != 0 {
			t.Errorf("%s: export-key must work on a full disk: %s", when, p)
		} else if b, _ := os.ReadFile(pubNow); !bytes.Equal(b, pub) {
			t.Errorf("%s: export-key wrote another key than before", when)
		}
		if p := w.run("issuer", "inspect", "fd-one.req"); p.code != 0 {
			t.Errorf("%s: inspect must work on a full disk: %s", when, p)
		}
	}

	filler := fill(t, mnt, "filler", 2<<20)
	t.Logf("tmpfs of 32 MiB filled: %d KiB free", freeBytes(t, mnt)>>10)
	refusedAll("with 2 MiB free")
	filler2 := fill(t, mnt, "filler2", 0)
	t.Logf("tmpfs filled up: %d KiB free", freeBytes(t, mnt)>>10)
	refusedAll("with no space left")
	for _, f := range []string{filler, filler2} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Space freed: the desk is whole, and each command that was refused
	// now works (the rotation aside: it is the edge case below).
	if got := w.deskState("after freeing space"); !got.equal(before) {
		t.Fatalf("after freeing space the ledger is not what it was:\n  before: %+v\n  now:    %+v", before, got)
	}
	id := w.sign("fd-one.req", "fd-one.lic")
	if p := w.must("activator", "import", "fd-one.lic"); !strings.Contains(p.stdout.String(), "licence "+id+" imported") {
		t.Fatalf("after freeing space, the host imports the licence signed: %s", p)
	}
	w.must("issuer", append(append([]string{"sign"}, batch...), "-o", out)...)
	w.must("issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow", "--clients", "1", "--count", "3")
	w.must("issuer", "keys", "revoke", spare, "--reason", "refunded")
	w.must("issuer", "revoke", other, "--reason", "refunded")
	w.must("issuer", "deactivate", "fd-base.deact")
	w.must("issuer", "revocations", "-o", "fd.rev")
	w.must("activator", "import", "fd.rev")
	w.activeLicence("after importing the revocation list")

	// The edge: exactly the space a write needs when the command starts,
	// which its first steps use up. Each must complete, or refuse with
	// the desk as the ledger names it; what it recorded must be handed out.
	edge := func(name string, leave int64) string {
		f := fill(t, mnt, "edge-"+name, leave)
		t.Logf("%s: %d KiB free", name, freeBytes(t, mnt)>>10)
		return f
	}
	unfill := func(f string) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}

	// init --rotate: the new key file is written before the ledger
	// names it; a ledger refusing then must not leave it in place.
	f := edge("rotate", deskMinFree)
	p := w.run("issuer", writers[len(writers)-1].args...)
	unfill(f)
	rotated := p.code == 0
	if !rotated && !refusedForSpace(p) {
		t.Errorf("init --rotate at the edge: want success, or exit 1 and one line saying that free space is missing: %s", p)
	}
	if got := w.run("issuer", "revocations", "-o", "fd-rotate.rev"); got.code != 0 {
		t.Errorf("init --rotate at the edge (exit %d): afterwards the desk cannot sign: %s\n  the desk holds: %s", p.code, got, listing(w.desk))
	} else if !rotated {
		if got := secretKeyFiles(t, w.desk); !maps.Equal(got, secret) {
			t.Errorf("init --rotate at the edge was refused, but the desk's secret key files changed: %v", slices.Sorted(maps.Keys(got)))
		}
		w.must("activator", "import", "fd-rotate.rev") // signed by the key the host trusts
	}
	t.Logf("init --rotate at the edge: exit %d: %s", p.code, strings.TrimSpace(p.stderr.String()))

	// keys create of several transactions: the keys the ledger gained are
	// exactly the keys printed.
	keysBefore := w.productKeys("before keys create at the edge")
	f = edge("keys", deskMinFree+256<<10)
	p = w.run("issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow", "--clients", "1", "--count", "5000")
	unfill(f)
	printed := strings.Fields(p.stdout.String())
	added := map[string]bool{}
	for k := range w.productKeys("after keys create at the edge") {
		if !keysBefore[k] {
			added[k] = true
		}
	}
	switch {
	case p.code == 0 && len(printed) == 5000:
	case p.code == 1 && len(strings.Split(strings.TrimSpace(p.stderr.String()), "\n")) == 1 && strings.Contains(p.stderr.String(), "free"):
	default:
		t.Errorf("keys create --count 5000 at the edge: want 5000 keys, or exit 1 with one line that says free space is missing: %s", p)
	}
	if len(added) != len(printed) || !all(printed, added) {
		t.Errorf("keys create --count 5000 at the edge (exit %d): the ledger gained %d keys, %d were printed: the ledger must hold exactly the keys handed out", p.code, len(added), len(printed))
	}
	t.Logf("keys create --count 5000 at the edge: exit %d, %d keys printed and recorded: %s", p.code, len(printed), strings.TrimSpace(p.stderr.String()))

	// A batch of several transactions: every activation the ledger gained
	// has its licence written, and every licence written is one of them.
	big := simulatedRequests(t, w, key, "fd-big", 300)
	bigOut, again := filepath.Join(w.root, "fd-big-out"), filepath.Join(w.root, "fd-big-again")
	os.Mkdir(bigOut, 0o755)
	os.Mkdir(again, 0o755)
	ledgerBefore := w.deskState("before the big batch")
	f = edge("batch", deskMinFree+256<<10)
	p = w.run("issuer", append(append([]string{"sign"}, big...), "-o", bigOut)...)
	unfill(f)
	ledgerAfter := w.deskState("after the big batch at the edge")
	gained := map[string]string{} // request id -> licence id
	for lid, a := range ledgerAfter.activations {
		if _, ok := ledgerBefore.activations[lid]; !ok {
			gained[a.RequestID] = lid
		}
	}
	written := map[string]string{}
	entries, _ := os.ReadDir(bigOut)
	for _, e := range entries {
		r := decodeResponse(t, filepath.Join(bigOut, e.Name()))
		if r == nil {
			t.Errorf("big batch at the edge: %s is not a licence", e.Name())
			continue
		}
		written[string(r.RequestID)] = string(r.LicenseID)
	}
	if !maps.Equal(gained, written) {
		t.Errorf("big batch at the edge (exit %d): the ledger gained %d activations, %d licences were written; they must be the same (a licence the ledger lacks was never counted, an activation without its licence is one the host never gets): %s",
			p.code, len(gained), len(written), p)
	}
	if p.code != 0 {
		lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
		if last := lines[len(lines)-1]; p.code != 1 || !strings.Contains(last, "free") || strings.Contains(last, "damaged") {
			t.Errorf("big batch at the edge: want success, or exit 1 ending with a line that says free space is missing: %s", p)
		}
	}
	t.Logf("big batch of %d at the edge: exit %d, %d activations recorded and written: %s", len(big), p.code, len(gained), lastLine(p.stderr.String()))
	// Signed again with space: all of it, the same licences for those
	// recorded.
	ap := w.must("issuer", append(append([]string{"sign"}, big...), "-o", again)...)
	if n := strings.Count(ap.stdout.String(), "\n"); n != len(big) {
		t.Fatalf("the big batch signed again: %d lines, want %d: %s", n, len(big), ap)
	}
	for reqID, lid := range gained {
		if !strings.Contains(ap.stdout.String(), "licence "+lid+" ") {
			t.Errorf("the big batch signed again does not give licence %s (request %s) again", lid, reqID)
		}
	}

	// And at last: every activation ever recorded is still there, and a
	// new licence imports on the host.
	final := w.deskState("at the end")
	for lid := range before.activations {
		if _, ok := final.activations[lid]; !ok {
			t.Errorf("activation %s is no longer in the ledger", lid)
		}
	}
	if rotated {
		os.Remove(w.vendorKey)
		w.must("issuer", "export-key", "--all", "-o", w.vendorKey)
	}
	w.request(key, "fd-last.req")
	id = w.sign("fd-last.req", "fd-last.lic")
	w.must("activator", "import", "fd-last.lic")
	if got := w.activeLicence("after the last import"); got != id {
		t.Fatalf("the last licence signed, %s, is not the active one: %s", id, got)
	}
}

// TestDeskFullDiskLargeLedger fills the disk of a ledger of tens of
// megabytes to just above the fixed margin a small store needs: Badger's
// compaction at the close of a sign rewrites more than that through memory
// maps, and a disk that fills up under them kills the process with SIGBUS
// (it did: after the licence was written, exit 2 and a goroutine dump).
// The sign must refuse in one line, saying how much it needs; given that,
// it must work.
func TestDeskFullDiskLargeLedger(t *testing.T) {
	mnt := mountTmpfs(t, 160)
	w := newWorld(t)
	w.desk = filepath.Join(mnt, "desk")
	w.initDesk()
	key := w.newKey(10, "dataflow,workflow")
	start := time.Now()
	for range 12 { // 120,000 keys: about 35 MB of tables
		w.must("issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow,workflow,subflow", "--clients", "1", "--count", "10000")
	}
	t.Logf("a ledger of 120,000 product keys in %v: %s", time.Since(start).Round(time.Millisecond), listingSize(w.desk))
	base := w.activate(key, "ll-base")
	w.request(key, "ll.req")

	f := fill(t, mnt, "filler", deskMinFree+1<<20)
	t.Logf("%d KiB free", freeBytes(t, mnt)>>10)
	p := w.run("issuer", "sign", "ll.req", "-o", "ll.lic")
	os.Remove(f)
	if p.code == 0 {
		t.Logf("the sign with 9 MiB free completed: %s", strings.TrimSpace(p.stdout.String()))
	} else if !refusedForSpace(p) {
		t.Fatalf("sign on a large ledger with 9 MiB free: want success or exit 1 and one line saying that free space is missing (a crash of Badger's compaction is exit 2 with a dump): %s", p)
	} else {
		t.Logf("with 9 MiB free: %s", strings.TrimSpace(p.stderr.String()))
		m := regexp.MustCompile(`needs (\d+) MiB`).FindStringSubmatch(p.stderr.String())
		if m == nil {
			t.Fatalf("the refusal does not say how much space it needs: %s", p)
		}
		need, _ := strconv.ParseInt(m[1], 10, 64)
		f = fill(t, mnt, "filler", need<<20+64<<10)
		t.Logf("%d KiB free", freeBytes(t, mnt)>>10)
		p = w.run("issuer", "sign", "ll.req", "-o", "ll.lic")
		os.Remove(f)
		if p.code != 0 {
			t.Fatalf("sign with the %d MiB free that the refusal asked for: %s", need, p)
		}
	}
	id := licenceID(t, filepath.Join(w.root, "ll.lic"))
	// The ledger as CSV, searched (its JSON, of 120,000 keys, is slow to decode under -race).
	led := w.must("issuer", "ledger", "--csv").stdout.String()
	for _, l := range []string{base, id} {
		if !strings.Contains(led, ","+key+",astera,9,"+l+",") { // an activation or reinstall row
			t.Fatalf("activation %s is not in the ledger; its rows: %q", l, regexp.MustCompile(".*"+l+".*").FindAllString(led, -1))
		}
	}
	w.must("activator", "import", "ll.lic")
	if got := w.activeLicence("after importing ll.lic"); got != id {
		t.Fatalf("the active licence is %s, want %s", got, id)
	}
}

// listingSize sums the sizes of a directory's files, for logs.
func listingSize(dir string) string {
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return fmt.Sprintf("%d files, %d KiB", len(entries), n>>10)
}

// TestDeskFullDiskOutput signs onto a full disk while the desk has room:
// the activation is recorded, the command says so and says to sign again,
// no partial licence is left, and signing again gives the same licence.
func TestDeskFullDiskOutput(t *testing.T) {
	mnt := mountTmpfs(t, 1)
	w := newWorld(t)
	w.initDesk()
	key := w.newKey(10, "dataflow,workflow")
	w.request(key, "fo.req")
	filler := fill(t, mnt, "filler", 0)
	lic := filepath.Join(mnt, "fo.lic")
	p := w.run("issuer", "sign", "fo.req", "-o", lic)
	msg := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")[0]
	if p.code != 1 || !strings.Contains(msg, "no space left") || !strings.Contains(msg, "sign the same request again") {
		t.Fatalf("sign onto a full disk: want exit 1 and a line that says the disk is full and to sign again: %s", p)
	}
	if entries, _ := os.ReadDir(mnt); len(entries) != 1 {
		t.Fatalf("sign onto a full disk left files beside the filler: %s", listing(mnt))
	}
	var led deskLedger
	json.Unmarshal(w.must("issuer", "ledger", "--json").stdout.Bytes(), &led)
	if len(led.Activations) != 1 || !strings.Contains(msg, "licence "+led.Activations[0].LicenseID+" is recorded") {
		t.Fatalf("sign onto a full disk: the ledger holds %d activations; the message must name the one recorded: %s", len(led.Activations), p)
	}
	os.Remove(filler)
	id := w.sign("fo.req", "fo.lic")
	if id != led.Activations[0].LicenseID {
		t.Fatalf("signed again after freeing space: licence %s, the ledger recorded %s", id, led.Activations[0].LicenseID)
	}
	w.must("activator", "import", "fo.lic")
}

// refusedForSpace reports whether p exited 1 with one line that speaks of
// free space or a full disk, and not of damage or a crash.
func refusedForSpace(p *proc) bool {
	msg := strings.ToLower(strings.TrimSpace(p.stderr.String()))
	return p.code == 1 && msg != "" && !strings.Contains(msg, "\n") &&
		(strings.Contains(msg, "free") || strings.Contains(msg, "disk is full")) &&
		!strings.Contains(msg, "damaged") && !strings.Contains(msg, "panic")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func all(keys []string, in map[string]bool) bool {
	for _, k := range keys {
		if !in[k] {
			return false
		}
	}
	return true
}

// simulatedRequests writes n requests of simulated hosts into a directory
// name of the world's root and returns their paths (relative to it).
func simulatedRequests(t *testing.T, w *world, key, name string, n int) []string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(w.root, name), 0o755); err != nil {
		t.Fatal(err)
	}
	var out []string
	for h := range n {
		b, _ := simulatedRequest(t, key, h, name)
		f := filepath.Join(name, fmt.Sprintf("host%03d.req", h))
		if err := os.WriteFile(filepath.Join(w.root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// secretKeyFiles maps the desk's secret key files to their contents.
func secretKeyFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.sec.asc*"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range m {
		b, _ := os.ReadFile(f)
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// deskActivation is what the full-disk test compares of an activation.
type deskActivation struct {
	RequestID    string     `json:"request_id"`
	ProductKey   string     `json:"product_key"`
	SupersededBy string     `json:"superseded_by"`
	Deactivated  *time.Time `json:"deactivated"`
	Revoked      *time.Time `json:"revoked"`
}

// deskKey is what it compares of a product key.
type deskKey struct {
	Used    int        `json:"used"`
	Revoked *time.Time `json:"revoked"`
}

// deskSnapshot is the ledger as `issuer ledger --json` shows it.
type deskSnapshot struct {
	activations map[string]deskActivation // by licence id
	keys        map[string]deskKey
}

func (s *deskSnapshot) equal(o *deskSnapshot) bool {
	return maps.EqualFunc(s.activations, o.activations, func(a, b deskActivation) bool {
		return a.RequestID == b.RequestID && a.ProductKey == b.ProductKey && a.SupersededBy == b.SupersededBy &&
			(a.Deactivated == nil) == (b.Deactivated == nil) && (a.Revoked == nil) == (b.Revoked == nil)
	}) && maps.EqualFunc(s.keys, o.keys, deskKey.same)
}

func (a deskKey) same(b deskKey) bool {
	return a.Used == b.Used && (a.Revoked == nil) == (b.Revoked == nil)
}

// deskStateErr reads the ledger (with Errorf on failure, returning nil).
func (w *world) deskStateErr(when string) *deskSnapshot {
	w.t.Helper()
	p := w.run("issuer", "ledger", "--json")
	if p.code != 0 {
		w.t.Errorf("%s: the ledger must read: %s", when, p)
		return nil
	}
	var l struct {
		ProductKeys []struct {
			Key string `json:"product_key"`
			deskKey
		} `json:"product_keys"`
		Activations []struct {
			LicenseID string `json:"license_id"`
			deskActivation
		} `json:"activations"`
	}
	if err := json.Unmarshal(p.stdout.Bytes(), &l); err != nil {
		w.t.Errorf("%s: ledger --json: %v: %s", when, err, p)
		return nil
	}
	s := &deskSnapshot{activations: map[string]deskActivation{}, keys: map[string]deskKey{}}
	for _, a := range l.Activations {
		s.activations[a.LicenseID] = a.deskActivation
	}
	for _, k := range l.ProductKeys {
		s.keys[k.Key] = k.deskKey
	}
	// keys list agrees with the ledger.
	kp := w.run("issuer", "keys", "list", "--json")
	var keys []struct {
		Key string `json:"product_key"`
		deskKey
	}
	if kp.code != 0 || json.Unmarshal(kp.stdout.Bytes(), &keys) != nil || len(keys) != len(s.keys) {
		w.t.Errorf("%s: keys list --json must read and list the ledger's %d keys: %s", when, len(s.keys), kp)
		return nil
	}
	for _, k := range keys {
		if !s.keys[k.Key].same(k.deskKey) {
			w.t.Errorf("%s: keys list shows %s as %+v, the ledger as %+v", when, k.Key, k.deskKey, s.keys[k.Key])
		}
	}
	return s
}

// deskState is deskStateErr, failing the test at once.
func (w *world) deskState(when string) *deskSnapshot {
	w.t.Helper()
	s := w.deskStateErr(when)
	if s == nil {
		w.t.FailNow()
	}
	return s
}

// productKeys returns the set of the desk's product keys.
func (w *world) productKeys(when string) map[string]bool {
	w.t.Helper()
	out := map[string]bool{}
	for k := range w.deskState(when).keys {
		if _, err := format.ParseProductKey(k); err != nil {
			w.t.Fatalf("%s: the ledger lists %q, not a product key", when, k)
		}
		out[k] = true
	}
	return out
}
