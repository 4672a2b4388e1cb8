//go:build linux

package e2e

// TestWine runs the Windows builds of both tools (GOOS=windows
// GOARCH=amd64) under Wine, with the Linux builds on the other side of each
// exchange (issue 13, part 4):
//
//   - activator.exe fingerprint shows components, hashed, never the raw
//     MachineGuid;
//   - a request made by activator.exe, signed by the Linux desk, imported
//     and checked by activator.exe, deactivated with a receipt that the
//     Linux desk accepts;
//   - a desk on Windows (issuer.exe init, keys create, sign) whose licence a
//     Linux host imports and sq verifies;
//   - the Windows store, copied to another Wine prefix (another
//     MachineGuid) on a simulated other machine, is not active there.
//
// It needs Debian's wine64 and the bcryptprimitives shim (.ci/wine: Go's
// runtime needs ProcessPrng, which Wine 8 lacks), taken from
// AIRLOCK_WINE_SHIM or built with gcc-mingw-w64-x86-64. Without them the
// test is skipped, and fails under CI=true (.ci/run installs both). Two
// prefixes are made (about 15 s each, at once): one for most of the test,
// one for the copied store.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

// wineSetup is the script that builds the shim and makes prefixes.
const wineSetup = "../.ci/wine/setup"

// wineOtherMachineScript is testutil.OtherMachineScript for Wine: besides
// /etc/machine-id it replaces /var/lib/dbus/machine-id, from which Wine
// makes the SMBIOS system UUID that Windows programs read (measured with
// Wine 8: with no DMI in sysfs, the UUID follows that file). Arguments:
// MOUNT MACHINE_ID_FILE PROG ARGS...
const wineOtherMachineScript = `set -e
mount=$1 id=$2
shift 2
"$mount" -t sysfs sysfs /sys
"$mount" --bind "$id" /etc/machine-id
if [ -e /var/lib/dbus/machine-id ]; then "$mount" --bind "$id" /var/lib/dbus/machine-id; fi
exec "$@"`

// winePrefix is one Wine prefix: a Windows installation with its own
// MachineGuid.
type winePrefix struct {
	name   string
	wine64 string
	dir    string            // WINEPREFIX
	exe    map[string]string // "activator", "issuer" -> the .exe
	// otherMachine, when set, is the machine-id file of a simulated other
	// machine (new mount and network namespaces, as testutil.OtherMachine)
	// that every program of this prefix runs on, wineboot included, so
	// that Wine's services (which read the NICs) run there too.
	otherMachine string
}

// winPath is the Windows path of an absolute Linux path: Wine's drive Z:
// is the Linux root.
func winPath(p string) string {
	if !filepath.IsAbs(p) {
		panic("winPath of a relative path " + p)
	}
	return "Z:" + strings.ReplaceAll(p, "/", `\`)
}

// argv prefixes a command line with what runs it on this prefix's machine.
func (x *winePrefix) argv(args ...string) []string {
	if x.otherMachine == "" {
		return args
	}
	return append([]string{"unshare", "-m", "-n", "sh", "-c", wineOtherMachineScript, "sh", "mount", x.otherMachine}, args...)
}

// wineEnv is what every Wine program of this prefix runs with. TMPDIR
// names the directory of the wineserver's socket, so it is the same for
// every run: a run with another starts a wineserver of its own.
func (x *winePrefix) wineEnv() []string {
	return []string{"WINEPREFIX=" + x.dir, "WINEDEBUG=-all", "TMPDIR=" + filepath.Dir(x.dir)}
}

// environ is the world's environment with Windows paths, for this prefix;
// a variable the world leaves empty is not set.
func (x *winePrefix) environ(w *world) []string {
	env := x.wineEnv()
	for _, kv := range w.environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "TMPDIR" || v == "":
			continue
		case k == "ACTIVATOR_DIR" || k == "ACTIVATOR_VENDOR_KEY" || k == "ISSUER_DIR" || k == "ISSUER_PASSPHRASE_FILE":
			kv = k + "=" + winPath(v)
		}
		env = append(env, kv)
	}
	return env
}

// run runs a tool's Windows build ("activator" or "issuer") on this prefix
// with w's environment, or another program under Wine (reg).
func (x *winePrefix) run(w *world, prog string, args ...string) *proc {
	w.t.Helper()
	bin := prog
	if exe, ok := x.exe[prog]; ok {
		bin = exe
	}
	argv := x.argv(append([]string{x.wine64, bin}, args...)...)
	p := w.command(childTimeout, argv[0], argv[1:]...)
	p.name = fmt.Sprintf("%s.exe %s (Wine, %s)", prog, strings.Join(args, " "), x.name)
	p.cmd.Env = x.environ(w)
	w.startProc(p)
	return w.wait(p)
}

// must runs as run does and fails the test unless the program exits 0.
func (x *winePrefix) must(w *world, prog string, args ...string) *proc {
	w.t.Helper()
	p := x.run(w, prog, args...)
	if p.code != 0 {
		w.t.Fatalf("%s: want exit 0", p)
	}
	return p
}

// machineGUID reads the prefix's MachineGuid from its registry, raw.
func (x *winePrefix) machineGUID(w *world) string {
	w.t.Helper()
	p := x.must(w, "reg", "query", `HKLM\SOFTWARE\Microsoft\Cryptography`, "/v", "MachineGuid")
	m := regexp.MustCompile(`MachineGuid\s+REG_SZ\s+(\S+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		w.t.Fatalf("%s: no MachineGuid value", p)
	}
	return m[1]
}

// fingerprintJSON is the part of `activator fingerprint --json` read here.
type fingerprintJSON struct {
	Product    string `json:"product"`
	Components []struct {
		Name  string `json:"name"`
		Hash  string `json:"hash"`
		State string `json:"state"`
	} `json:"components"`
}

// fingerprint runs activator.exe fingerprint, checks what it shows and
// returns the found components' hashes by name.
func (x *winePrefix) fingerprint(w *world, guid string) map[string]string {
	w.t.Helper()
	p := x.must(w, "activator", "fingerprint", "--json")
	if strings.Contains(strings.ToLower(p.stdout.String()+p.stderr.String()), strings.ToLower(guid)) {
		w.t.Errorf("%s: the raw MachineGuid %s appears in the output", p, guid)
	}
	var fp fingerprintJSON
	if err := json.Unmarshal(p.stdout.Bytes(), &fp); err != nil {
		w.t.Fatalf("%s: not JSON: %v", p, err)
	}
	if fp.Product != "astera" {
		w.t.Errorf("%s: product %q, want astera", p, fp.Product)
	}
	found := map[string]string{}
	for _, c := range fp.Components {
		if c.State != "found" {
			continue
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(c.Hash) {
			w.t.Errorf("%s: component %s has hash %q, want 22 characters of base64url", p, c.Name, c.Hash)
		}
		found[c.Name] = c.Hash
	}
	if len(found) == 0 {
		w.t.Fatalf("%s: no component found", p)
	}
	text := x.must(w, "activator", "fingerprint")
	for name, hash := range found {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+` + regexp.QuoteMeta(hash) + `$`).MatchString(text.stdout.String()) {
			w.t.Errorf("%s: no line for component %s %s (found by --json)", text, name, hash)
		}
	}
	w.t.Logf("%s: components found: %v", x.name, found)
	return found
}

// machineGUIDCollected reports whether the Windows collector of
// machine-guid is in this checkout: it arrives with branch fp-windows
// (issue 13 part 2), which declares the component in format/fingerprint.go.
// Until then activator.exe reads the Linux sources through Wine's drive Z:
// (the host's /etc/machine-id), and the assertions on machine-guid are
// logged as not made.
func machineGUIDCollected(t *testing.T) bool {
	b, err := os.ReadFile("../format/fingerprint.go")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"machine-guid"`)) {
		return true
	}
	t.Logf("format/fingerprint.go declares no machine-guid component (branch fp-windows not merged): machine-guid not asserted")
	return false
}

// wineTools finds wine64 and the shim, or skips (fails under CI=true).
func wineTools(t *testing.T) (wine64, shim string) {
	t.Helper()
	out, err := exec.Command(wineSetup, "wine64").CombinedOutput()
	if err != nil {
		skipUnlessCI(t, "no wine64 to run the Windows builds (on Debian: apt-get install wine64): %s", bytes.TrimSpace(out))
	}
	wine64 = strings.TrimSpace(string(out))
	if shim = os.Getenv("AIRLOCK_WINE_SHIM"); shim != "" {
		if _, err := os.Stat(shim); err != nil {
			t.Fatalf("AIRLOCK_WINE_SHIM: %v", err)
		}
		return wine64, shim
	}
	if _, err := exec.LookPath("x86_64-w64-mingw32-gcc"); err != nil {
		skipUnlessCI(t, "no bcryptprimitives shim for Wine: set AIRLOCK_WINE_SHIM (make wine-shim) or install gcc-mingw-w64-x86-64 to build it")
	}
	shim = filepath.Join(t.TempDir(), "bcryptprimitives.dll")
	if out, err := exec.Command(wineSetup, "shim", shim).CombinedOutput(); err != nil {
		t.Fatalf("build the bcryptprimitives shim: %v\n%s", err, out)
	}
	return wine64, shim
}

// wineserver is the path of the wineserver beside wine64.
func (x *winePrefix) wineserver() string { return filepath.Join(filepath.Dir(x.wine64), "wineserver") }

// makePrefix runs .ci/wine/setup prefix for x, then starts the prefix's
// wineserver for the whole test, and Wine's services with it.
//
// Wine's services (winedevice.exe, which serves the NICs and volumes)
// inherit the standard output and error of the program that starts them,
// and live as long as the wineserver, which ends 3 s after its last
// program: without this, every run's pipes stayed open 3 s after it ended
// (3 s a command). So the server is made persistent (wineserver -p), and
// a first activator.exe fingerprint, its output discarded, starts the
// services; later runs find them running. A run that still starts a
// service ends after its WaitDelay, not when the server does.
// The services are started once built says the tools were built.
func makePrefix(x *winePrefix, shim string, built func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := append(x.wineEnv(), "PATH="+os.Getenv("PATH"), "HOME="+filepath.Dir(x.dir), "ACTIVATOR_PRODUCT=astera")
	for _, args := range [][]string{
		{wineSetup, "prefix", x.dir, shim},
		{x.wineserver(), "-p"},
		{x.wine64, x.exe["activator"], "fingerprint"},
	} {
		if args[0] != wineSetup && !built() {
			return nil
		}
		argv := x.argv(args...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		var out bytes.Buffer
		if args[0] == wineSetup {
			cmd.Stdout, cmd.Stderr = &out, &out
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("Wine prefix %s: %s: %v\n%s", x.name, strings.Join(args, " "), err, out.Bytes())
		}
	}
	return nil
}

func TestWine(t *testing.T) {
	start := time.Now()
	wine64, shim := wineTools(t)
	canSimulate := testutil.CanSimulateMachine()
	root := t.TempDir()

	exe := map[string]string{}
	var wg, builds sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, tool := range []string{"activator", "issuer"} {
		out := filepath.Join(root, tool+".exe")
		exe[tool] = out
		builds.Add(1)
		go func() {
			defer builds.Done()
			cmd := exec.Command("go", "build", "-o", out, "../cmd/"+tool)
			cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				fail(fmt.Errorf("build %s.exe: %v\n%s", tool, err, out))
			}
		}()
	}
	a := &winePrefix{name: "prefix a", wine64: wine64, dir: filepath.Join(root, "prefix-a"), exe: exe}
	b := &winePrefix{name: "prefix b, another machine", wine64: wine64, dir: filepath.Join(root, "prefix-b"), exe: exe}
	prefixes := []*winePrefix{a}
	if canSimulate {
		b.otherMachine = filepath.Join(root, "machine-id-b")
		if err := os.WriteFile(b.otherMachine, []byte(fmt.Sprintf("%032x\n", 0xb)), 0o444); err != nil {
			t.Fatal(err)
		}
		prefixes = append(prefixes, b)
	}
	for _, x := range prefixes {
		// Wine's server and services end with the test, before the
		// prefix is removed.
		t.Cleanup(func() {
			cmd := exec.Command(x.wineserver(), "-k")
			cmd.Env = append(x.wineEnv(), "PATH="+os.Getenv("PATH"))
			cmd.Run()
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			built := func() bool {
				builds.Wait()
				mu.Lock()
				defer mu.Unlock()
				return len(errs) == 0
			}
			if err := makePrefix(x, shim, built); err != nil {
				fail(err)
			}
		}()
	}
	builds.Wait()
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	t.Logf("built the Windows tools and made %d Wine prefix(es) in %v", len(prefixes), time.Since(start).Round(time.Second))
	withGUID := machineGUIDCollected(t)

	// The licence desk on Linux, a host on Windows.
	wl := newWorld(t)
	guidA := a.machineGUID(wl)
	var fpA map[string]string
	t.Run("fingerprint", func(t *testing.T) {
		w := *wl
		w.t = t
		fpA = a.fingerprint(&w, guidA)
		if withGUID && fpA["machine-guid"] == "" {
			t.Errorf("activator.exe fingerprint shows no machine-guid component: %v", fpA)
		}
	})

	hostCopy := filepath.Join(root, "host-copy")
	var licence string
	t.Run("linux-desk", func(t *testing.T) {
		w := *wl
		w.t = t
		w.initDesk()
		key := w.newKey(1, "dataflow,workflow")
		req, lic, receipt := filepath.Join(w.root, "win.req"), filepath.Join(w.root, "win.lic"), filepath.Join(w.root, "win.deact")
		p := a.must(&w, "activator", "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", key, "-o", winPath(req))
		if !strings.Contains(p.stdout.String(), "written to "+winPath(req)) {
			t.Errorf("%s: want it to name the file it wrote", p)
		}
		w.must("issuer", "inspect", req)
		// A Wine prefix may bind weakly (few identifiers): the desk is
		// told to allow it; the binding is what the request says.
		w.must("issuer", "sign", "--allow-weak-binding", req, "-o", lic)
		licence = licenceID(t, lic)
		if withGUID {
			if r := decodeResponse(t, lic); r == nil || r.Fingerprint.Components["machine-guid"] != fpA["machine-guid"] {
				t.Errorf("the licence does not bind the request's machine-guid %q", fpA["machine-guid"])
			}
		}
		p = a.must(&w, "activator", "import", winPath(lic))
		if !strings.Contains(p.stdout.String(), "licence "+licence+" imported") {
			t.Errorf("%s: want it to say licence %s imported", p, licence)
		}
		a.must(&w, "activator", "check", "workflow")
		if p := a.run(&w, "activator", "check", "subflow"); p.code != 3 {
			t.Errorf("%s: want exit 3 (not enabled)", p)
		}
		if st := a.status(&w, 0); st.State != "active" || len(st.active()) != 1 || st.active()[0] != licence {
			t.Errorf("status on Windows: state %q, active %v; want active with %s", st.State, st.active(), licence)
		}
		// The store as it is now, for the copy to another machine; the
		// copy is a working store on this one.
		if out, err := exec.Command("cp", "-a", w.host, hostCopy).CombinedOutput(); err != nil {
			t.Fatalf("copy the store: %v: %s", err, out)
		}
		if st := a.status(&w, 0, "--dir", winPath(hostCopy)); st.State != "active" {
			t.Errorf("the copied store on the machine it was made on: state %q, want active", st.State)
		}

		a.must(&w, "activator", "deactivate", "-o", winPath(receipt))
		if st := a.status(&w, 3); st.State != "inactive" {
			t.Errorf("after deactivate: state %q, want inactive", st.State)
		}
		p = w.must("issuer", "deactivate", receipt)
		if !strings.Contains(p.stdout.String(), "licence "+licence+" deactivated; product key "+key+" has an activation free") {
			t.Errorf("%s: want the desk to free the activation", p)
		}
		p = w.must("issuer", "keys", "list")
		if !regexp.MustCompile(`(?m)^` + key + `\s.*\s0/1 activations`).MatchString(p.stdout.String()) {
			t.Errorf("%s: want key %s at 0/1 activations", p, key)
		}
	})

	// Without --dir, the store and the desk are in ProgramData, on drive
	// C: whatever the current drive (here Z:, the Linux root).
	t.Run("default-dirs", func(t *testing.T) {
		w := *wl
		w.t, w.host, w.desk = t, "", ""
		if _, err := os.Stat(w.vendorKey); err != nil {
			t.Skip("no vendor key: the linux-desk part failed")
		}
		p := a.run(&w, "activator", "status")
		if p.code != 3 || !strings.Contains(p.stdout.String(), `no licence store at C:\ProgramData\airlock;`) {
			t.Errorf("%s: want exit 3 and no store at the default C:\\ProgramData\\airlock", p)
		}
		p = a.must(&w, "issuer", "--help")
		if !strings.Contains(p.stdout.String(), `(default: "C:\\ProgramData\\airlock-issuer")`) {
			t.Errorf("%s: want the default desk C:\\ProgramData\\airlock-issuer", p)
		}
	})

	t.Run("windows-desk", func(t *testing.T) {
		sq := testutil.RequireTool(t, "sq")
		w := newWorld(t)
		w.vendorKey = filepath.Join(w.root, "vendor-windows.asc")
		p := a.must(w, "issuer", "init", "--name", "Example Vendor on Windows", "--email", "desk@example.com")
		m := regexp.MustCompile(`vendor key ([0-9A-F]{40})`).FindStringSubmatch(p.stdout.String())
		if m == nil {
			t.Fatalf("%s: want the vendor key's fingerprint", p)
		}
		a.must(w, "issuer", "export-key", "-o", winPath(w.vendorKey))
		p = a.must(w, "issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow", "--clients", "1")
		key := strings.TrimSpace(p.stdout.String())
		if _, err := format.ParseProductKey(key); err != nil {
			t.Fatalf("%s: stdout is not one product key: %v", p, err)
		}
		req, lic := filepath.Join(w.root, "linux.req"), filepath.Join(w.root, "linux.lic")
		w.request(key, "linux.req")
		// This Linux host may bind weakly too (a CI container).
		p = a.must(w, "issuer", "sign", "--allow-weak-binding", winPath(req), "-o", winPath(lic))
		if !strings.Contains(p.stdout.String(), "-> "+winPath(lic)+"; 1 of 1 activations used") {
			t.Errorf("%s: want it to write %s and count the activation", p, winPath(lic))
		}
		id := licenceID(t, lic)
		w.must("activator", "import", "linux.lic")
		if got := w.activeLicence("after importing the Windows desk's licence"); got != id {
			t.Errorf("active licence %s, want %s", got, id)
		}
		w.must("activator", "check", "dataflow")
		if p := w.run("activator", "check", "workflow"); p.code != 3 {
			t.Errorf("%s: want exit 3 (not sold)", p)
		}
		p = w.run(sq, "verify", "--signer-cert", w.vendorKey, lic)
		if p.code != 0 || !strings.HasPrefix(p.stdout.String(), `{"format":"airlock/response/1","license_id":"`+id+`"`) {
			t.Errorf("%s: want sq to verify the licence and print its payload", p)
		}
		if !strings.Contains(p.stderr.String(), m[1][24:]) {
			t.Errorf("%s: want sq to name the Windows desk's key %s", p, m[1])
		}
		p = a.must(w, "issuer", "ledger", "--csv")
		if !regexp.MustCompile(`(?m)^[^,]+,activation,` + key + `,.*` + id).MatchString(p.stdout.String()) {
			t.Errorf("%s: want the activation of %s in the ledger", p, id)
		}
	})

	t.Run("copied-store", func(t *testing.T) {
		if !canSimulate {
			skipUnlessCI(t, "cannot simulate a second machine (unshare -m -n as root) for the second Wine prefix")
		}
		if _, err := os.Stat(hostCopy); err != nil {
			t.Skip("no copied store: the linux-desk part failed")
		}
		w := *wl
		w.t = t
		guidB := b.machineGUID(&w)
		if guidB == guidA {
			t.Fatalf("both prefixes have MachineGuid %s", guidA)
		}
		fpB := b.fingerprint(&w, guidB)
		if withGUID && (fpB["machine-guid"] == "" || fpB["machine-guid"] == fpA["machine-guid"]) {
			t.Errorf("machine-guid on prefix b is %q, want one that differs from prefix a's %q", fpB["machine-guid"], fpA["machine-guid"])
		}
		st := b.status(&w, 3, "--dir", winPath(hostCopy))
		if st.State == "active" || len(st.active()) != 0 {
			t.Errorf("the store copied to another machine: state %q, active %v; want no active licence", st.State, st.active())
		}
		if !strings.Contains(strings.Join(st.Problems, "\n"), "another machine") {
			t.Errorf("the store copied to another machine: problems %q, want one that says another machine", st.Problems)
		}
		if p := b.run(&w, "activator", "--dir", winPath(hostCopy), "check", "workflow"); p.code != 3 {
			t.Errorf("%s: want exit 3 on another machine", p)
		}
	})
	t.Logf("TestWine took %v", time.Since(start).Round(time.Second))
}

// status runs activator.exe status --json with args, requires exit code
// want and returns what it says.
func (x *winePrefix) status(w *world, want int, args ...string) *hostStatus {
	w.t.Helper()
	p := x.run(w, "activator", append(args, "status", "--json")...)
	if p.code != want {
		w.t.Fatalf("%s: want exit %d", p, want)
	}
	st := new(hostStatus)
	if err := json.Unmarshal(p.stdout.Bytes(), st); err != nil {
		w.t.Fatalf("%s: status --json printed no JSON (%v)", p, err)
	}
	return st
}
