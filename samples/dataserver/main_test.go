package main

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

// The sample server under its licence: seats, features, and the
// disconnection that makes an upgrade take effect.

func vendor(t *testing.T) *format.PrivateKey { return testutil.FixtureKey(t, "vendor") } // TEST ONLY

// licence requests, signs (as the desk would) and imports a licence.
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
	if _, err := s.Import(msg, activator.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
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
	go newServer(lic).serve(ln)
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
	if !strings.Contains(hello4, "of 5") {
		t.Fatalf("after upgrade: %q", hello4)
	}
	if got := c4.ask(t, "run subflow"); got != "ok subflow" {
		t.Fatalf("subflow after upgrade: %q", got)
	}
	if got := c4.ask(t, "status"); !strings.Contains(got, `"state":"active"`) {
		t.Fatalf("status: %q", got)
	}
}
