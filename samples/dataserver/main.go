// Command dataserver is a sample licensed server: a small data-integration
// service whose features (dataflow, workflow, subflow) and number of
// connected clients are governed by an airlock licence. It uses only the
// public activator API and is meant to be read and copied:
//
//   - at start-up, activator.Open loads and verifies the licence;
//   - each connection takes a client seat (Seats().Acquire) and gives it
//     back when it ends; past the licensed number, or without a licence, a
//     client is refused a seat and may only ask for the status;
//   - each request checks lic.Enabled(feature);
//   - when a new licence takes effect (imported from a shell while the
//     server runs, or expired), OnChange disconnects every client so that
//     they reconnect under the new licence.
//
// A client that sends nothing for the idle timeout (--idle-timeout, five
// minutes by default; 0 for none) is told "bye" and disconnected, so that a
// forgotten client does not hold a seat for ever. A refused client holds no
// seat, only its connection, until it quits or is idle that long.
//
// OnChange runs on the licence watcher's goroutine: if it waited on a
// client, the server would notice no further change (a deactivation, an
// expiry). So the hook only marks each connection and wakes its goroutine,
// which says "bye" itself. Every write has a deadline, so that a client
// that stops reading holds its goroutine and its seat for a bounded time.
//
// The protocol is one line per request over TCP. On connecting, a client
// reads one of
//
//	welcome: seat N of the M licensed on this host
//	refused: REASON; status and quit still work
//
// where N is the number of its seat (seats are shared by every server of
// the product on the host, so N is not a count of clients) and M the
// licensed number. Then:
//
//	run FEATURE   ->  "ok FEATURE" or "denied: FEATURE is not licensed"
//	                  ("refused: this connection has no seat; ..." without one)
//	status        ->  the licence state as one JSON line (no seat needed),
//	                  with "seats_in_use": the seats this server's clients hold
//	quit
//
// and the server ends a connection with one of:
//
//	bye: the licence changed; reconnect
//	bye: idle for DURATION; reconnect when needed
//
// Usage:
//
//	dataserver --listen 127.0.0.1:7070 --dir /var/lib/airlock --vendor-key vendor.asc --product astera --version 9.1.0
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
)

// usage heads the --help text, before the flags.
const usage = `usage: dataserver [flags]

A sample licensed server. Clients send one request per line over TCP:
run FEATURE, status, quit. A client that sends nothing for --idle-timeout
is told "bye" and disconnected, which gives its seat back.

flags:
`

// defaultIdleTimeout is --idle-timeout's default: long enough for a client
// between two jobs, short enough that a forgotten one gives its seat back.
const defaultIdleTimeout = 5 * time.Minute

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	listen := flag.String("listen", "127.0.0.1:7070", "address to listen on")
	dir := flag.String("dir", os.Getenv("ACTIVATOR_DIR"), "licence store directory")
	keyFile := flag.String("vendor-key", os.Getenv("ACTIVATOR_VENDOR_KEY"), "vendor public key (a real product compiles it in)")
	product := flag.String("product", "astera", "product identifier")
	version := flag.String("version", "9.1.0", "this server's version")
	idle := flag.Duration("idle-timeout", defaultIdleTimeout, "disconnect a client that sends nothing for this long, freeing its seat (0: never)")
	flag.Parse()
	if *idle < 0 {
		fmt.Fprintln(flag.CommandLine.Output(), "dataserver: --idle-timeout must not be negative")
		flag.Usage()
		os.Exit(2)
	}
	if err := serve(*listen, *dir, *keyFile, *product, *version, *idle); err != nil {
		log.Fatal(err)
	}
}

// writeTimeout bounds every write to a client: ample for a slow network,
// short enough that a client that stops reading soon gives its seat back.
const writeTimeout = 10 * time.Second

// server holds the licence and the connected clients.
type server struct {
	lic          *activator.License
	idleTimeout  time.Duration // 0: none
	writeTimeout time.Duration // the constant writeTimeout; tests shorten it

	mu    sync.Mutex
	conns map[*conn]bool
}

// conn is one client's connection. Only its own goroutine writes to it.
type conn struct {
	net.Conn
	changed atomic.Bool // the licence changed: say bye and leave
}

func serve(addr, dir, keyFile, product, version string, idleTimeout time.Duration) error {
	keyData, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("vendor key: %v", err)
	}
	keys, err := format.ParseKeySet(keyData)
	if err != nil {
		return fmt.Errorf("vendor key: %v", err)
	}
	lic, err := activator.Open(activator.Config{Dir: dir, VendorKeys: keys, Product: product, Version: version, Command: "dataserver"})
	if err != nil {
		return err
	}
	defer lic.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ln.Close()
	}()
	return newServer(lic, idleTimeout).serve(ln)
}

func newServer(lic *activator.License, idleTimeout time.Duration) *server {
	s := &server{lic: lic, idleTimeout: idleTimeout, writeTimeout: writeTimeout, conns: map[*conn]bool{}}
	lic.OnChange(s.licenceChanged)
	return s
}

// serve accepts clients until ln is closed.
func (s *server) serve(ln net.Listener) error {
	snap := s.lic.Snapshot()
	fmt.Printf("dataserver listening on %s; licence %s, features [%s], %d clients\n", ln.Addr(), snap.State, strings.Join(snap.Features, " "), snap.Clients)
	for _, p := range snap.Problems {
		fmt.Printf("licence problem: %s\n", p)
	}
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		go s.handle(conn)
	}
}

// licenceChanged runs when a new licence takes effect: every client is
// disconnected, so that each reconnects, and is admitted, under the new
// licence's features and client limit. It runs on the licence watcher's
// goroutine and must not wait on a client: it marks each one and wakes
// its goroutine (a read deadline in the past ends its read at once),
// which says bye.
func (s *server) licenceChanged(old, new *activator.Snapshot) {
	fmt.Printf("licence changed: %s [%s] %d clients -> %s [%s] %d clients; disconnecting clients\n",
		old.State, strings.Join(old.Features, " "), old.Clients, new.State, strings.Join(new.Features, " "), new.Clients)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.changed.Store(true)
		c.SetReadDeadline(aLongTimeAgo)
	}
}

// aLongTimeAgo is a deadline that has passed: setting it ends a blocked
// read at once.
var aLongTimeAgo = time.Unix(1, 0)

func (s *server) handle(nc net.Conn) {
	c := &conn{Conn: nc}
	defer c.Close()
	// Known to licenceChanged before taking a seat: a change from now on
	// tells this client to leave, and Acquire sees any change before.
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	seat, err := s.lic.Seats().Acquire(c.RemoteAddr().String())
	if err == nil {
		defer seat.Release() // before the close: a client that sees EOF finds its seat free
		err = s.say(c, "welcome: seat %d of the %d licensed on this host", seat.Number, s.lic.Snapshot().Clients)
	} else {
		// Without a seat the client may still ask why (status), so that
		// an operator can find out when every seat is taken or the
		// licence has gone.
		err = s.say(c, "refused: %v; status and quit still work", err)
	}
	if err != nil {
		return
	}
	in := bufio.NewScanner(c)
	for {
		var deadline time.Time // none
		if s.idleTimeout > 0 {
			deadline = time.Now().Add(s.idleTimeout)
		}
		c.SetReadDeadline(deadline)
		// Checked after setting the deadline, which would otherwise undo
		// licenceChanged's wake-up: a change from here on ends the read.
		if c.changed.Load() || !in.Scan() {
			break
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
		var err error
		switch cmd {
		case "run":
			if seat == nil {
				err = s.say(c, "refused: this connection has no seat; reconnect when one is free")
			} else if s.lic.Enabled(arg) {
				err = s.say(c, "ok %s", arg)
			} else {
				err = s.say(c, "denied: %s is not licensed", arg)
			}
		case "status":
			b, _ := json.Marshal(status{s.lic.Snapshot(), s.lic.Seats().InUse()})
			err = s.say(c, "%s", b)
		case "quit":
			return
		default:
			err = s.say(c, "error: unknown command %q (run FEATURE, status, quit)", cmd)
		}
		if err != nil {
			return // the client is gone, or stopped reading
		}
	}
	switch {
	case c.changed.Load():
		s.say(c, "bye: the licence changed; reconnect")
	case errors.Is(in.Err(), os.ErrDeadlineExceeded):
		s.say(c, "bye: idle for %v; reconnect when needed", s.idleTimeout)
	}
}

// status is the reply to "status": the licence state, and the seats held
// by this server's clients. Other servers of the product on this host hold
// seats of their own, which this one cannot count.
type status struct {
	*activator.Snapshot
	SeatsInUse int `json:"seats_in_use"`
}

// say writes one line to c, giving up after s.writeTimeout.
func (s *server) say(c *conn, line string, args ...any) error {
	c.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	_, err := fmt.Fprintf(c, line+"\n", args...)
	return err
}
