package activator

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	// machine is shared and noisy), compared by their medians, in a
	// process of its own: activator status and the product start afresh,
	// and the heap this process grew over the soak is not theirs.
	fresh, soaked := statusInOwnProcess(t, freshCfg.Dir, e.cfg.Dir, e.clock.Now())
	ratio := float64(soaked) / float64(fresh)
	t.Logf("status: median %v after %d commands, %v after one: %.2fx", soaked, n, fresh, ratio)
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

// soakStatusEnv carries TestSoakStatusProcess's arguments: the fresh
// store, the soaked one and the clock, one per line.
const soakStatusEnv = "AIRLOCK_SOAK_STATUS"

// statusInOwnProcess runs TestSoakStatusProcess in a new process of this
// test binary and returns its medians of status on the fresh and the
// soaked store.
func statusInOwnProcess(t *testing.T, fresh, soaked string, now time.Time) (time.Duration, time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSoakStatusProcess$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), soakStatusEnv+"="+fresh+"\n"+soaked+"\n"+strconv.FormatInt(now.Unix(), 10))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("status in a process of its own: %v\n%s", err, out)
	}
	var f, s int64
	for line := range strings.Lines(string(out)) {
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "soak-status fresh=%d soaked=%d", &f, &s); err == nil {
			return time.Duration(f), time.Duration(s)
		}
	}
	t.Fatalf("status in a process of its own printed no medians:\n%s", out)
	return 0, 0
}

// TestSoakStatusProcess is TestSoakStore's measurement, run by it in a
// process of its own (see statusInOwnProcess); alone it has nothing to
// measure.
func TestSoakStatusProcess(t *testing.T) {
	arg := os.Getenv(soakStatusEnv)
	if arg == "" {
		t.Skip("run by TestSoakStore, in a process of its own")
	}
	parts := strings.Split(arg, "\n")
	unix, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if len(parts) != 3 || err != nil {
		t.Fatalf("%s=%q: want fresh dir, soaked dir, unix time", soakStatusEnv, arg)
	}
	e := newEnv(t)
	e.clock.Set(time.Unix(unix, 0).UTC())
	f := *e
	f.cfg.Dir, e.cfg.Dir = parts[0], parts[1]
	var fresh, soaked []time.Duration
	for range 201 {
		t1 := time.Now()
		f.readOnlyStatus()
		t2 := time.Now()
		e.readOnlyStatus()
		fresh, soaked = append(fresh, t2.Sub(t1)), append(soaked, time.Since(t2))
	}
	slices.Sort(fresh)
	slices.Sort(soaked)
	fmt.Printf("soak-status fresh=%d soaked=%d\n", fresh[100], soaked[100])
}

// runSoak runs n commands of a host's life on e's store, a minute apart.
func runSoak(t testing.TB, e *env, n int) {
	t.Helper()
	other := newEnv(t)
	foreign := other.respond(other.request(other.store()).Binary, nil)
	// Two kinds of refusal in turn (they write nothing), and requests (a
	// writer, each a new audit entry and a new pending request: the
	// store's worst case short of new licences).
	refusals := [][]byte{foreign, foreign[:len(foreign)/2]}

	start := time.Now()
	for i := range n {
		e.clock.Set(t0.Add(time.Duration(i+1) * time.Minute))
		switch i % 10 {
		case 0: // activator import of another host's response (refused), or activator request
			s, err := OpenStore(e.cfg, false)
			if err != nil {
				t.Fatal(err)
			}
			if (i/10)%3 == 2 {
				e.request(s)
			} else if _, err := s.Import(refusals[(i/10)%3], ImportOptions{}); err == nil {
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
