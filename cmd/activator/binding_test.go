package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

// cliEnv is a host with the activator command built from this test binary
// (testscript dispatches on the program name) and a vendor key.
type cliEnv struct {
	t       *testing.T
	dir     string
	bin     string // the activator program
	baseEnv []string
}

func newCLIEnv(t *testing.T) *cliEnv {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "activator")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, self, bin, 0o755)
	key := testutil.FixtureKey(t, "vendor")
	os.WriteFile(filepath.Join(dir, "vendor.asc"), key.Public().Armor(), 0o644)
	e := &cliEnv{t: t, dir: dir, bin: bin}
	e.baseEnv = append(os.Environ(), "ACTIVATOR_VENDOR_KEY="+filepath.Join(dir, "vendor.asc"),
		"ACTIVATOR_PRODUCT=astera", "ACTIVATOR_PRODUCT_VERSION=9.1.0")
	return e
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// run runs the activator here and returns stdout, stderr and the exit code.
func (e *cliEnv) run(args ...string) (string, string, int) {
	cmd := exec.Command(e.bin, args...)
	cmd.Env, cmd.Dir = e.baseEnv, e.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (e *cliEnv) must(args ...string) string {
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("activator %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

func (e *cliEnv) respond(req, out string) {
	key := testutil.FixtureKey(e.t, "vendor")
	if err := vendorDo(key, "respond", []string{filepath.Join(e.dir, req)}, filepath.Join(e.dir, out), "dataflow,workflow", 2, "9", ""); err != nil {
		e.t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// TestBindingOnSecondMachine proves the machine binding honestly: on a
// simulated second machine (other machine-id, no physical NIC, same disk,
// as a cloned VM with new identifiers would be), a copy of an activated
// store is not active, and the response imported into a copy of the store
// made before the import is refused.
func TestBindingOnSecondMachine(t *testing.T) {
	e := newCLIEnv(t)
	store := filepath.Join(e.dir, "store")
	e.must("--dir", store, "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH", "-o", "req.req")
	copyTree(t, store, filepath.Join(e.dir, "store-before-import"))
	e.respond("req.req", "resp.lic")
	e.must("--dir", store, "import", "resp.lic")
	e.must("--dir", store, "status")
	copyTree(t, store, filepath.Join(e.dir, "store-copy"))

	otherID := make([]byte, 16)
	rand.Read(otherID)
	second := func(args ...string) (string, string, int) {
		out, errb, code := testutil.OtherMachine(t, hex.EncodeToString(otherID), append([]string{e.bin}, args...), e.baseEnv)
		return string(out), string(errb), code
	}

	out, _, code := second("--dir", filepath.Join(e.dir, "store-copy"), "status")
	if code != 3 || !strings.Contains(out, "another machine") {
		t.Fatalf("copied store on the second machine: exit %d\n%s", code, out)
	}
	_, errb, code := second("--dir", filepath.Join(e.dir, "store-copy"), "check", "workflow")
	if code != 3 {
		t.Fatalf("check on the second machine: exit %d %s", code, errb)
	}
	_, errb, code = second("--dir", filepath.Join(e.dir, "store-before-import"), "import", filepath.Join(e.dir, "resp.lic"))
	if code != 1 || !strings.Contains(errb, "issued for another machine") {
		t.Fatalf("response imported on the second machine: exit %d\n%s", code, errb)
	}
	// And here, on the first machine, the same copies are fine.
	e.must("--dir", filepath.Join(e.dir, "store-copy"), "status")
	e.must("--dir", filepath.Join(e.dir, "store-before-import"), "import", "resp.lic")
}

// TestLockContention runs two processes on one store: a command that meets
// the lock waits, then says who holds it; once the holder is gone it works.
func TestLockContention(t *testing.T) {
	e := newCLIEnv(t)
	store := filepath.Join(e.dir, "store")
	e.must("--dir", store, "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH", "-o", "req.req")
	e.respond("req.req", "resp.lic")

	holder := exec.Command(filepath.Join(filepath.Dir(e.bin), "holdstore"), store)
	copyFile(t, e.bin, holder.Path, 0o755)
	holder.Env = e.baseEnv
	stdin, _ := holder.StdinPipe()
	stdout, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make([]byte, 6)
	if _, err := io.ReadFull(stdout, ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("holder did not start: %v %q", err, ready)
	}
	start := time.Now()
	_, errb, code := e.run("--dir", store, "--lock-wait", "500ms", "import", "resp.lic")
	if code != 1 || !strings.Contains(errb, "in use by holdstore (pid") {
		t.Fatalf("import while held: exit %d: %s", code, errb)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("gave up after %v, before the wait", d)
	}
	// The holder finishes while the next command is waiting.
	go func() { time.Sleep(300 * time.Millisecond); stdin.Close() }()
	e.must("--dir", store, "--lock-wait", "10s", "import", "resp.lic")
	holder.Wait()
}

// holdStore is the `holdstore DIR` test command: it opens the store, says
// "ready", and holds it until its standard input closes.
func holdStore(args []string) int {
	b, err := os.ReadFile(os.Getenv("ACTIVATOR_VENDOR_KEY"))
	if err != nil {
		return 1
	}
	keys, err := format.ParseKeySet(b)
	if err != nil {
		return 1
	}
	s, err := activator.OpenStore(activator.Config{Dir: args[0], VendorKeys: keys, Product: "astera", Version: "9.1.0", Command: "holdstore"}, false)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin)
	s.Close()
	return 0
}

// TestRequestQRScans decodes the request's PNG with zbarimg: the text is the
// request's AL1: QR text, and it verifies as the same request.
func TestRequestQRScans(t *testing.T) {
	zbar := testutil.RequireTool(t, "zbarimg")
	e := newCLIEnv(t)
	e.must("--dir", filepath.Join(e.dir, "store"), "request", "--name", "Ada Admin", "--org", "Example Bank",
		"--product-key", "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH", "-o", "req.req", "--qr", "req.png")
	out, err := exec.Command(zbar, "--raw", "-q", "--oneshot", filepath.Join(e.dir, "req.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	text := strings.TrimSpace(string(out))
	if !strings.HasPrefix(text, format.QRPrefix) {
		t.Fatalf("scanned %q", text)
	}
	armored, _ := os.ReadFile(filepath.Join(e.dir, "req.req"))
	a1, _, err := format.VerifyRequest([]byte(text), time.Now())
	if err != nil {
		t.Fatalf("%v; zbarimg printed %d bytes in %d lines: %q", err, len(out), bytes.Count(out, []byte("\n")), out)
	}
	a2, _, err := format.VerifyRequest(armored, time.Now())
	if err != nil || !bytes.Equal(a1.Binary, a2.Binary) {
		t.Fatalf("the QR code and the file differ: %v", err)
	}
}

// TestServiceUserReadsStore: the admin runs activator as root on a store
// directory owned by the product's service account; the service, running
// as that account, reads the licence. (Badger creates its files 0600, so
// activator hands them to the directory's owner.)
func TestServiceUserReadsStore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as admin and service account")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed (util-linux)")
	}
	e := newCLIEnv(t)
	// The service must be able to reach its binary and files.
	for d := e.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	store := filepath.Join(e.dir, "store")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(store, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	e.must("--dir", store, "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH", "-o", "req.req")
	e.respond("req.req", "resp.lic")
	e.must("--dir", store, "import", "resp.lic")

	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", e.bin, "--dir", store, "status")
	cmd.Env, cmd.Dir = e.baseEnv, e.dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "state:    active") {
		t.Fatalf("status as the service account: %v\n%s", err, out)
	}
}
