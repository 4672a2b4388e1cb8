//go:build linux

package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/airlock-license/airlock/format"
)

// rssEnv makes benchcmp a small parent that runs its arguments and prints
// the child's peak RSS in KiB: Linux counts in a child's peak the memory
// of the process that forked it, so a child of the measuring process,
// grown by the scenarios run in it, would report that process's size.
const rssEnv = "BENCHCMP_RSS_OF"

func main() {
	if os.Getenv(rssEnv) != "" {
		c := exec.Command(os.Args[1], os.Args[2:]...)
		c.Stdout, c.Stderr = io.Discard, os.Stderr
		if err := c.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "benchcmp:", err)
			os.Exit(1)
		}
		fmt.Println(c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
		return
	}
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
		// As make dist ships them (internal/dist).
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-buildid=", "-tags", "urfave_cli_no_docs", "-o", filepath.Join(bin, tool), "github.com/airlock-license/airlock/"+pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
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
	key := strings.TrimSpace(string(e.must("issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow,workflow", "--clients", "2", "--activations", "1000000")))
	e.must("activator", "request", "--name", "Bench", "--org", "Bench", "--product-key", key, "-o", "req.req")
	e.must("issuer", "sign", "req.req", "-o", "licence.lic")
	e.must("activator", "import", "licence.lic")
	imported := time.Now()
	e.must("gpg", "--batch", "--import", "vendor.asc")

	r := &report{}
	if err := checkScenarios(e, r, key, imported); err != nil {
		return err
	}

	// Peak RSS (through a small parent, see rssEnv) and disk.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rss := func(dir string) (int64, error) {
		c := e.cmd(self, filepath.Join(bin, "activator"), "--dir", dir, "status")
		c.Env = append(c.Env, rssEnv+"=1")
		out, err := c.Output()
		if err != nil {
			return 0, fmt.Errorf("activator status: %v", err)
		}
		return strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	}
	for _, store := range []string{"host", "host-used"} {
		if _, err := os.Stat(filepath.Join(dir, store)); err != nil {
			continue
		}
		kib, err := rss(filepath.Join(dir, store))
		if err != nil {
			return err
		}
		r.add("peak RSS of activator status, "+map[string]string{"host": "fresh store", "host-used": "used store"}[store], fmt.Sprintf("%.1f MiB", float64(kib)/1024), "", "", "<= 16 MiB", kib <= 16*1024)
	}
	serverRSS, err := serverPeakRSS(e)
	if err != nil {
		return err
	}
	used, apparent := diskUse(filepath.Join(dir, "host"))
	r.add("peak RSS of the sample server (2 clients)", fmt.Sprintf("%.1f MiB", float64(serverRSS)/1024), "", "", "", true)
	r.add("host store with one licence, on disk (apparent)", fmt.Sprintf("%d KiB (%d KiB)", used>>10, apparent>>10), "", "", "<= 2 MiB", used <= 2<<20)
	r.print()
	if r.missed > 0 {
		fmt.Printf("\n%d target(s) missed\n", r.missed)
	}
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
	// The server's own high-water mark (its rusage would count this
	// process's size, see rssEnv).
	kib, err := vmHWM(c.Process.Pid)
	c.Process.Signal(os.Interrupt)
	c.Wait()
	return kib, err
}

// vmHWM reads a running process's peak RSS in KiB from /proc.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
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
