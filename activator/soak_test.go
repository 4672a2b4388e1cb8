package activator

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
)

// Store growth under years of use (issue 12, part 2). Every writing
// command left a level-0 table that short-lived processes never compacted,
// and every status wrote one for the time it saw: 1,500 commands left
// 1,208 files and made status 50 times slower, and under ulimit -n 1024
// the product judged the store damaged. The soak runs the commands a host
// sees for years, each opening and closing the store as the CLI and the
// product do, and then bounds files, bytes and the time of a status
// against a store that saw one command.
//
// make test runs 1,500 commands; make soak runs AIRLOCK_SOAK (100,000).

const (
	soakMaxFiles = 20
	soakMaxBytes = 2 << 20
)

func soakCommands() int {
	if n, err := strconv.Atoi(os.Getenv("AIRLOCK_SOAK")); err == nil && n > 0 {
		return n
	}
	return 1500
}

// storeUse counts the files in dir and their apparent size.
func storeUse(t testing.TB, dir string) (files int, size int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			files++
			size += fi.Size()
		}
	}
	return files, size
}

func copyStore(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(to, e.Name()), b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestSoakStore(t *testing.T) {
	n := soakCommands()
	e := newEnv(t)
	s := e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(300, 0, 0)))
	s.Close()
	freshCfg := e.cfg
	freshCfg.Dir = filepath.Join(t.TempDir(), "fresh")
	copyStore(t, e.cfg.Dir, freshCfg.Dir)
	runSoak(t, e, n)
	// Writers rewrite a MANIFEST more than twice its need (kv/manifest.go):
	// Badger alone lets it grow to hundreds of kilobytes, replayed twice by
	// every open.
	if fi, err := os.Stat(filepath.Join(e.cfg.Dir, "MANIFEST")); err != nil {
		t.Error(err)
	} else if fi.Size() > 2<<10 {
		t.Errorf("after %d commands the MANIFEST is %d bytes; at most 2 KiB", n, fi.Size())
	}
	files, size := storeUse(t, e.cfg.Dir)
	if files > soakMaxFiles || size > soakMaxBytes {
		t.Errorf("after %d commands the store has %d files and %d bytes; at most %d files and %d bytes", n, files, size, soakMaxFiles, soakMaxBytes)
	}

	// Status on the soaked store and on the fresh one, interleaved (the
	// machine is shared and noisy), compared by their medians.
	freshEnv := *e
	freshEnv.cfg = freshCfg
	var soaked, fresh []time.Duration
	for range 101 {
		t1 := time.Now()
		freshEnv.readOnlyStatus()
		t2 := time.Now()
		e.readOnlyStatus()
		fresh, soaked = append(fresh, t2.Sub(t1)), append(soaked, time.Since(t2))
	}
	slices.Sort(fresh)
	slices.Sort(soaked)
	ratio := float64(soaked[50]) / float64(fresh[50])
	t.Logf("status: median %v after %d commands, %v after one: %.2fx", soaked[50], n, fresh[50], ratio)
	// Within 20% is the target (make soak); make test, which runs beside
	// other packages' tests, allows 50%.
	limit := 1.5
	if os.Getenv("AIRLOCK_SOAK") != "" {
		limit = 1.2
	}
	if ratio > limit {
		t.Errorf("status after %d commands takes %.2fx the time after one (at most %.1fx)", n, ratio, limit)
	}
}

// runSoak runs n commands of a host's life on e's store, a minute apart.
func runSoak(t testing.TB, e *env, n int) {
	t.Helper()
	other := newEnv(t)
	foreign := other.respond(other.request(other.store()).Binary, nil)
	// Two kinds of refusal in turn, so that none is counted as a repeat of
	// the one before: the audit log's worst case.
	refusals := [][]byte{foreign, foreign[:len(foreign)/2]}

	start := time.Now()
	for i := range n {
		e.clock.Set(t0.Add(time.Duration(i+1) * time.Minute))
		switch i % 10 {
		case 0: // activator import of another host's response: refused
			s, err := OpenStore(e.cfg, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Import(refusals[(i/10)%2], ImportOptions{}); err == nil {
				t.Fatal("another host's response imported")
			}
			s.Close()
		case 1, 2: // the product starts, or checks
			l, err := Open(e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !l.Enabled("workflow") {
				t.Fatalf("command %d: the product is not licensed: %v", i, l.Snapshot().Problems)
			}
			l.Close()
		default: // activator status, check (monitoring, every minute)
			if st := e.readOnlyStatus(); !st.Active() {
				t.Fatalf("command %d: %+v", i, st)
			}
		}
		if (i+1)%(max(n/10, 1)) == 0 {
			f, b := storeUse(t, e.cfg.Dir)
			t.Logf("%7d commands: %2d files, %7d bytes (%v)", i+1, f, b, time.Since(start).Round(time.Second))
		}
	}
}

// BenchmarkStatusAfterCommands times activator status (a read-only open,
// Status, Close) on a store that saw one command and one that saw 2,000,
// with the store's files and bytes as metrics (make bench; make soak runs
// 100,000).
func BenchmarkStatusAfterCommands(b *testing.B) {
	for _, n := range []int{1, 2000} {
		b.Run(fmt.Sprintf("commands=%d", n), func(b *testing.B) {
			e := newEnv(b)
			s := e.store()
			e.importUntil(s, format.NewTime(t0.AddDate(300, 0, 0)))
			s.Close()
			if n > 1 {
				runSoak(b, e, n)
			}
			e.readOnlyStatus()
			for b.Loop() {
				e.readOnlyStatus()
			}
			files, size := storeUse(b, e.cfg.Dir)
			b.ReportMetric(float64(files), "files")
			b.ReportMetric(float64(size), "store-bytes")
		})
	}
}
