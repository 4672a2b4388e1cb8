//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/airlock-license/airlock/format"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(1)
	}
}

type env struct {
	dir, bin, gpgHome string
	env               []string
}

func (e *env) cmd(name string, args ...string) *exec.Cmd {
	switch name {
	case "activator", "issuer", "dataserver":
		name = filepath.Join(e.bin, name)
	}
	c := exec.Command(name, args...)
	c.Dir, c.Env = e.dir, e.env
	return c
}

func (e *env) must(name string, args ...string) []byte {
	out, err := e.cmd(name, args...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		os.Exit(1)
	}
	return out
}

// timeRuns runs fn n times and returns the median duration.
func timeRuns(n int, fn func() error) (time.Duration, error) {
	var d []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		d = append(d, time.Since(start))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], nil
}

type row struct {
	what, ours, theirs, ratio, target, verdict string
}

func run() error {
	dir, err := os.MkdirTemp("", "airlock-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	gpgHome, err := os.MkdirTemp("", "gpg")
	if err != nil {
		return err
	}
	os.Chmod(gpgHome, 0o700)
	defer func() {
		exec.Command("gpgconf", "--homedir", gpgHome, "--kill", "all").Run()
		os.RemoveAll(gpgHome)
	}()
	bin := filepath.Join(dir, "bin")
	for tool, pkg := range map[string]string{"activator": "cmd/activator", "issuer": "cmd/issuer", "dataserver": "samples/dataserver"} {
		// As shipped: without the manual generator (see internal/cliutil).
		if out, err := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", filepath.Join(bin, tool), "github.com/airlock-license/airlock/"+pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", tool, err, out)
		}
	}
	os.WriteFile(filepath.Join(dir, "pass"), []byte("bench\n"), 0o600)
	e := &env{dir: dir, bin: bin, gpgHome: gpgHome, env: append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "GNUPGHOME="+gpgHome,
		"ISSUER_DIR="+filepath.Join(dir, "desk"), "ISSUER_PASSPHRASE_FILE="+filepath.Join(dir, "pass"),
		"ACTIVATOR_DIR="+filepath.Join(dir, "host"), "ACTIVATOR_PRODUCT=astera", "ACTIVATOR_PRODUCT_VERSION=9.1.0",
		"ACTIVATOR_VENDOR_KEY="+filepath.Join(dir, "vendor.asc"))}

	// The desk signs with its own (file) key; gpg signs with an Ed25519 key
	// of its own, held by gpg-agent without a passphrase.
	e.must("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Bench GnuPG <bench@example.com>", "ed25519", "sign", "never")
	e.must("issuer", "init", "--name", "Bench Vendor", "--email", "bench@example.com")
	e.must("issuer", "export-key", "-o", "vendor.asc")
	key := strings.TrimSpace(string(e.must("issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow,workflow", "--clients", "2", "--activations", "1000")))
	e.must("activator", "request", "--name", "Bench", "--org", "Bench", "--product-key", key, "-o", "req.req")
	e.must("issuer", "sign", "req.req", "-o", "licence.lic")
	e.must("activator", "import", "licence.lic")
	e.must("gpg", "--batch", "--import", "vendor.asc")

	var rows []row
	add := func(what string, ours, theirs time.Duration, want float64, better string) {
		ratio := float64(theirs) / float64(ours)
		verdict := "met"
		if ratio < want {
			verdict = "MISSED"
		}
		rows = append(rows, row{what, ours.Round(time.Microsecond).String(), theirs.Round(time.Microsecond).String(),
			fmt.Sprintf("%.1fx %s", ratio, better), fmt.Sprintf(">= %.0fx", want), verdict})
	}

	// 1. activator check vs gpg --verify of the same licence.
	check, err := timeRuns(30, func() error { return e.cmd("activator", "check", "workflow").Run() })
	if err != nil {
		return fmt.Errorf("activator check: %v", err)
	}
	verify, err := timeRuns(30, func() error { return e.cmd("gpg", "--batch", "--verify", "licence.lic").Run() })
	if err != nil {
		return fmt.Errorf("gpg --verify: %v", err)
	}
	add("activator check FEATURE vs gpg --verify (median of 30)", check, verify, 1, "faster")

	// 2. One batch of 100 requests vs 100 gpg --sign runs of the payloads.
	os.MkdirAll(filepath.Join(dir, "in"), 0o755)
	os.MkdirAll(filepath.Join(dir, "out"), 0o755)
	var payloads [][]byte
	var names []string
	for i := 0; i < 100; i++ {
		msg, payload, err := hostRequest(key, i)
		if err != nil {
			return err
		}
		n := filepath.Join(dir, "in", fmt.Sprintf("r%03d.req", i))
		os.WriteFile(n, msg, 0o644)
		names = append(names, n)
		payloads = append(payloads, payload)
	}
	start := time.Now()
	e.must("issuer", append(append([]string{"sign"}, names...), "-o", "out")...)
	batch := time.Since(start)
	start = time.Now()
	for _, p := range payloads {
		c := e.cmd("gpg", "--batch", "--sign", "--compress-algo", "none", "--set-filename", "", "--output", "-")
		c.Stdin = bytes.NewReader(p)
		if err := c.Run(); err != nil {
			return fmt.Errorf("gpg --sign: %v", err)
		}
	}
	gpgSign := time.Since(start)
	add("issuer sign of 100 requests (one call) vs 100 gpg --sign runs", batch, gpgSign, 10, "faster")

	// 3. Peak RSS and disk.
	c := e.cmd("activator", "status")
	if err := c.Run(); err != nil {
		return fmt.Errorf("activator status: %v", err)
	}
	statusRSS := c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
	serverRSS, err := serverPeakRSS(e)
	if err != nil {
		return err
	}
	used, apparent := diskUse(filepath.Join(dir, "host"))

	fmt.Println("| measure | airlock | GnuPG | ratio | target | |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", r.what, r.ours, r.theirs, r.ratio, r.target, r.verdict)
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Printf("| peak RSS of activator status | %.1f MiB | | | <= 48 MiB | %s |\n", float64(statusRSS)/1024, verdict(statusRSS <= 48*1024))
	fmt.Printf("| peak RSS of the sample server (2 clients) | %.1f MiB | | | | |\n", float64(serverRSS)/1024)
	fmt.Printf("| host store with one licence, on disk (apparent) | %d KiB (%d KiB) | | | <= 2 MiB | %s |\n", used>>10, apparent>>10, verdict(used <= 2<<20))
	return nil
}

// hostRequest makes a request of a distinct simulated host and returns it
// and its payload.
func hostRequest(key string, i int) ([]byte, []byte, error) {
	now := time.Now()
	k, err := format.GenerateKey(format.KeyOptions{Name: "bench host", Now: now.Add(-time.Hour)})
	if err != nil {
		return nil, nil, err
	}
	id, _ := format.NewID(rand.Reader)
	fp := format.Fingerprint{Components: map[string]string{}}
	for _, n := range []string{"machine-id", "mac", "root-disk"} {
		fp.Components[n] = format.HashComponent("astera", fmt.Sprintf("%s-%d", n, i))
	}
	r := &format.Request{RequestID: id, Created: format.NewTime(now), Product: "astera", ProductVersion: "9.1.0", ProductKey: key,
		Licensee: format.Licensee{Name: "Bench Host", Organization: "Bench"}, Fingerprint: fp, HostKey: format.HostKeyField(k.Public())}
	msg, err := format.Sign(k, r, now)
	if err != nil {
		return nil, nil, err
	}
	payload, _ := format.EncodePayload(r)
	return format.Armor(msg, format.KindRequest), payload, nil
}

// serverPeakRSS runs the sample server, connects two clients, stops it and
// returns its peak RSS in KiB.
func serverPeakRSS(e *env) (int64, error) {
	c := e.cmd(filepath.Join(e.bin, "dataserver"), "--listen", "127.0.0.1:0")
	out, err := c.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := c.Start(); err != nil {
		return 0, err
	}
	buf := make([]byte, 256)
	n, _ := out.Read(buf)
	line := string(buf[:n])
	i := strings.Index(line, "listening on ")
	if i < 0 {
		c.Process.Kill()
		return 0, fmt.Errorf("sample server: %q", line)
	}
	addr := strings.TrimSuffix(strings.Fields(line[i+len("listening on "):])[0], ";")
	for j := 0; j < 2; j++ {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Write([]byte("run workflow\nstatus\n"))
			time.Sleep(50 * time.Millisecond)
			conn.Close()
		}
	}
	c.Process.Signal(os.Interrupt)
	c.Wait()
	return int64(c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss), nil
}

// diskUse returns the blocks used by a directory tree and its apparent size.
func diskUse(dir string) (used, apparent int64) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil {
			used += st.Blocks * 512
			apparent += st.Size
		}
		return nil
	})
	return used, apparent
}
