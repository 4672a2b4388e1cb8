package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

// The sample server under its licence: seats, features, and the
// disconnection that makes an upgrade take effect.

func vendor(t *testing.T) *format.PrivateKey { return testutil.FixtureKey(t, "vendor") } // TEST ONLY

// licence requests, signs (as the desk would) and imports a licence, in
// place of the one in force even when it grants less.
func licence(t *testing.T, cfg activator.Config, v *format.PrivateKey, features []string, clients int) {
	s, err := activator.OpenStore(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req, err := s.Request(activator.RequestOptions{Name: "Ada Admin", Organization: "Example Bank", ProductKey: "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH"})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := testutil.Respond(v, req.Binary, time.Now(), func(r *format.Response) { r.Features, r.Limits.Clients = features, clients })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(msg, activator.ImportOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
}

var (
	binDir   string // TestMain's; holds the server built by serverBinary
	build    sync.Once
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dataserver-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serverBinary builds the sample server once for the tests that run it as
// a process.
func serverBinary(t *testing.T) string {
	bin := filepath.Join(binDir, "dataserver")
	build.Do(func() {
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

type client struct {
	conn net.Conn
	in   *bufio.Reader
}

func dial(t *testing.T, addr string) (*client, string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{conn: c, in: bufio.NewReader(c)}
	return cl, cl.line(t)
}

func (c *client) line(t *testing.T) string {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.in.ReadString('\n')
	if err != nil {
		return "closed: " + err.Error()
	}
	return strings.TrimSpace(l)
}

func (c *client) ask(t *testing.T, req string) string {
	c.conn.Write([]byte(req + "\n"))
	return c.line(t)
}

func TestLicensedServer(t *testing.T) {
	v := vendor(t)
	cfg := activator.Config{Dir: filepath.Join(t.TempDir(), "store"), VendorKeys: format.NewKeySet(v.Public()), Product: "astera", Version: "9.1.0", PollInterval: 20 * time.Millisecond}
	licence(t, cfg, v, []string{"dataflow", "workflow"}, 2)

	lic, err := activator.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lic.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go newServer(lic, defaultIdleTimeout).serve(ln)
	addr := ln.Addr().String()

	c1, hello1 := dial(t, addr)
	c2, hello2 := dial(t, addr)
	_, hello3 := dial(t, addr)
	if !strings.HasPrefix(hello1, "welcome") || !strings.HasPrefix(hello2, "welcome") {
		t.Fatalf("first two clients: %q %q", hello1, hello2)
	}
	if !strings.Contains(hello3, "refused: all 2 client seats are in use") {
		t.Fatalf("third client: %q", hello3)
	}
	if got := c1.ask(t, "run workflow"); got != "ok workflow" {
		t.Fatalf("workflow: %q", got)
	}
	if got := c2.ask(t, "run subflow"); got != "denied: subflow is not licensed" {
		t.Fatalf("subflow: %q", got)
	}

	// An upgrade imported while the server runs: clients are disconnected,
	// reconnect, and the new licence applies.
	licence(t, cfg, v, []string{"dataflow", "subflow", "workflow"}, 5)
	for _, c := range []*client{c1, c2} {
		if got := c.line(t); !strings.HasPrefix(got, "bye: the licence changed") {
			t.Fatalf("on upgrade: %q", got)
		}
	}
	c4, hello4 := dial(t, addr)
	if !strings.Contains(hello4, "of the 5 licensed on this host") {
		t.Fatalf("after upgrade: %q", hello4)
	}
	if got := c4.ask(t, "run subflow"); got != "ok subflow" {
		t.Fatalf("subflow after upgrade: %q", got)
	}
	if got := c4.ask(t, "status"); !strings.Contains(got, `"state":"active"`) {
		t.Fatalf("status: %q", got)
	}
}

// TestTwoServersShareSeats runs two processes of the sample server on one
// store with a 2-client licence: together they admit exactly two clients,
// and the seats of a server killed with SIGKILL come back at once.
func TestTwoServersShareSeats(t *testing.T) {
	v := vendor(t)
	dir := t.TempDir()
	cfg := activator.Config{Dir: filepath.Join(dir, "store"), VendorKeys: format.NewKeySet(v.Public()), Product: "astera", Version: "9.1.0"}
	licence(t, cfg, v, []string{"dataflow", "workflow"}, 2)
	keyFile := filepath.Join(dir, "vendor.asc")
	if err := os.WriteFile(keyFile, v.Public().Armor(), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := serverBinary(t)
	start := func() (*exec.Cmd, string) {
		cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--dir", cfg.Dir, "--vendor-key", keyFile)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		addr, _, ok := strings.Cut(strings.TrimPrefix(line, "dataserver listening on "), ";")
		if err != nil || !ok {
			t.Fatalf("server start: %q %v", line, err)
		}
		go io.Copy(io.Discard, out)
		return cmd, addr
	}
	a, addrA := start()
	_, addrB := start()

	_, helloA := dial(t, addrA)
	_, helloB := dial(t, addrB)
	_, hello3 := dial(t, addrB)
	_, hello4 := dial(t, addrA)
	if !strings.HasPrefix(helloA, "welcome") || !strings.HasPrefix(helloB, "welcome") {
		t.Fatalf("one client on each server: %q %q", helloA, helloB)
	}
	for _, h := range []string{hello3, hello4} {
		if !strings.Contains(h, "refused: all 2 client seats are in use on this host") {
			t.Fatalf("a third client, on either server: %q", h)
		}
	}
	// Server A dies holding a seat: the operating system gives it back.
	a.Process.Signal(syscall.SIGKILL)
	a.Wait()
	if _, h := dial(t, addrB); !strings.HasPrefix(h, "welcome") {
		t.Fatalf("after the other server was killed: %q", h)
	}
	if _, h := dial(t, addrB); !strings.Contains(h, "refused") {
		t.Fatalf("and still two in all: %q", h)
	}
}

// TestUsage: --help documents the idle timeout and its default, and a
// negative one is refused as a usage error.
func TestUsage(t *testing.T) {
	bin := serverBinary(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v %s", err, out)
	}
	for _, want := range []string{"usage: dataserver [flags]", "-idle-timeout duration", "(default 5m0s)", "gives its seat back"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help does not say %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(bin, "--idle-timeout", "-1s").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "--idle-timeout must not be negative") {
		t.Fatalf("a negative idle timeout: %v %s", err, out)
	}
}
