// Command demo plays the whole airlock story with the real tools, in a
// temporary directory: the licence desk sells a key, the host admin
// requests (file and QR code), the desk signs, the host imports, an upgrade
// follows, and an attacker's edit is refused. Every line it prints is a
// command it ran and that command's real output; it exits non-zero as soon
// as a step does not behave as narrated, so `make demo` is also a test.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

// demo runs commands in a work directory and narrates them.
type demo struct {
	w   io.Writer
	dir string
	bin string // the built tools
	env []string
	srv *server // the sample server, once started
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.w, "\n== "+format+"\n", args...) }

// run executes a shell command line in the work directory, prints it and
// its output, and checks its exit code and that its output matches every
// pattern.
func (d *demo) run(wantExit int, cmdline string, patterns ...string) (string, error) {
	fmt.Fprintf(d.w, "$ %s\n", cmdline)
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir, cmd.Env = d.dir, d.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return "", err
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if line != "" {
			fmt.Fprintf(d.w, "  %s\n", line)
		}
	}
	if code != wantExit {
		return "", fmt.Errorf("%q exited %d, want %d", cmdline, code, wantExit)
	}
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out.String()) {
			return "", fmt.Errorf("%q: output does not match %q", cmdline, p)
		}
	}
	return out.String(), nil
}

func run(w io.Writer) error {
	dir, err := os.MkdirTemp("", "airlock-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bin")
	for tool, pkg := range map[string]string{"activator": "cmd/activator", "issuer": "cmd/issuer", "dataserver": "samples/dataserver"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, tool), "github.com/airlock-license/airlock/"+pkg).CombinedOutput()
		if err != nil {
			return fmt.Errorf("build %s: %v\n%s", tool, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "passphrase"), []byte("demo passphrase, not for production\n"), 0o600); err != nil {
		return err
	}
	d := &demo{w: w, dir: dir, bin: bin, env: append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"ISSUER_DIR="+filepath.Join(dir, "vendor-desk"), "ISSUER_PASSPHRASE_FILE="+filepath.Join(dir, "passphrase"),
		"ACTIVATOR_DIR="+filepath.Join(dir, "host-store"), "ACTIVATOR_PRODUCT=astera", "ACTIVATOR_PRODUCT_VERSION=9.1.0",
		"ACTIVATOR_VENDOR_KEY="+filepath.Join(dir, "vendor.asc"),
	)}
	fmt.Fprintf(w, "airlock demo in %s (removed at the end); the tools and the sample server built from this checkout\n", dir)
	var srv *server
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()
	var c1, c2 *client

	steps := []struct {
		title string
		fn    func() error
	}{
		{"vendor: create the licence desk's key, and sell a key for astera 9 with dataflow and workflow for 2 clients", func() error {
			if _, err := d.run(0, `issuer init --name "Demo Vendor Licensing" --email licensing@demo.invalid`, `vendor key [0-9A-F]{40}`); err != nil {
				return err
			}
			if _, err := d.run(0, `issuer export-key -o vendor.asc`); err != nil {
				return err
			}
			_, err := d.run(0, `issuer keys create --product astera --version 9 --features dataflow,workflow --clients 2 | tee key1.txt`, `^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}\n$`)
			return err
		}},
		{"host admin: what binds a licence to this machine, then the request (file, PNG and terminal QR code)", func() error {
			if _, err := d.run(0, `activator fingerprint`, `identifiers found`); err != nil {
				return err
			}
			_, err := d.run(0, `activator request --name "Ada Admin" --org "Example Bank" --product-key "$(cat key1.txt)" -o request1.req --qr request1.png --qr-terminal`,
				`QR code written to request1.png`, `request [A-Z2-7]{26} written to request1.req`)
			return err
		}},
		{"vendor: sign the request; host: import the licence and check it", func() error {
			if _, err := d.run(0, `issuer sign request1.req -o licence1.lic`, `1 of 1 activations used`); err != nil {
				return err
			}
			if _, err := d.run(0, `activator import licence1.lic`, `imported`, `features: dataflow, workflow`); err != nil {
				return err
			}
			if _, err := d.run(0, `activator check workflow && echo "workflow: enabled"`, `workflow: enabled`); err != nil {
				return err
			}
			_, err := d.run(3, `activator check subflow || { code=$?; echo "subflow: not licensed (exit $code)"; exit $code; }`, `subflow: not licensed \(exit 3\)`)
			return err
		}},
		{"the licensed server starts with that licence: two clients connect, a third is refused, subflow is denied", func() error {
			var err error
			if srv, err = startServer(d); err != nil {
				return err
			}
			d.srv = srv
			if c1, err = connect(d, "client 1", "welcome: seat 1 of the 2 licensed on this host"); err != nil {
				return err
			}
			if c2, err = connect(d, "client 2", "welcome: seat 2 of the 2 licensed on this host"); err != nil {
				return err
			}
			if _, err = connect(d, "client 3", `refused: all 2 client seats are in use on this host \(by every process of the product\); status and quit still work`); err != nil {
				return err
			}
			if err := c1.ask(d, "run workflow", "ok workflow"); err != nil {
				return err
			}
			return c2.ask(d, "run subflow", "denied: subflow is not licensed")
		}},
		{"upgrade: the customer buys subflow and 5 clients; request, sign and import while the server runs", func() error {
			if _, err := d.run(0, `issuer keys create --product astera --version 9 --features dataflow,workflow,subflow --clients 5 > key2.txt && cat key2.txt`); err != nil {
				return err
			}
			if _, err := d.run(0, `activator request --name "Ada Admin" --org "Example Bank" --product-key "$(cat key2.txt)" -o request2.req`); err != nil {
				return err
			}
			if _, err := d.run(0, `issuer sign request2.req -o licence2.lic`); err != nil {
				return err
			}
			if _, err := d.run(0, `activator import licence2.lic`, `features: dataflow, subflow, workflow`, `clients: +5`); err != nil {
				return err
			}
			// The server notices within its poll interval and disconnects
			// its clients so that the new licence takes effect.
			for _, c := range []*client{c1, c2} {
				if err := c.expect(d, "bye: the licence changed; reconnect"); err != nil {
					return err
				}
			}
			if err := srv.expect(d, "licence changed: active [dataflow workflow] 2 clients -> active [dataflow subflow workflow] 5 clients"); err != nil {
				return err
			}
			// (A seat of the old connections may still be on its way back.)
			c, err := connect(d, "client 1 again", "welcome: seat [1-3] of the 5 licensed on this host")
			if err != nil {
				return err
			}
			return c.ask(d, "run subflow", "ok subflow")
		}},
		{"attacker: raise the client limit from 5 to 9 inside the licence; the host refuses it", func() error {
			if _, err := d.run(0, `awk '/^$/{f=1;next} /^=|^-----END/{f=0} f' licence2.lic | base64 -d | LC_ALL=C sed 's/"clients":5/"clients":9/' > tampered.bin; LC_ALL=C grep -a -o '"clients":[0-9]*' tampered.bin`,
				`"clients":9`); err != nil {
				return err
			}
			_, err := d.run(1, `activator import tampered.bin`, `signature does not verify`)
			return err
		}},
		{"the desk's ledger", func() error {
			_, err := d.run(0, `issuer ledger --csv | cut -d, -f1-7`, `,activation,`)
			return err
		}},
	}
	for _, s := range steps {
		d.say("%s", s.title)
		if err := s.fn(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\ndemo complete: every command above ran, and behaved as described.")
	return nil
}

// server is the sample licensed server, run as a child process.
type server struct {
	cmd   *exec.Cmd
	addr  string
	lines chan string
}

func startServer(d *demo) (*server, error) {
	fmt.Fprintf(d.w, "$ dataserver --listen 127.0.0.1:0 &\n")
	cmd := exec.Command(filepath.Join(d.bin, "dataserver"), "--listen", "127.0.0.1:0", "--product", "astera", "--version", "9.1.0")
	cmd.Dir, cmd.Env = d.dir, d.env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	first, err := s.next()
	if err != nil {
		s.stop()
		return nil, err
	}
	fmt.Fprintf(d.w, "  [server] %s\n", first)
	m := regexp.MustCompile(`listening on (\S+); licence active`).FindStringSubmatch(first)
	if m == nil {
		s.stop()
		return nil, fmt.Errorf("the server did not start licensed: %q", first)
	}
	s.addr = strings.TrimSuffix(m[1], ";")
	return s, nil
}

func (s *server) next() (string, error) {
	select {
	case l, ok := <-s.lines:
		if !ok {
			return "", errors.New("the server exited")
		}
		return l, nil
	case <-time.After(15 * time.Second):
		return "", errors.New("the server said nothing for 15 seconds")
	}
}

// expect reads the server's log up to a line containing want.
func (s *server) expect(d *demo, want string) error {
	for {
		l, err := s.next()
		if err != nil {
			return fmt.Errorf("waiting for the server to say %q: %v", want, err)
		}
		fmt.Fprintf(d.w, "  [server] %s\n", l)
		if strings.Contains(l, want) {
			return nil
		}
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
	}
}

// client is a connection to the sample server.
type client struct {
	name string
	conn net.Conn
	in   *bufio.Reader
}

func connect(d *demo, name, want string) (*client, error) {
	conn, err := net.Dial("tcp", d.srv.addr)
	if err != nil {
		return nil, err
	}
	c := &client{name: name, conn: conn, in: bufio.NewReader(conn)}
	fmt.Fprintf(d.w, "  [%s] connects\n", name)
	return c, c.expect(d, want)
}

func (c *client) expect(d *demo, want string) error {
	c.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	l, err := c.in.ReadString('\n')
	l = strings.TrimSpace(l)
	if err != nil && l == "" {
		return fmt.Errorf("%s: waiting for %q: %v", c.name, want, err)
	}
	fmt.Fprintf(d.w, "  [%s] %s\n", c.name, l)
	if !regexp.MustCompile("^" + want + "$").MatchString(l) {
		return fmt.Errorf("%s: got %q, want %q", c.name, l, want)
	}
	return nil
}

func (c *client) ask(d *demo, req, want string) error {
	fmt.Fprintf(d.w, "  [%s] > %s\n", c.name, req)
	if _, err := c.conn.Write([]byte(req + "\n")); err != nil {
		return err
	}
	return c.expect(d, want)
}
