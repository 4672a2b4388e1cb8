//go:build linux

package e2e

// Fault injection with the real binaries (issue 6, "Faults", and the
// vendor side's "a crash during signing leaves the ledger consistent"):
//
//   - TestKillDuringImport: `activator import` killed with SIGKILL at random
//     moments; the store opens afterwards and holds exactly the old or the
//     new licence.
//   - TestConcurrentImports: two imports at once from two processes; both
//     end, nothing is lost, the newer request wins.
//   - TestFullDisk: a store on a nearly full tmpfs; a clean refusal, the old
//     licence intact, and the import works once space is freed.
//   - TestKillDuringSign: `issuer sign` of a batch killed at random moments;
//     the ledger, the key's count and the files written agree, and signing
//     again completes with the same licences.
//   - TestImportWhileServerRuns: the CLI imports while the sample server
//     runs; the server takes the new licence.
//
// Random delays come from a seeded generator whose seed is logged; set
// AIRLOCK_FAULT_SEED to replay a run. AIRLOCK_STRESS=1 (make stress) runs
// more rounds.

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
)

// childTimeout bounds every tool run by these tests (a wedged child fails
// the test instead of hanging it).
const childTimeout = 30 * time.Second

// stress reports whether the long variants run (make stress).
func stress() bool { return os.Getenv("AIRLOCK_STRESS") == "1" }

// rounds is n, or stressed under make stress.
func rounds(n, stressed int) int {
	if stress() {
		return stressed
	}
	return n
}

// faultRand returns a seeded generator and logs the seed, so that a
// failing run can be replayed with AIRLOCK_FAULT_SEED.
func faultRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("AIRLOCK_FAULT_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("AIRLOCK_FAULT_SEED=%q is not an unsigned integer", s)
		}
		seed = n
	}
	t.Logf("random seed %d (replay with AIRLOCK_FAULT_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// world is one test's tools environment: a licence desk, a host store and
// the vendor key between them, all under one temporary directory.
type world struct {
	t         *testing.T
	root      string // working directory of every run
	desk      string // ISSUER_DIR
	passFile  string // ISSUER_PASSPHRASE_FILE
	vendorKey string // ACTIVATOR_VENDOR_KEY (written by initDesk)
	host      string // ACTIVATOR_DIR
}

func newWorld(t *testing.T) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{t: t, root: root, desk: filepath.Join(root, "desk"), passFile: filepath.Join(root, "passphrase"),
		vendorKey: filepath.Join(root, "vendor.asc"), host: filepath.Join(root, "host")}
	if err := os.WriteFile(w.passFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// environ is the whole environment of a child: nothing is inherited but
// PATH, so that a developer's own ACTIVATOR_* or ISSUER_* settings cannot
// leak in.
func (w *world) environ() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.root,
		"TMPDIR=" + w.root,
		"LANG=C",
		"ACTIVATOR_DIR=" + w.host,
		"ACTIVATOR_PRODUCT=astera",
		"ACTIVATOR_PRODUCT_VERSION=9.1.0",
		"ACTIVATOR_VENDOR_KEY=" + w.vendorKey,
		"ISSUER_DIR=" + w.desk,
		"ISSUER_PASSPHRASE_FILE=" + w.passFile,
	}
}

// proc is one run of a program.
type proc struct {
	name           string // the command line, for messages
	cmd            *exec.Cmd
	ctx            context.Context
	cancel         context.CancelFunc
	stdout, stderr bytes.Buffer
	start          time.Time
	took           time.Duration
	code           int            // exit code; -1 when ended by a signal
	signal         syscall.Signal // the signal that ended it, if any
}

func (p *proc) killed() bool { return p.code == -1 }

func (p *proc) String() string {
	how := fmt.Sprintf("exit %d", p.code)
	if p.killed() {
		how = "killed by " + p.signal.String()
	}
	return fmt.Sprintf("`%s` (%s after %v)\n  stdout: %s\n  stderr: %s", p.name, how, p.took.Round(time.Millisecond),
		clip(p.stdout.String()), clip(p.stderr.String()))
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 1500 {
		s = s[:1500] + "..."
	}
	if s == "" {
		return "(empty)"
	}
	return strings.ReplaceAll(s, "\n", "\n          ")
}

// command prepares a run of prog ("activator" and "issuer" are the built
// binaries) with this world's environment and a timeout.
func (w *world) command(timeout time.Duration, prog string, args ...string) *proc {
	w.t.Helper()
	bin := prog
	if prog == "activator" || prog == "issuer" {
		bin = filepath.Join(binDir, prog)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &proc{name: strings.Join(append([]string{prog}, args...), " "), ctx: ctx, cancel: cancel}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Dir = w.root
	p.cmd.Env = w.environ()
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	return p
}

func (w *world) startProc(p *proc) {
	w.t.Helper()
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		p.cancel()
		w.t.Fatalf("start %s: %v", p.name, err)
	}
}

// wait waits for a started run and records how it ended.
func (w *world) wait(p *proc) *proc {
	w.t.Helper()
	defer p.cancel()
	err := p.cmd.Wait()
	p.took = time.Since(p.start)
	if p.cmd.ProcessState == nil {
		w.t.Fatalf("%s: %v", p.name, err)
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	p.code = ws.ExitStatus()
	if ws.Signaled() {
		p.code, p.signal = -1, ws.Signal()
	}
	if p.ctx.Err() != nil {
		w.t.Fatalf("%s did not end within its timeout: %v", p, p.ctx.Err())
	}
	return p
}

// run runs a program to its end.
func (w *world) run(prog string, args ...string) *proc {
	w.t.Helper()
	p := w.command(childTimeout, prog, args...)
	w.startProc(p)
	return w.wait(p)
}

// must runs a program and fails the test unless it exits 0.
func (w *world) must(prog string, args ...string) *proc {
	w.t.Helper()
	p := w.run(prog, args...)
	if p.code != 0 {
		w.t.Fatalf("%s: want exit 0", p)
	}
	return p
}

// killAfter starts a program, sends it SIGKILL after delay (unless it has
// ended by then) and waits for it.
func (w *world) killAfter(delay time.Duration, prog string, args ...string) *proc {
	w.t.Helper()
	p := w.command(childTimeout, prog, args...)
	w.startProc(p)
	time.Sleep(delay)
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		w.t.Fatalf("kill %s: %v", p.name, err)
	}
	return w.wait(p)
}

// initDesk creates the desk and exports the vendor key for the host.
func (w *world) initDesk() {
	w.t.Helper()
	w.must("issuer", "init", "--name", "Example Vendor Licensing", "--email", "licensing@example.com")
	w.must("issuer", "export-key", "-o", w.vendorKey)
}

// newKey sells one product key and returns it.
func (w *world) newKey(activations int, features string) string {
	w.t.Helper()
	p := w.must("issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", features,
		"--clients", "2", "--activations", strconv.Itoa(activations))
	key := strings.TrimSpace(p.stdout.String())
	if _, err := format.ParseProductKey(key); err != nil {
		w.t.Fatalf("%s: stdout is not one product key: %v", p, err)
	}
	return key
}

// request makes a request from the host store into file (relative to root).
func (w *world) request(key, file string) {
	w.t.Helper()
	w.must("activator", "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", key, "-o", file)
}

// sign has the desk sign one request into file and returns the licence id.
func (w *world) sign(req, file string) string {
	w.t.Helper()
	w.must("issuer", "sign", req, "-o", file)
	return licenceID(w.t, filepath.Join(w.root, file))
}

// activate requests, signs and imports a licence; it returns its id.
func (w *world) activate(key, name string) string {
	w.t.Helper()
	w.request(key, name+".req")
	id := w.sign(name+".req", name+".lic")
	w.must("activator", "import", name+".lic")
	if got := w.activeLicence("after importing " + name + ".lic"); got != id {
		w.t.Fatalf("after importing %s.lic (licence %s) the active licence is %q", name, id, got)
	}
	return id
}

// hostStatus is the part of `activator status --json` these tests read.
type hostStatus struct {
	State    string `json:"state"`
	Licenses []struct {
		LicenseID string `json:"license_id"`
		State     string `json:"state"`
	} `json:"licenses"`
	Problems []string `json:"problems"`
}

// active returns the ids of the licences in state active.
func (s *hostStatus) active() []string {
	var ids []string
	for _, l := range s.Licenses {
		if l.State == "active" {
			ids = append(ids, l.LicenseID)
		}
	}
	return ids
}

// status runs `activator status --json`; it fails the test unless the
// store could be read (exit 0, or 3 for "not active") and the JSON parses.
func (w *world) status(when string) (*hostStatus, *proc) {
	w.t.Helper()
	p := w.run("activator", "status", "--json")
	if p.code != 0 && p.code != 3 {
		w.t.Fatalf("%s: status %s: the store could not be read (want exit 0 or 3); the store holds: %s", when, p, listing(w.host))
	}
	for _, s := range []string{p.stdout.String(), p.stderr.String()} {
		if l := strings.ToLower(s); strings.Contains(l, "damaged") || strings.Contains(l, "panic") || strings.Contains(l, "sigbus") {
			w.t.Fatalf("%s: status reports a damaged store or a crash: %s", when, p)
		}
	}
	st := new(hostStatus)
	if err := json.Unmarshal(p.stdout.Bytes(), st); err != nil {
		w.t.Fatalf("%s: status --json printed no JSON (%v): %s", when, err, p)
	}
	return st, p
}

// activeLicence returns the one active licence's id, failing the test
// unless exactly one licence is active and status says so with exit 0.
func (w *world) activeLicence(when string) string {
	w.t.Helper()
	st, p := w.status(when)
	ids := st.active()
	if p.code != 0 || st.State != "active" || len(ids) != 1 {
		w.t.Fatalf("%s: want state active with one active licence, got state %q, active licences %v, problems %q: %s",
			when, st.State, ids, st.Problems, p)
	}
	return ids[0]
}

// licenceID reads a licence file's id (without verifying it: the host
// does that on import).
func licenceID(t *testing.T, file string) string {
	t.Helper()
	r := decodeResponse(t, file)
	if r == nil {
		t.Fatalf("%s is not a licence", file)
	}
	return string(r.LicenseID)
}

// decodeResponse decodes a licence file, or returns nil (and logs why) when
// it is not one.
func decodeResponse(t *testing.T, file string) *format.Response {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := format.DecodeUnverified(b)
	if err != nil {
		t.Logf("%s (%d bytes): %v", file, len(b), err)
		return nil
	}
	r, ok := a.Payload.(*format.Response)
	if !ok {
		t.Logf("%s holds a %s, not a response", file, a.Kind)
		return nil
	}
	return r
}

// listing lists a store directory's files with their sizes, for failure
// messages (a crash shows as empty or short files).
func listing(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		size := int64(-1)
		if info, err := e.Info(); err == nil {
			size = info.Size()
		}
		fmt.Fprintf(&b, "%s (%d bytes) ", e.Name(), size)
	}
	return strings.TrimSpace(b.String())
}

// oneLine fails the test unless p wrote exactly one line to stderr.
func oneLine(t *testing.T, p *proc) string {
	t.Helper()
	s := strings.TrimRight(p.stderr.String(), "\n")
	if s == "" || strings.Contains(s, "\n") {
		t.Fatalf("%s: want exactly one line on stderr", p)
	}
	return s
}

// TestKillDuringImport kills `activator import` at random moments: the
// store must open afterwards and hold exactly the licence that was active
// before or the new one, and an interrupted import must leave its request
// importable (the import is one transaction).
func TestKillDuringImport(t *testing.T) {
	runs := rounds(50, 300)
	rng := faultRand(t)
	w := newWorld(t)
	w.initDesk()
	key := w.newKey(1000, "dataflow,workflow")
	active := w.activate(key, "l1")

	// The kill window spans the whole run of an import: ~40 ms, or longer
	// on a machine where an import takes longer than that.
	w.request(key, "calibrate.req")
	w.sign("calibrate.req", "calibrate.lic")
	cal := w.must("activator", "import", "calibrate.lic")
	active = w.activeLicence("after the calibration import")
	window := max(40*time.Millisecond, cal.took*5/4)
	t.Logf("an uninterrupted import takes %v; kills land within %v of the start", cal.took.Round(time.Millisecond), window.Round(time.Millisecond))

	var endedOld, endedNew, completed, retried int
	for i := range runs {
		req, lic := fmt.Sprintf("r%03d.req", i), fmt.Sprintf("r%03d.lic", i)
		w.request(key, req)
		next := w.sign(req, lic)
		delay := time.Duration(rng.Int64N(int64(window)))
		p := w.killAfter(delay, "activator", "import", lic)
		when := fmt.Sprintf("run %d (import of %s killed after %v; licence %s active before, %s new)", i, lic, delay, active, next)
		if !p.killed() {
			// It ended before the kill: it must have succeeded.
			completed++
			if p.code != 0 || !strings.Contains(p.stdout.String(), "licence "+next+" imported") {
				t.Fatalf("%s: the import ended on its own but did not import %s: %s", when, next, p)
			}
		}
		got := w.activeLicence(when)
		switch got {
		case active:
			if !p.killed() {
				t.Fatalf("%s: the import reported success but licence %s is still the active one", when, active)
			}
			endedOld++
			// Every other interrupted import is retried: nothing of it may
			// have been half-recorded (its request consumed, say).
			if i%2 == 1 {
				retried++
				r := w.run("activator", "import", lic)
				if r.code != 0 || !strings.Contains(r.stdout.String(), "licence "+next+" imported") {
					t.Fatalf("%s: the old licence survived the kill, but importing %s again failed: %s", when, lic, r)
				}
				if got := w.activeLicence(when + ", then imported again"); got != next {
					t.Fatalf("%s: imported again, but the active licence is %s, not %s", when, got, next)
				}
				active = next
			}
		case next:
			endedNew++
			active = next
		default:
			t.Fatalf("%s: the active licence is %s, neither the old one nor the new one", when, got)
		}
	}
	t.Logf("%d imports under kill -9: %d left the old licence active, %d the new one; %d ended before the kill; %d interrupted imports retried successfully",
		runs, endedOld, endedNew, completed, retried)
}

// waitNextSecond sleeps into the next wall-clock second: requests are
// dated to the second, and "newer" needs a later second.
func waitNextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
}

// TestConcurrentImports starts two `activator import` processes at once:
// both must end, nothing may be lost, and the state must be what the
// design prescribes whatever the order (the newer request wins).
func TestConcurrentImports(t *testing.T) {
	w := newWorld(t)
	w.initDesk()
	key := w.newKey(1000, "dataflow,workflow")
	w.activate(key, "l1")

	// together starts one import per file at the same moment and waits
	// for all of them.
	together := func(files ...string) []*proc {
		t.Helper()
		ps := make([]*proc, len(files))
		for i, f := range files {
			ps[i] = w.command(45*time.Second, "activator", "--lock-wait", "30s", "import", f)
		}
		for _, p := range ps {
			w.startProc(p)
		}
		for _, p := range ps {
			w.wait(p)
			if p.code == 1 && strings.Contains(p.stderr.String(), "in use") && p.took < 30*time.Second {
				t.Fatalf("%s: refused as \"in use\" before its 30s lock wait was over", p)
			}
			if p.killed() || (p.code != 0 && p.code != 1) {
				t.Fatalf("%s: want exit 0 or 1", p)
			}
			if p.code == 1 {
				oneLine(t, p)
			}
		}
		return ps
	}

	// Two different responses, the second answering a newer request. Both
	// orders of starting them.
	for round, order := range [][2]int{{0, 1}, {1, 0}} {
		older, newer := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
		w.request(key, older+".req")
		waitNextSecond()
		w.request(key, newer+".req")
		olderID := w.sign(older+".req", older+".lic")
		newerID := w.sign(newer+".req", newer+".lic")
		files := []string{older + ".lic", newer + ".lic"}
		ps := together(files[order[0]], files[order[1]])
		po, pn := ps[order[0]], ps[order[1]]
		when := fmt.Sprintf("round %d (older %s = %s, newer %s = %s)", round, older, olderID, newer, newerID)
		if pn.code != 0 || !strings.Contains(pn.stdout.String(), "licence "+newerID+" imported") {
			t.Fatalf("%s: the newer response was not imported: %s", when, pn)
		}
		olderImported := false
		switch {
		case po.code == 0 && strings.Contains(po.stdout.String(), "licence "+olderID+" imported"):
			olderImported = true // it ran first
		case po.code == 1 && strings.Contains(po.stderr.String(), "answers an older request than the licence in force"):
			// it ran second: it grants nothing more
		default:
			t.Fatalf("%s: the older response must be imported (when first) or refused as granting nothing more (when second): %s", when, po)
		}
		t.Logf("%s: the %s import took the store first", when, map[bool]string{true: "older", false: "newer"}[olderImported])
		if got := w.activeLicence(when); got != newerID {
			t.Fatalf("%s: after both imports the active licence is %s, want the newer %s", when, got, newerID)
		}
		// Nothing half-done: the older one is refused again, the newer one
		// is a no-op, and the state holds.
		again := w.run("activator", "import", older+".lic")
		wantMsg := "answers an older request than the licence in force"
		if olderImported {
			wantMsg = "was replaced by licence " + newerID // it was in force, then replaced
		}
		if again.code != 1 || !strings.Contains(again.stderr.String(), wantMsg) {
			t.Fatalf("%s: importing the older response again: want exit 1 with %q: %s", when, wantMsg, again)
		}
		oneLine(t, again)
		if r := w.must("activator", "import", newer+".lic"); !strings.Contains(r.stdout.String(), "licence "+newerID+" is already active; nothing changed") {
			t.Fatalf("%s: importing the active licence again must be a no-op: %s", when, r)
		}
		if got := w.activeLicence(when + ", after importing both again"); got != newerID {
			t.Fatalf("%s: after importing both again the active licence is %s, want %s", when, got, newerID)
		}
	}

	// The same response twice at once: one imports it, the other finds it
	// already active.
	w.request(key, "c.req")
	cID := w.sign("c.req", "c.lic")
	ps := together("c.lic", "c.lic")
	imported, unchanged := 0, 0
	for _, p := range ps {
		switch {
		case p.code == 0 && strings.Contains(p.stdout.String(), "licence "+cID+" imported"):
			imported++
		case p.code == 0 && strings.Contains(p.stdout.String(), "licence "+cID+" is already active; nothing changed"):
			unchanged++
		default:
			t.Fatalf("the same response imported twice at once: want one import and one no-op: %s", p)
		}
	}
	if imported != 1 || unchanged != 1 {
		t.Fatalf("the same response imported twice at once: %d imports and %d no-ops, want 1 and 1:\n%s\n%s", imported, unchanged, ps[0], ps[1])
	}
	if got := w.activeLicence("after importing c.lic twice at once"); got != cID {
		t.Fatalf("after importing c.lic twice at once the active licence is %s, want %s", got, cID)
	}
}

// skipUnlessCI skips the test with a message, or fails it in CI, where
// every case must run.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (required in CI)", msg)
	}
	t.Skip(msg)
}

// mountTmpfs mounts a tmpfs of sizeMiB at a new directory and unmounts it
// when the test ends.
func mountTmpfs(t *testing.T, sizeMiB int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skipUnlessCI(t, "mounting a small tmpfs needs root; run the tests as root to check a full disk")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0700", sizeMiB), "tmpfs", dir).CombinedOutput()
	if err != nil {
		skipUnlessCI(t, "cannot mount a tmpfs here (%v: %s); a full disk is not checked", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s; detaching it lazily", dir, err, out)
			if out, err := exec.CommandContext(ctx, "umount", "-l", dir).CombinedOutput(); err != nil {
				t.Errorf("umount -l %s: %v: %s", dir, err, out)
			}
		}
	})
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fill writes the file dir/name until only about leave bytes are free.
func fill(t *testing.T, dir, name string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 256<<10)
	var written int64
	for freeBytes(t, dir) > leave {
		n := min(int64(len(chunk)), freeBytes(t, dir)-leave)
		m, err := f.Write(chunk[:n])
		written += int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			// Full already: give back what is to be left free.
			if err := f.Truncate(max(0, written-leave)); err != nil {
				t.Fatal(err)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestFullDisk puts the host store on a small tmpfs and fills it: import
// and request must refuse cleanly (one line that speaks of free space, no
// crash), the old licence must stay active, and once space is freed the
// import must work.
func TestFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, 24)
	w := newWorld(t)
	w.host = filepath.Join(mnt, "host")
	w.initDesk()
	key := w.newKey(10, "dataflow,workflow")
	old := w.activate(key, "l1")
	w.request(key, "l2.req")
	next := w.sign("l2.req", "l2.lic")

	filler := fill(t, mnt, "filler", 2<<20)
	t.Logf("tmpfs of 24 MiB filled: %d KiB free", freeBytes(t, mnt)>>10)

	imp := w.run("activator", "import", "l2.lic")
	if imp.code != 1 {
		t.Fatalf("import on a full disk: want exit 1 (refused): %s", imp)
	}
	if l := oneLine(t, imp); !strings.Contains(l, "free") {
		t.Fatalf("import on a full disk: the error does not mention free space: %s", imp)
	}
	req := w.run("activator", "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", key, "-o", "l3.req")
	if req.code != 1 {
		t.Fatalf("request on a full disk: want exit 1 (refused): %s", req)
	}
	if l := oneLine(t, req); !strings.Contains(l, "free") {
		t.Fatalf("request on a full disk: the error does not mention free space: %s", req)
	}
	if _, err := os.Stat(filepath.Join(w.root, "l3.req")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused request left its output file l3.req behind (stat: %v)", err)
	}
	if got := w.activeLicence("on the full disk, after the refused import and request"); got != old {
		t.Fatalf("on the full disk the active licence is %s, want the old %s", got, old)
	}

	t.Logf("with 2 MiB free: import: %s; request: %s", strings.TrimSpace(imp.stderr.String()), strings.TrimSpace(req.stderr.String()))

	// No space at all: still a refusal that says the disk is full (not a
	// damaged store, which would send the admin to support), and a status
	// that shows the licence or says the disk is full. Checked with
	// Errorf, so that the recovery below runs whatever happens here.
	filler2 := fill(t, mnt, "filler2", 0)
	t.Logf("tmpfs filled up: %d KiB free", freeBytes(t, mnt)>>10)
	for _, p := range []*proc{
		w.run("activator", "import", "l2.lic"),
		w.run("activator", "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", key, "-o", "l3.req"),
	} {
		msg := strings.TrimSpace(p.stderr.String())
		if p.code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, "free") || strings.Contains(msg, "damaged") {
			t.Errorf("with no space left: want exit 1 and one line saying that free space is missing (not that the store is damaged): %s", p)
		}
	}
	if p := w.run("activator", "status", "--json"); p.code == 0 {
		var st hostStatus
		if err := json.Unmarshal(p.stdout.Bytes(), &st); err != nil || !slices.Equal(st.active(), []string{old}) {
			t.Errorf("with no space left: status exits 0 but does not show the old licence %s active (%v): %s", old, err, p)
		}
	} else if msg := strings.TrimSpace(p.stderr.String()); strings.Contains(msg, "damaged") || !(strings.Contains(msg, "free") || strings.Contains(msg, "space")) {
		t.Errorf("with no space left: status must show the licence, or say that the disk is full, not that the store is damaged: %s", p)
	}

	for _, f := range []string{filler, filler2} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("space freed: %d KiB free", freeBytes(t, mnt)>>10)
	if p := w.must("activator", "import", "l2.lic"); !strings.Contains(p.stdout.String(), "licence "+next+" imported") {
		t.Fatalf("import after freeing space: %s", p)
	}
	if got := w.activeLicence("after freeing space and importing l2.lic"); got != next {
		t.Fatalf("after freeing space the active licence is %s, want %s", got, next)
	}
	w.must("activator", "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", key, "-o", "l3.req")
}

// simulatedRequest is a request from a simulated host with its own host
// key and machine identifiers (made with package format, since every
// store on this machine shares its fingerprint).
func simulatedRequest(t *testing.T, productKey string, host int, salt string) ([]byte, format.ID) {
	t.Helper()
	now := time.Now()
	k, err := format.GenerateKey(format.KeyOptions{Name: "airlock host key", Now: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := format.NewID(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fp := format.Fingerprint{Components: map[string]string{}}
	for _, c := range []string{format.ComponentMachineID, format.ComponentMAC, format.ComponentRootDisk} {
		fp.Components[c] = format.HashComponent("astera", fmt.Sprintf("%s/%s/%d", salt, c, host))
	}
	msg, err := format.Sign(k, &format.Request{RequestID: id, Created: format.NewTime(now), Product: "astera", ProductVersion: "9.1.0",
		ProductKey: productKey, Licensee: format.Licensee{Name: fmt.Sprintf("Admin %d", host), Organization: "Example Bank"},
		Fingerprint: fp, HostKey: format.HostKeyField(k.Public())}, now)
	if err != nil {
		t.Fatal(err)
	}
	return format.Armor(msg, format.KindRequest), id
}

// deskLedger is the part of `issuer ledger --json` these tests read.
type deskLedger struct {
	Activations []struct {
		LicenseID    string     `json:"license_id"`
		ProductKey   string     `json:"product_key"`
		RequestID    string     `json:"request_id"`
		SupersededBy string     `json:"superseded_by"`
		Deactivated  *time.Time `json:"deactivated"`
	} `json:"activations"`
}

// TestKillDuringSign kills `issuer sign` of a batch of 40 requests from 40
// hosts at random moments: the ledger must read, every licence file must be
// an activation the ledger holds, the key's count must match the ledger,
// and signing the batch again must complete, giving the requests recorded
// before the kill the same licence ("signed before").
func TestKillDuringSign(t *testing.T) {
	const hosts = 40
	n := rounds(10, 40)
	rng := faultRand(t)

	// setup makes a fresh desk with a key of 200 activations and the
	// batch of requests in in/.
	setup := func(round int) (w *world, key string, reqs []string, reqIDs map[string]string) {
		w = newWorld(t)
		w.initDesk()
		key = w.newKey(200, "dataflow,workflow")
		for _, d := range []string{"in", "out", "again"} {
			if err := os.Mkdir(filepath.Join(w.root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		reqIDs = map[string]string{}
		for h := range hosts {
			b, id := simulatedRequest(t, key, h, fmt.Sprintf("round%d", round))
			name := fmt.Sprintf("host%02d", h)
			if err := os.WriteFile(filepath.Join(w.root, "in", name+".req"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, filepath.Join("in", name+".req"))
			reqIDs[name] = string(id)
		}
		return w, key, reqs, reqIDs
	}

	// The kill window spans a whole uninterrupted batch.
	cw, _, creqs, _ := setup(-1)
	cal := cw.must("issuer", append(append([]string{"sign"}, creqs...), "-o", "out")...)
	if n := strings.Count(cal.stdout.String(), "activations used"); n != hosts {
		t.Fatalf("the calibration batch signed %d of %d requests: %s", n, hosts, cal)
	}
	window := max(150*time.Millisecond, cal.took*5/4)
	t.Logf("an uninterrupted batch of %d takes %v; kills land within %v of the start", hosts, cal.took.Round(time.Millisecond), window.Round(time.Millisecond))

	var recordedTotal, filesTotal, emptyTotal int
	for round := range n {
		w, key, reqs, reqIDs := setup(round)
		delay := time.Duration(rng.Int64N(int64(window)))
		p := w.killAfter(delay, "issuer", append(append([]string{"sign"}, reqs...), "-o", "out")...)
		when := fmt.Sprintf("round %d (issuer sign of %d requests killed after %v)", round, hosts, delay)
		if !p.killed() && p.code != 0 {
			t.Fatalf("%s: the batch ended on its own but failed: %s", when, p)
		}

		// The ledger reads, and the key's count is its live activations.
		lp := w.run("issuer", "ledger", "--json")
		if lp.code != 0 {
			t.Fatalf("%s: the ledger cannot be read after the kill: %s\n  the desk holds: %s", when, lp, listing(w.desk))
		}
		var led deskLedger
		if err := json.Unmarshal(lp.stdout.Bytes(), &led); err != nil {
			t.Fatalf("%s: ledger --json is not JSON: %v: %s", when, err, lp)
		}
		byRequest := map[string]string{} // request id -> licence id
		live := 0
		for _, a := range led.Activations {
			if a.ProductKey != key {
				t.Fatalf("%s: the ledger holds an activation of an unknown key %q", when, a.ProductKey)
			}
			if prev, dup := byRequest[a.RequestID]; dup {
				t.Fatalf("%s: request %s has two activations in the ledger: %s and %s", when, a.RequestID, prev, a.LicenseID)
			}
			byRequest[a.RequestID] = a.LicenseID
			if a.Deactivated == nil && a.SupersededBy == "" {
				live++
			}
		}
		kp := w.must("issuer", "keys", "list", "--json")
		var keys []struct {
			Key  string `json:"product_key"`
			Used int    `json:"used"`
		}
		if err := json.Unmarshal(kp.stdout.Bytes(), &keys); err != nil || len(keys) != 1 || keys[0].Key != key {
			t.Fatalf("%s: keys list --json: want the one key %s (%v): %s", when, key, err, kp)
		}
		if keys[0].Used != live {
			t.Fatalf("%s: keys list says %d activations used, the ledger holds %d live activations", when, keys[0].Used, live)
		}
		if p.killed() == false && live != hosts {
			t.Fatalf("%s: the batch completed but the ledger holds %d activations, want %d", when, live, hosts)
		}

		// Every licence file written is an activation of the ledger, for
		// the request of the same name.
		entries, err := os.ReadDir(filepath.Join(w.root, "out"))
		if err != nil {
			t.Fatal(err)
		}
		var bad, other []string
		for _, e := range entries {
			file := filepath.Join(w.root, "out", e.Name())
			if filepath.Ext(e.Name()) != ".lic" {
				other = append(other, e.Name()) // a temporary file, say
				continue
			}
			info, _ := e.Info()
			if info.Size() == 0 {
				emptyTotal++
				bad = append(bad, e.Name()+" (empty)")
				continue
			}
			r := decodeResponse(t, file)
			if r == nil {
				bad = append(bad, e.Name()+" (not a licence)")
				continue
			}
			filesTotal++
			name := strings.TrimSuffix(e.Name(), ".lic")
			if string(r.RequestID) != reqIDs[name] {
				t.Fatalf("%s: out/%s answers request %s, not in/%s.req's %s", when, e.Name(), r.RequestID, name, reqIDs[name])
			}
			if got := byRequest[string(r.RequestID)]; got != string(r.LicenseID) {
				t.Fatalf("%s: out/%s holds licence %s, but the ledger records %q for its request", when, e.Name(), r.LicenseID, got)
			}
		}
		if len(bad) > 0 {
			shown := bad[:min(len(bad), 3)]
			t.Errorf("%s: out/ holds %d .lic files that are not licences, left by the killed run (a crash must leave no partial output named like a licence; they also make the same command refuse to run again): %s%s",
				when, len(bad), strings.Join(shown, ", "), map[bool]string{true: ", ...", false: ""}[len(bad) > len(shown)])
		}
		recordedTotal += len(byRequest)

		// Signing the batch again completes (into a fresh directory: the
		// tool refuses to overwrite files), and what was recorded comes
		// back as the same licence.
		ap := w.run("issuer", append(append([]string{"sign"}, reqs...), "-o", "again")...)
		if ap.code != 0 {
			t.Fatalf("%s: signing the batch again after the kill failed: %s", when, ap)
		}
		lines := strings.Split(strings.TrimSpace(ap.stdout.String()), "\n")
		if len(lines) != hosts {
			t.Fatalf("%s: signing again printed %d lines, want one per request (%d): %s", when, len(lines), hosts, ap)
		}
		for _, line := range lines {
			name := strings.TrimSuffix(filepath.Base(strings.SplitN(line, ":", 2)[0]), ".req")
			reqID, ok := reqIDs[name]
			if !ok {
				t.Fatalf("%s: signing again printed a line for no request: %q", when, line)
			}
			id := licenceID(t, filepath.Join(w.root, "again", name+".lic"))
			if !strings.Contains(line, "licence "+id+" ") {
				t.Fatalf("%s: signing again: the line for %s does not name licence %s: %q", when, name, id, line)
			}
			before, recorded := byRequest[reqID]
			switch {
			case recorded && id != before:
				t.Fatalf("%s: %s was recorded before the kill as licence %s, but signing again gave %s: %q", when, name, before, id, line)
			case recorded && !strings.Contains(line, "signed before"):
				t.Fatalf("%s: %s was recorded before the kill, but signing again does not say \"signed before\": %q", when, name, line)
			case !recorded && strings.Contains(line, "signed before"):
				t.Fatalf("%s: %s was not recorded before the kill, but signing again says \"signed before\": %q", when, name, line)
			}
		}
		kp = w.must("issuer", "keys", "list", "--json")
		if err := json.Unmarshal(kp.stdout.Bytes(), &keys); err != nil || len(keys) != 1 || keys[0].Used != hosts {
			t.Fatalf("%s: after signing again, keys list: want %d activations used (%v): %s", when, hosts, err, kp)
		}
		t.Logf("%s: %d activations recorded before the kill; in out/: %d licence files, %d .lic files that are not licences, %d other files",
			when, len(byRequest), len(entries)-len(bad)-len(other), len(bad), len(other))
	}
	t.Logf("%d rounds: %d activations recorded before the kills, %d complete licence files, %d empty files", n, recordedTotal, filesTotal, emptyTotal)
}

// lineLog collects a child's output for waiting on a line.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor returns the first line matching re, waiting at most d.
func (l *lineLog) waitFor(re *regexp.Regexp, d time.Duration) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			if re.MatchString(line) {
				return line, true
			}
		}
		if time.Now().After(deadline) {
			return "", false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverClient is one connection to the sample server.
type serverClient struct {
	net.Conn
	r *bufio.Reader
}

// dialServer connects and reads the welcome line.
func dialServer(t *testing.T, addr string) *serverClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to the sample server at %s: %v", addr, err)
	}
	c := &serverClient{Conn: conn, r: bufio.NewReader(conn)}
	if got := c.next(t); !strings.HasPrefix(got, "welcome: seat ") {
		conn.Close()
		t.Fatalf("the sample server greeted with %q, want \"welcome: seat ...\"", got)
	}
	return c
}

// next reads one line (at most 5s).
func (c *serverClient) next(t *testing.T) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		t.Fatalf("read from the sample server: %v (read %q)", err, line)
	}
	return strings.TrimSpace(line)
}

// call sends one request line and returns the reply.
func (c *serverClient) call(t *testing.T, req string) string {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, req); err != nil {
		t.Fatalf("send %q to the sample server: %v", req, err)
	}
	return c.next(t)
}

// TestImportWhileServerRuns runs the sample server on the host store and
// imports an upgrade from the CLI meanwhile: the import must not wait for
// the server, and the server must take the new licence.
func TestImportWhileServerRuns(t *testing.T) {
	w := newWorld(t)
	bin := filepath.Join(w.root, "dataserver")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../samples/dataserver").CombinedOutput()
	cancel()
	if err != nil {
		t.Fatalf("go build ./samples/dataserver: %v\n%s", err, out)
	}
	w.initDesk()
	key1 := w.newKey(1, "dataflow,workflow")
	old := w.activate(key1, "l1")
	key2 := w.newKey(1, "dataflow,subflow,workflow")
	w.request(key2, "l2.req")
	next := w.sign("l2.req", "l2.lic")

	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "--listen", "127.0.0.1:0", "--dir", w.host, "--vendor-key", w.vendorKey, "--product", "astera", "--version", "9.1.0")
	srv.Dir, srv.Env = w.root, w.environ()
	var stdout, stderr lineLog
	srv.Stdout, srv.Stderr = &stdout, &stderr
	srv.WaitDelay = 5 * time.Second
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			srv.Process.Kill()
			<-exited
			t.Errorf("the sample server did not stop within 5s of SIGTERM\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
		}
	})
	line, ok := stdout.waitFor(regexp.MustCompile(`^dataserver listening on \S+; licence active`), 10*time.Second)
	if !ok {
		t.Fatalf("the sample server did not report listening with an active licence within 10s\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	}
	addr := strings.TrimSuffix(strings.Fields(line)[3], ";")
	t.Logf("server: %s", line)

	// A client connected under the old licence.
	client := dialServer(t, addr)
	defer client.Close()
	if got := client.call(t, "run subflow"); got != "denied: subflow is not licensed" {
		t.Fatalf("before the upgrade, \"run subflow\" got %q, want a denial", got)
	}

	imp := w.must("activator", "import", "l2.lic")
	if !strings.Contains(imp.stdout.String(), "licence "+next+" imported") {
		t.Fatalf("import while the server runs: %s", imp)
	}
	if imp.took > 5*time.Second {
		t.Fatalf("import while the server runs took %v: it waited for the server to release the store: %s", imp.took, imp)
	}
	t.Logf("import while the server runs took %v", imp.took.Round(time.Millisecond))

	line, ok = stdout.waitFor(regexp.MustCompile(`^licence changed: `), 10*time.Second)
	if !ok {
		t.Fatalf("the server printed no \"licence changed\" line within 10s of importing %s (replacing %s)\nstdout: %s\nstderr: %s",
			next, old, stdout.String(), stderr.String())
	}
	if !strings.Contains(line, "-> active [dataflow subflow workflow]") {
		t.Fatalf("the server's change line does not show the upgrade to subflow: %q", line)
	}
	t.Logf("server: %s", line)

	// The connected client was sent away so that the new licence applies;
	// a new connection has the upgrade.
	if got := client.next(t); got != "bye: the licence changed; reconnect" {
		t.Fatalf("after the upgrade the connected client got %q, want to be disconnected with \"bye: the licence changed; reconnect\"", got)
	}
	client.Close()
	client = dialServer(t, addr)
	defer client.Close()
	if got := client.call(t, "run subflow"); got != "ok subflow" {
		t.Fatalf("after the upgrade, a new client's \"run subflow\" got %q, want \"ok subflow\"", got)
	}
	if got := w.activeLicence("after the import while the server runs"); got != next {
		t.Fatalf("the active licence is %s, want %s", got, next)
	}
}
