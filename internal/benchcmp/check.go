//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
)

// checkRounds is how many interleaved rounds each check comparison runs.
const checkRounds = 41

// soakCommands is how many commands the "used store" scenario runs on a
// copy of the host store first (BENCH_SOAK, default 100,000).
func soakCommands() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_SOAK")); err == nil && n >= 0 {
		return n
	}
	return 100_000
}

// checkScenarios compares `activator check workflow` with `gpg --verify`
// of the same licence file, and the product's activator.Open with it: on
// the fresh store, on the first check a minute after the last write, and
// on a store that saw soakCommands commands.
func checkScenarios(e *env, r *report, key string, imported time.Time) error {
	check := func(dir string) func() error {
		return func() error {
			c := e.cmd("activator", "check", "workflow")
			c.Env = append(c.Env, "ACTIVATOR_DIR="+dir)
			return c.Run()
		}
	}
	verify := step{name: "gpg --verify", run: func() error { return e.cmd("gpg", "--batch", "--verify", "licence.lic").Run() }}
	host := filepath.Join(e.dir, "host")
	cfg, err := libraryConfig(e, host)
	if err != nil {
		return err
	}
	open := func(cfg activator.Config) func() error {
		return func() error {
			l, err := activator.Open(cfg)
			if err != nil {
				return err
			}
			defer l.Close()
			if !l.Enabled("workflow") {
				return fmt.Errorf("not licensed: %v", l.Snapshot().Problems)
			}
			return nil
		}
	}

	fmt.Println("check on the fresh store")
	d, err := interleave(checkRounds, step{name: "check", run: check(host)}, verify, step{name: "Open", run: open(cfg)})
	if err != nil {
		return err
	}
	r.time("activator check FEATURE vs gpg --verify, fresh store", d[0], d[1], 1.0, true)
	r.time("the product's activator.Open (in process) vs gpg --verify, fresh store", d[2], d[1], 1.0, true)

	// A minute after the last write a reader records the time it saw:
	// removing the time file before each run makes every run that first
	// check (the store's own record is the import's).
	if wait := time.Minute + 2*time.Second - time.Since(imported); wait > 0 {
		fmt.Printf("waiting %v for the store's last write to be a minute old\n", wait.Round(time.Second))
		time.Sleep(wait)
	}
	forget := func() error {
		if err := os.Remove(filepath.Join(host, "TIMESEEN")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	fmt.Println("the first check a minute after the last write")
	d, err = interleave(checkRounds, step{name: "check", prepare: forget, run: check(host)}, verify, step{name: "Open", prepare: forget, run: open(cfg)})
	if err != nil {
		return err
	}
	r.time("activator check vs gpg --verify, first check a minute after the last write", d[0], d[1], 1.0, true)
	r.time("activator.Open vs gpg --verify, first a minute after the last write", d[2], d[1], 1.0, true)

	n := soakCommands()
	if n == 0 {
		return nil
	}
	used := filepath.Join(e.dir, "host-used")
	if err := copyDir(host, used); err != nil {
		return err
	}
	ucfg := cfg
	ucfg.Dir = used
	fmt.Printf("%d commands on a copy of the store (in process, as the CLIs and the product run them)\n", n)
	if err := soak(e, ucfg, key, n); err != nil {
		return err
	}
	d, err = interleave(checkRounds, step{name: "check", run: check(used)}, verify, step{name: "Open", run: open(ucfg)})
	if err != nil {
		return err
	}
	r.time(fmt.Sprintf("activator check vs gpg --verify, after %d commands on the store", n), d[0], d[1], 1.0, true)
	r.time(fmt.Sprintf("activator.Open vs gpg --verify, after %d commands", n), d[2], d[1], 1.0, true)
	return nil
}

// libraryConfig is the product's configuration of the benchmark's store.
func libraryConfig(e *env, dir string) (activator.Config, error) {
	b, err := os.ReadFile(filepath.Join(e.dir, "vendor.asc"))
	if err != nil {
		return activator.Config{}, err
	}
	keys, err := format.ParseKeySet(b)
	if err != nil {
		return activator.Config{}, err
	}
	return activator.Config{Dir: dir, VendorKeys: keys, Product: "astera", Version: "9.1.0", PollInterval: time.Hour}, nil
}

// soak runs n commands of a host's life on the store of cfg, the mix of
// activator/soak_test.go: 1 in 10 a writer (a refused import of another
// host's licence or of a damaged one, or, one time in three, a request),
// 2 in 10 the product starting, the rest activator status or check.
func soak(e *env, cfg activator.Config, key string, n int) error {
	e.must("activator", "--dir", filepath.Join(e.dir, "other"), "request", "--name", "Other", "--org", "Other", "--product-key", key, "-o", "other.req")
	e.must("issuer", "sign", "other.req", "-o", "other.lic")
	foreign, err := os.ReadFile(filepath.Join(e.dir, "other.lic"))
	if err != nil {
		return err
	}
	refusals := [][]byte{foreign, foreign[:len(foreign)/2]}
	start := time.Now()
	for i := range n {
		switch i % 10 {
		case 0:
			s, err := activator.OpenStore(cfg, false)
			if err != nil {
				return err
			}
			if (i/10)%3 == 2 {
				_, err = s.Request(activator.RequestOptions{Name: "Bench", Organization: "Bench", ProductKey: key, Unprivileged: os.Geteuid() != 0})
			} else if _, ierr := s.Import(refusals[(i/10)%3], activator.ImportOptions{}); ierr == nil {
				err = errors.New("another host's licence was imported")
			}
			if cerr := s.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("command %d: %v", i, err)
			}
		case 1, 2:
			l, err := activator.Open(cfg)
			if err != nil {
				return err
			}
			ok := l.Enabled("workflow")
			l.Close()
			if !ok {
				return fmt.Errorf("command %d: the product is not licensed", i)
			}
		default:
			s, err := activator.OpenStoreReadOnly(cfg)
			if err != nil {
				return err
			}
			snap, err := s.Status()
			s.Close()
			if err != nil || !snap.Active() {
				return fmt.Errorf("command %d: status %v %v", i, err, snap)
			}
		}
		if (i+1)%max(n/10, 1) == 0 {
			fmt.Printf("  %d commands (%v)\n", i+1, time.Since(start).Round(time.Second))
		}
	}
	return nil
}

func copyDir(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, en := range entries {
		if en.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, en.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, en.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
