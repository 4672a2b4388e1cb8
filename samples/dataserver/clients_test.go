package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
)

// The sample server under slow, idle and racing clients (issue 12).

// testConfig is a store of the sample product polled every 20ms.
func testConfig(t *testing.T, v *format.PrivateKey) activator.Config {
	return activator.Config{Dir: filepath.Join(t.TempDir(), "store"), VendorKeys: format.NewKeySet(v.Public()), Product: "astera", Version: "9.1.0", PollInterval: 20 * time.Millisecond}
}

// startServer opens the licence in cfg's store and serves it on a loopback
// port until the test ends; edit may change the server before it serves.
func startServer(t *testing.T, cfg activator.Config, edit func(*server)) (*activator.License, string) {
	lic, err := activator.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(lic, defaultIdleTimeout)
	if edit != nil {
		edit(s)
	}
	go s.serve(ln)
	t.Cleanup(func() { ln.Close(); lic.Close() })
	return lic, ln.Addr().String()
}

// changes returns a channel that receives each new licence state after the
// server has handled it: hooks run in the order they were registered, and
// the server registered its own first.
func changes(lic *activator.License) <-chan *activator.Snapshot {
	ch := make(chan *activator.Snapshot, 16)
	lic.OnChange(func(_, new *activator.Snapshot) { ch <- new })
	return ch
}

func waitChange(t *testing.T, ch <-chan *activator.Snapshot) *activator.Snapshot {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("a licence change was not handled within 10s (the server's OnChange hook had not returned)")
		return nil
	}
}

// jam makes c a client that sends requests and never reads the replies,
// and returns once the server has stopped reading from it (nothing taken
// for 200ms): the server is then blocked writing to c, whose buffers are
// full. It must return before the server's write deadline passes.
func jam(t *testing.T, c *client) {
	t.Helper()
	tc := c.conn.(*net.TCPConn)
	tc.SetReadBuffer(4096)
	// Each request costs the server little and its reply is as long.
	chunk := []byte("run " + strings.Repeat("x", 16<<10) + "\n")
	stalled := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.conn.Write(chunk)
		switch {
		case err == nil || n > 0:
			stalled = 0
		case errors.Is(err, os.ErrDeadlineExceeded):
			if stalled++; stalled == 2 {
				return
			}
		default:
			t.Fatalf("jam the server: %v", err)
		}
	}
	t.Fatal("the server kept reading from a client that never reads for 10s")
}

// TestClientThatNeverReads: a client whose socket is full does not stop
// the others from being told of a licence change, new clients from being
// welcomed, or the watcher from noticing the next change; and it loses its
// seat when the server's write deadline passes.
func TestClientThatNeverReads(t *testing.T) {
	v := vendor(t)
	cfg := testConfig(t, v)
	licence(t, cfg, v, []string{"dataflow", "workflow"}, 3)
	lic, addr := startServer(t, cfg, func(s *server) { s.writeTimeout = time.Second })
	changed := changes(lic)

	stuck, _ := dial(t, addr)
	other, _ := dial(t, addr)
	jam(t, stuck)

	licence(t, cfg, v, []string{"dataflow", "workflow"}, 2)
	waitChange(t, changed)
	if got := other.line(t); !strings.HasPrefix(got, "bye: the licence changed") {
		t.Fatalf("a client beside one that never reads, after a licence change: %q", got)
	}
	if got := other.line(t); got != "closed: EOF" { // its seat is free
		t.Fatalf("after its bye: %q", got)
	}
	// A new client is welcomed while the stuck one still holds its seat
	// (the write deadline has not passed yet), and after it has gone.
	if _, hello := dial(t, addr); !strings.HasPrefix(hello, "welcome") {
		t.Fatalf("a new client while another never reads: %q", hello)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, hello := dial(t, addr)
		if strings.HasPrefix(hello, "welcome") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client that never reads still holds its seat 5s after the licence changed: %q", hello)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The watcher is free: it notices the next change.
	licence(t, cfg, v, []string{"dataflow", "subflow", "workflow"}, 3)
	if got := waitChange(t, changed); !got.Enabled("subflow") {
		t.Fatalf("the next change: %v", got.Features)
	}
}

// deactivate deactivates the licence in cfg's store, as `activator
// deactivate` does.
func deactivate(t *testing.T, cfg activator.Config) {
	t.Helper()
	s, err := activator.OpenStore(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Deactivate(); err != nil {
		t.Fatal(err)
	}
}

// TestConnectionsRaceChanges connects clients without pause while the
// licence is deactivated: every client welcomed under the old licence must
// be told to leave, however its connection interleaves with the change (a
// client seated but not yet known to the change handler would keep
// working without a licence). Clients arriving after the change are
// refused.
func TestConnectionsRaceChanges(t *testing.T) {
	v := vendor(t)
	cfg := testConfig(t, v)
	lic, addr := startServer(t, cfg, nil)
	changed := changes(lic)
	const connectors, kept = 4, 8 // connections each connector keeps open
	for round := range 4 {
		licence(t, cfg, v, []string{"dataflow", "workflow"}, 2*connectors*kept)
		if got := waitChange(t, changed); !got.Active() {
			t.Fatalf("round %d: the licence is %s", round, got.State)
		}
		stop := make(chan struct{})
		// Other seats taken and given back meanwhile keep the server's
		// Acquire calls waiting for the seat counter, as a busy server's
		// do, widening the moment a connection has a seat but may not yet
		// hear of the change.
		busy := make(chan struct{})
		for range 4 {
			go func() {
				defer func() { busy <- struct{}{} }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if seat, err := lic.Seats().Acquire("busy"); err == nil {
						seat.Release()
					}
				}
			}()
		}
		open := make(chan []*client, connectors)
		for range connectors {
			go func() {
				var welcomed []*client
				for {
					select {
					case <-stop:
						open <- welcomed
						return
					default:
					}
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Error(err)
						continue
					}
					cl := &client{conn: c, in: bufio.NewReader(c)}
					if !strings.HasPrefix(cl.line(t), "welcome") {
						c.Close()
						continue
					}
					// Only the latest few can have raced the change.
					if welcomed = append(welcomed, cl); len(welcomed) > kept {
						welcomed[0].conn.Close()
						welcomed = welcomed[1:]
					}
				}
			}()
		}
		deactivate(t, cfg)
		if got := waitChange(t, changed); got.Active() {
			t.Fatalf("round %d: the licence is still active after deactivation", round)
		}
		close(stop)
		for range 4 {
			<-busy
		}
		for range connectors {
			for _, c := range <-open {
				if got := c.line(t); !strings.HasPrefix(got, "bye: the licence changed") {
					t.Fatalf("round %d: a client welcomed as the licence was deactivated, after the change: %q", round, got)
				}
				c.conn.Close()
			}
		}
	}
}

// TestIdleClient: a client that sends nothing for the idle timeout is told
// so and disconnected, and its seat is free for the next one; a client
// that keeps sending stays, however long it stays.
func TestIdleClient(t *testing.T) {
	v := vendor(t)
	cfg := testConfig(t, v)
	licence(t, cfg, v, []string{"dataflow", "workflow"}, 2)
	const idle = 300 * time.Millisecond
	_, addr := startServer(t, cfg, func(s *server) { s.idleTimeout = idle })

	busy, _ := dial(t, addr)
	quiet, _ := dial(t, addr)
	for start := time.Now(); time.Since(start) < idle+idle/4; {
		if got := busy.ask(t, "run workflow"); got != "ok workflow" {
			t.Fatalf("a busy client, %v after connecting: %q", time.Since(start), got)
		}
	}
	if got := quiet.line(t); got != "bye: idle for 300ms; reconnect when needed" {
		t.Fatalf("a client that sent nothing for %v: %q", idle, got)
	}
	if got := quiet.line(t); !strings.HasPrefix(got, "closed: EOF") {
		t.Fatalf("after its bye: %q", got)
	}
	if _, hello := dial(t, addr); !strings.HasPrefix(hello, "welcome") {
		t.Fatalf("the idle client's seat: %q", hello)
	}
}

// askStatus asks c for the server's status and decodes the reply.
func askStatus(t *testing.T, c *client) (st struct {
	State      activator.State `json:"state"`
	Clients    int             `json:"clients"`
	SeatsInUse *int            `json:"seats_in_use"`
	Problems   []string        `json:"problems"`
}) {
	t.Helper()
	got := c.ask(t, "status")
	if err := json.Unmarshal([]byte(got), &st); err != nil || st.SeatsInUse == nil {
		t.Fatalf("status: %q (%v), want JSON with seats_in_use", got, err)
	}
	return st
}

// TestStatusWithoutSeat: a client refused a seat (all taken, or no
// licence) can still ask for the status, which says how many seats are in
// use; it cannot run anything.
func TestStatusWithoutSeat(t *testing.T) {
	v := vendor(t)
	cfg := testConfig(t, v)
	licence(t, cfg, v, []string{"dataflow", "workflow"}, 1)
	_, addr := startServer(t, cfg, nil)

	seated, hello := dial(t, addr)
	if hello != "welcome: seat 1 of the 1 licensed on this host" {
		t.Fatalf("the first client: %q", hello)
	}
	if st := askStatus(t, seated); st.State != activator.StateActive || st.Clients != 1 || *st.SeatsInUse != 1 {
		t.Fatalf("status from a seated client: %+v", st)
	}
	refused, hello := dial(t, addr)
	if !strings.HasPrefix(hello, "refused: all 1 client seats are in use") || !strings.HasSuffix(hello, "; status and quit still work") {
		t.Fatalf("a client past the limit: %q", hello)
	}
	if st := askStatus(t, refused); st.State != activator.StateActive || st.Clients != 1 || *st.SeatsInUse != 1 {
		t.Fatalf("status from a client without a seat: %+v", st)
	}
	if got := refused.ask(t, "run workflow"); !strings.HasPrefix(got, "refused: this connection has no seat") {
		t.Fatalf("run without a seat: %q", got)
	}
	if got := refused.ask(t, "quit"); got != "closed: EOF" {
		t.Fatalf("quit without a seat: %q", got)
	}

	// No licence at all: status says why.
	_, addr = startServer(t, testConfig(t, v), nil)
	c, hello := dial(t, addr)
	if !strings.HasPrefix(hello, "refused: no active licence") {
		t.Fatalf("a client of an unlicensed server: %q", hello)
	}
	if st := askStatus(t, c); st.State != activator.StateInactive || *st.SeatsInUse != 0 || len(st.Problems) == 0 {
		t.Fatalf("status of an unlicensed server: %+v", st)
	}
}
