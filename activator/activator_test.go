package activator

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
	"github.com/airlock-license/airlock/internal/testutil"
)

// The tests play the vendor with package format and the fixture vendor key
// that format's test vectors use (TEST ONLY).

var t0 = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type env struct {
	t      testing.TB
	cfg    Config
	clock  *testClock
	vendor *format.PrivateKey
	host   map[string]string // raw identifiers of the simulated machine
}

func fixtureKey(t testing.TB, name string) *format.PrivateKey { return testutil.FixtureKey(t, name) }

func newEnv(t testing.TB) *env {
	e := &env{t: t, clock: &testClock{now: t0}, vendor: fixtureKey(t, "vendor"),
		host: map[string]string{"machine-id": "m-1", "mac": "52:54:00:12:34:56", "root-disk": "ef53:0011223344556677"}}
	e.cfg = Config{
		Dir: filepath.Join(t.TempDir(), "store"), VendorKeys: format.NewKeySet(e.vendor.Public()),
		Product: "astera", Version: "9.1.0", Now: e.clock.Now, LockWait: 2 * time.Second,
		PollInterval: 10 * time.Millisecond,
	}
	e.cfg.fingerprint = e.fingerprint
	return e
}

// fingerprint returns the simulated machine's fingerprint.
func (e *env) fingerprint(product string) *HostFingerprint {
	h := &HostFingerprint{Product: product}
	names := make([]string, 0, len(e.host))
	for n := range e.host {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		h.Components = append(h.Components, ComponentStatus{Name: n, Hash: format.HashComponent(product, e.host[n]), State: Found})
	}
	return h
}

func (e *env) store() *Store {
	e.t.Helper()
	s, err := OpenStore(e.cfg, true)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

const testProductKey = "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH"

func (e *env) request(s *Store) *Request {
	e.t.Helper()
	r, err := s.Request(RequestOptions{Name: "Ada Admin", Organization: "Example Bank", ProductKey: testProductKey})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// respond plays the licence desk: it verifies the request and signs a
// response; edit may change the response before signing.
func (e *env) respond(req []byte, edit func(*format.Response)) []byte {
	e.t.Helper()
	msg, err := testutil.Respond(e.vendor, req, e.clock.Now(), edit)
	if err != nil {
		e.t.Fatal(err)
	}
	return format.Armor(msg, format.KindResponse)
}

// importUntil requests a licence, has the vendor sign it valid until end,
// imports it, and returns the response.
func (e *env) importUntil(s *Store, end format.Time) []byte {
	e.t.Helper()
	resp := e.respond(e.request(s).Binary, func(r *format.Response) { r.NotAfter = &end })
	if _, err := s.Import(resp, ImportOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func TestRequestImportStatus(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	req := e.request(s)
	if len(req.Components) != 3 || req.QRText[:4] != "AL1:" {
		t.Fatalf("request: %+v", req.Components)
	}
	st, _ := s.Status()
	if st.State != StateInactive {
		t.Fatalf("before import: %s", st.State)
	}
	res, err := s.Import(e.respond(req.Binary, nil), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st = res.Status
	if st.State != StateActive || st.Clients != 2 || len(st.Features) != 2 || st.Features[0] != "dataflow" || !st.Enabled("workflow") || st.Enabled("subflow") {
		t.Fatalf("after import: %+v", st)
	}
	if st.Licenses[0].Licensee.Name != "Ada Admin" {
		t.Fatalf("licensee: %+v", st.Licenses[0])
	}
	// The state survives closing and reopening, and is re-verified.
	s.Close()
	s2 := e.store()
	st, err = s2.Status()
	if err != nil || st.State != StateActive {
		t.Fatalf("reopened: %v %+v", err, st)
	}
}

func TestProductKeyTypoWritesNothing(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	_, err := s.Request(RequestOptions{Name: "Ada", Organization: "Bank", ProductKey: "C5MQ3-4V3FV-CDNJV-0SBR0-C5PHQ"})
	if !errors.Is(err, ErrProductKey) || !errors.Is(err, format.ErrProductKey) {
		t.Fatalf("typo: %v", err)
	}
	st, _ := s.state()
	if st.hostKey != nil || len(st.requests) != 0 {
		t.Fatal("a refused request wrote to the store")
	}
}

// storeDump returns every key and value except the audit log and the
// highest time seen, to show that a refusal changed nothing.
func storeDump(t *testing.T, s *Store) string {
	var b bytes.Buffer
	err := s.db.View(func(txn *badger.Txn) error {
		return kv.Scan(txn, "", func(k string, v []byte) error {
			if !strings.HasPrefix(k, prefixAudit) && k != keyMaxTime {
				fmt.Fprintf(&b, "%s=%x\n", k, v)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestImportRefusals(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *env, s *Store, req *Request) []byte
		want  error
	}{
		{"tampered", func(e *env, s *Store, req *Request) []byte {
			b := e.respond(req.Binary, nil)
			a, _ := format.DecodeUnverified(b)
			return bytes.Replace(a.Binary, []byte(`"clients":2`), []byte(`"clients":9`), 1)
		}, format.ErrBadSignature},
		{"another store's request", func(e *env, s *Store, req *Request) []byte {
			other := newEnv(e.t)
			return e.respond(other.request(other.store()).Binary, nil)
		}, ErrNotRequested},
		{"request as response", func(e *env, s *Store, req *Request) []byte { return req.Armored }, format.ErrUnknownSigner},
		{"wrong product", func(e *env, s *Store, req *Request) []byte {
			return e.respond(req.Binary, func(r *format.Response) { r.Product = "other-product" })
		}, ErrWrongProduct},
		{"version not licensed", func(e *env, s *Store, req *Request) []byte {
			return e.respond(req.Binary, func(r *format.Response) { r.Versions = []int{7, 8} })
		}, ErrVersionNotLicensed},
		{"expired", func(e *env, s *Store, req *Request) []byte {
			end := format.NewTime(t0.Add(-time.Hour))
			return e.respond(req.Binary, func(r *format.Response) { r.NotAfter = &end })
		}, ErrExpired},
		{"not yet valid", func(e *env, s *Store, req *Request) []byte {
			start := format.NewTime(t0.Add(48 * time.Hour))
			return e.respond(req.Binary, func(r *format.Response) { r.NotBefore = &start })
		}, ErrNotYetValid},
		{"other host key", func(e *env, s *Store, req *Request) []byte {
			return e.respond(req.Binary, func(r *format.Response) { r.HostKeyFingerprint = fixtureKey(e.t, "other").Fingerprint() })
		}, ErrWrongHostKey},
		{"digest of another request", func(e *env, s *Store, req *Request) []byte {
			return e.respond(req.Binary, func(r *format.Response) { r.RequestDigest = format.Digest{1} })
		}, ErrNotRequested},
		{"other machine", func(e *env, s *Store, req *Request) []byte {
			b := e.respond(req.Binary, nil)
			e.host = map[string]string{"machine-id": "m-2", "mac": "52:54:00:99:99:99", "root-disk": "ef53:0011223344556677"}
			return b
		}, format.ErrHostMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.store()
			req := e.request(s)
			in := c.setup(e, s, req)
			before := storeDump(t, s)
			_, err := s.Import(in, ImportOptions{})
			if !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v", c.want, err)
			}
			if msg := err.Error(); bytes.ContainsRune([]byte(msg), '\n') {
				t.Errorf("message is not one line: %q", msg)
			}
			if storeDump(t, s) != before {
				t.Error("a refused import changed the store")
			}
			if st, _ := s.Status(); st.State != StateInactive {
				t.Errorf("state after refusal: %s", st.State)
			}
		})
	}
}

func TestReplayDowngradeAndDeactivation(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	req1 := e.request(s)
	resp1 := e.respond(req1.Binary, nil)
	e.clock.Set(t0.Add(time.Hour))
	req2 := e.request(s)
	resp2 := e.respond(req2.Binary, func(r *format.Response) { r.Features = append(r.Features, "subflow"); r.Limits.Clients = 5 })

	if _, err := s.Import(resp2, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// Re-importing the active licence is a no-op.
	res, err := s.Import(resp2, ImportOptions{})
	if err != nil || !res.Unchanged {
		t.Fatalf("re-import: %v %+v", err, res)
	}
	// The older request's response is a downgrade.
	if _, err := s.Import(resp1, ImportOptions{}); !errors.Is(err, ErrDowngrade) {
		t.Fatalf("downgrade: %v", err)
	}
	receipt, id, err := s.Deactivate()
	if err != nil {
		t.Fatal(err)
	}
	a, err := format.Verify(receipt, format.VerifyOptions{Keys: format.NewKeySet(hostKeyOf(t, s).Public()), Kinds: []format.Kind{format.KindDeactivation}, Now: e.clock.Now()})
	if err != nil || a.Payload.(*format.Deactivation).LicenseID != id {
		t.Fatalf("receipt: %v", err)
	}
	if st, _ := s.Status(); st.State != StateInactive {
		t.Fatalf("after deactivation: %s", st.State)
	}
	// The deactivated licence never comes back, and the older one answers
	// a consumed... no: its request is still pending, but the store refuses
	// nothing else about it; the deactivated one is refused by name.
	if _, err := s.Import(resp2, ImportOptions{}); !errors.Is(err, ErrDeactivated) {
		t.Fatalf("replay after deactivation: %v", err)
	}
	if _, _, err := s.Deactivate(); !errors.Is(err, ErrNotActive) {
		t.Fatalf("second deactivation: %v", err)
	}
}

func hostKeyOf(t *testing.T, s *Store) *format.PrivateKey {
	st, _ := s.state()
	k, err := st.hostPublic()
	if err != nil || k == nil {
		t.Fatal("no host key")
	}
	return k
}

func (e *env) revocations(serial uint64, ids ...format.ID) []byte {
	rv := append([]format.ID{}, ids...)
	slices.Sort(rv)
	msg, err := format.Sign(e.vendor, &format.Revocations{Serial: serial, Issued: format.NewTime(e.clock.Now()), Revoked: rv}, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return msg
}

func TestRevocations(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	req := e.request(s)
	res, err := s.Import(e.respond(req.Binary, nil), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(e.revocations(2), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(e.revocations(1, res.LicenseID), ImportOptions{}); !errors.Is(err, ErrStaleRevocations) {
		t.Fatalf("older list: %v", err)
	}
	r, err := s.Import(e.revocations(3, res.LicenseID), ImportOptions{})
	if err != nil || r.Status.State != StateRevoked || r.Status.Enabled("workflow") {
		t.Fatalf("revoked: %v %+v", err, r)
	}
}

func TestClockSetBackSuspends(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	end := format.NewTime(t0.AddDate(0, 1, 0))
	e.importUntil(s, end)
	e.clock.Set(t0.Add(-23 * time.Hour)) // within the tolerance: still active
	if st, _ := s.Status(); st.State != StateActive {
		t.Fatalf("clock 23h behind: %+v", st)
	}
	e.clock.Set(t0.Add(-25 * time.Hour))
	st, _ := s.Status()
	if st.State != StateSuspended || st.Enabled("workflow") || len(st.Problems) != 1 {
		t.Fatalf("clock set back: %+v", st)
	}
	e.clock.Set(t0.Add(time.Minute))
	if st, _ := s.Status(); st.State != StateActive {
		t.Fatalf("clock right again: %+v", st)
	}
	e.clock.Set(end.Time)
	if st, _ := s.Status(); st.State != StateExpired {
		t.Fatalf("at not_after: %+v", st)
	}
}

func TestOpenWatchesStore(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	req := e.request(s)
	s.Close() // the product and the admin's commands never hold it together

	lic, err := Open(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lic.Close()
	if lic.Enabled("workflow") || lic.Snapshot().State != StateInactive {
		t.Fatal("enabled before import")
	}
	changed := make(chan *Snapshot, 4)
	lic.OnChange(func(old, new *Snapshot) { changed <- new })

	s2, err := OpenStore(e.cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Import(e.respond(req.Binary, nil), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	select {
	case snap := <-changed:
		if !snap.Enabled("workflow") || !lic.Enabled("workflow") {
			t.Fatalf("after change: %+v", snap)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the running product did not notice the new licence")
	}

	seats := lic.Seats()
	a, err1 := seats.Acquire("c1")
	_, err2 := seats.Acquire("c2")
	_, err3 := seats.Acquire("c3")
	if err1 != nil || err2 != nil || !errors.Is(err3, ErrSeatLimit) {
		t.Fatalf("seats: %v %v %v", err1, err2, err3)
	}
	a.Release()
	a.Release()
	if seats.InUse() != 1 {
		t.Fatalf("in use: %d", seats.InUse())
	}
	if _, err := seats.Acquire("c3"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestLockedStore(t *testing.T) {
	e := newEnv(t)
	e.cfg.Command = "activator import"
	e.store() // held by this process under the name above
	cfg := e.cfg
	cfg.LockWait = 200 * time.Millisecond
	start := time.Now()
	_, err := OpenStore(cfg, false)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Holder == "" {
		t.Fatalf("second writer: %v", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("waited %v", d)
	}
	t.Log(err)
}

func TestOpenWithoutStore(t *testing.T) {
	e := newEnv(t)
	lic, err := Open(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lic.Close()
	if snap := lic.Snapshot(); snap.State != StateInactive || len(snap.Problems) != 1 {
		t.Fatalf("%+v", snap)
	}
	if _, err := lic.Seats().Acquire("c"); !errors.Is(err, ErrNotActive) {
		t.Fatalf("seat without licence: %v", err)
	}
}

func BenchmarkEnabled(b *testing.B) {
	l := &License{}
	l.snap.Store(&Snapshot{State: StateActive, features: map[string]struct{}{"dataflow": {}, "workflow": {}}})
	b.ReportAllocs()
	for b.Loop() {
		if !l.Enabled("workflow") {
			b.Fatal("not enabled")
		}
	}
}

// TestExpiryWhileRunning: the product's snapshot changes when the licence
// expires, without any change in the store.
func TestExpiryWhileRunning(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	end := format.NewTime(t0.Add(2 * time.Hour))
	e.importUntil(s, end)
	s.Close()
	lic, err := Open(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lic.Close()
	if !lic.Enabled("workflow") {
		t.Fatal("not enabled before expiry")
	}
	changed := make(chan *Snapshot, 4)
	lic.OnChange(func(old, new *Snapshot) { changed <- new })
	e.clock.Set(end.Time.Add(time.Minute))
	select {
	case snap := <-changed:
		if snap.State != StateExpired || lic.Enabled("workflow") {
			t.Fatalf("after expiry: %+v", snap)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("expiry went unnoticed by the running product")
	}
}

func activated(b testing.TB) (*env, []byte) {
	e := newEnv(b)
	s, err := OpenStore(e.cfg, true)
	if err != nil {
		b.Fatal(err)
	}
	req := e.request(s)
	resp := e.respond(req.Binary, nil)
	if _, err := s.Import(resp, ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	s.Close()
	return e, resp
}

// BenchmarkEnabledParallel checks Enabled under 8 goroutines per CPU while
// the snapshot is swapped continuously.
func BenchmarkEnabledParallel(b *testing.B) {
	l := &License{}
	a := &Snapshot{State: StateActive, features: map[string]struct{}{"workflow": {}}}
	c := &Snapshot{State: StateActive, features: map[string]struct{}{"workflow": {}, "subflow": {}}}
	l.snap.Store(a)
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				l.snap.Store(c)
			} else {
				l.snap.Store(a)
			}
		}
	}()
	defer close(stop)
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !l.Enabled("workflow") {
				b.Fatal("not enabled")
			}
		}
	})
}

// BenchmarkOpen measures what a product pays at start-up: open the store,
// re-verify the licence, close.
func BenchmarkOpen(b *testing.B) {
	e, _ := activated(b)
	b.ReportAllocs()
	for b.Loop() {
		lic, err := Open(e.cfg)
		if err != nil || !lic.Enabled("workflow") {
			b.Fatal("not active", err)
		}
		lic.Close()
	}
}

// BenchmarkImport measures importing a response (verification, binding
// checks, one synced transaction); it re-imports the active licence, which
// does everything but the write, after one real import.
func BenchmarkImport(b *testing.B) {
	e, resp := activated(b)
	s, err := OpenStore(e.cfg, false)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Import(resp, ImportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Regressions found in review.

// A clock wound back after the licence was only read (status, the running
// product) is still noticed.
func TestClockBackAfterReadsOnly(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	end := format.NewTime(t0.AddDate(0, 0, 30))
	e.importUntil(s, end)
	e.clock.Set(t0.AddDate(0, 0, 29))
	if st, _ := s.Status(); st.State != StateActive {
		t.Fatalf("day 29: %s", st.State)
	}
	e.clock.Set(t0.AddDate(0, 0, 2))
	if st, _ := s.Status(); st.State != StateSuspended {
		t.Fatalf("clock wound back to day 2 after a status on day 29: %s", st.State)
	}
	s.Close()
	lic, _ := Open(e.cfg)
	defer lic.Close()
	if lic.Enabled("workflow") {
		t.Fatal("the product runs on a wound-back clock")
	}
}

// While the store cannot be read, the running product still judges the last
// state it read against the clock.
func TestExpiryWhileStoreLocked(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	end := format.NewTime(t0.Add(time.Hour))
	e.importUntil(s, end)
	s.Close()
	lic, _ := Open(e.cfg)
	defer lic.Close()
	e.store() // a writer holds the store from now on
	e.clock.Set(end.Time.Add(2 * time.Minute))
	lic.Reload()
	if lic.Enabled("workflow") || lic.Snapshot().State != StateExpired {
		t.Fatalf("expired while the store was held: %+v", lic.Snapshot())
	}
}

// The watcher re-checks when the clock moves backwards, too.
func TestWatcherNoticesClockBack(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	end := format.NewTime(t0.AddDate(0, 1, 0))
	e.importUntil(s, end)
	s.Close()
	lic, _ := Open(e.cfg)
	defer lic.Close()
	e.clock.Set(t0.Add(-25 * time.Hour))
	deadline := time.Now().Add(5 * time.Second)
	for lic.Snapshot().State != StateSuspended && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := lic.Snapshot().State; st != StateSuspended {
		t.Fatalf("clock 25h back: %s", st)
	}
}

// A hook may register hooks and read the snapshot without deadlocking.
func TestHookReentry(t *testing.T) {
	e := newEnv(t)
	lic, _ := Open(e.cfg)
	defer lic.Close()
	done := make(chan bool, 1)
	lic.OnChange(func(old, new *Snapshot) {
		lic.OnChange(func(*Snapshot, *Snapshot) {})
		done <- lic.Snapshot() == new
	})
	s := e.store()
	req := e.request(s)
	if _, err := s.Import(e.respond(req.Binary, nil), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("the hook saw another snapshot")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("hook deadlocked or never ran")
	}
	lic.Close()
	lic.Close() // twice is harmless
}

// Audit entries made while the trusted time stands still are all kept;
// refused imports make none (they write nothing); the same event repeated
// is counted in one entry.
func TestAuditKeepsEveryEntry(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	for i := 0; i < 6; i++ {
		e.request(s)
	}
	for i := 0; i < 5; i++ {
		s.Import([]byte("garbage"), ImportOptions{})
	}
	for i := 0; i < 5; i++ {
		s.db.Update(func(txn *badger.Txn) error {
			return audit(txn, auditEntry{Time: e.clock.Now(), Event: "refused", Detail: fmt.Sprint("refusal ", min(i, 2))})
		})
	}
	var entries []auditEntry
	s.db.View(func(txn *badger.Txn) error {
		return scan(txn, prefixAudit, func(_ string, v []byte) error {
			var a auditEntry
			entries = append(entries, a)
			return json.Unmarshal(v, &entries[len(entries)-1])
		})
	})
	if len(entries) != 9 || entries[5].Event != "request" || entries[6].Detail != "refusal 0" || entries[8].Detail != "refusal 2" || entries[8].Repeats != 2 {
		t.Fatalf("audit entries: %+v", entries)
	}
}

// Re-importing the active licence is a no-op only while it holds.
func TestReimportExpired(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	req := e.request(s)
	end := format.NewTime(t0.Add(time.Hour))
	resp := e.respond(req.Binary, func(r *format.Response) { r.NotAfter = &end })
	if _, err := s.Import(resp, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(end.Time.Add(time.Hour))
	if _, err := s.Import(resp, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("re-import of an expired licence: %v", err)
	}
	// A refusal records nothing, not even the time it saw; status (and the
	// running product) record it.
	if st, _ := s.Status(); st.State != StateExpired {
		t.Fatalf("state %s", st.State)
	}
	// Expired wins over suspended: winding the clock back cannot help.
	e.clock.Set(t0.Add(-48 * time.Hour))
	if st, _ := s.Status(); st.State != StateExpired {
		t.Fatalf("state %s", st.State)
	}
}

// A request is dated by the wall clock even after the trusted time jumped.
func TestRequestAfterClockJump(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.clock.Set(t0.AddDate(5, 0, 0))
	e.request(s)
	e.clock.Set(t0)
	req := e.request(s)
	if _, _, err := format.VerifyRequest(req.Binary, t0); err != nil {
		t.Fatalf("request after a clock jump: %v", err)
	}
}

// BenchmarkSeats measures a client taking and giving back a seat.
func BenchmarkSeats(b *testing.B) {
	l := &License{cfg: Config{Dir: b.TempDir(), Product: "astera"}}
	l.seats.lic = l
	l.snap.Store(&Snapshot{State: StateActive, Clients: 64, features: map[string]struct{}{}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, err := l.Seats().Acquire("client")
			if err != nil {
				b.Fatal(err)
			}
			s.Release()
		}
	})
}

// BenchmarkSeatsFull measures a refused client on a full server of 1,000
// seats, all held through another descriptor of the seat file (on Linux,
// as another process holds them): one lock attempt per seat.
func BenchmarkSeatsFull(b *testing.B) {
	l := &License{cfg: Config{Dir: b.TempDir(), Product: "astera"}}
	l.seats.lic = l
	l.snap.Store(&Snapshot{State: StateActive, Clients: 1000, features: map[string]struct{}{}})
	other, err := os.OpenFile(filepath.Join(l.cfg.Dir, "seats-astera"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	for n := range int64(1000) {
		if ok, err := lockSeat(other, n); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Seats().Acquire("client"); !errors.Is(err, ErrSeatLimit) {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenHistory opens a store holding 1 and 1,000 stored licences
// (target: within 2x).
func BenchmarkOpenHistory(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			e, resp := activated(b)
			a, _ := format.DecodeUnverified(resp)
			d, err := kv.Open(e.cfg.Dir, false, time.Second, nil, "bench")
			if err != nil {
				b.Fatal(err)
			}
			// The history a long life leaves: licences imported before the
			// one in force (each replaced by the next), half of them
			// deactivated, with their import records.
			active := a.Payload.(*format.Response).LicenseID
			for i := 1; i < n; i += 100 {
				d.Update(func(txn *badger.Txn) error {
					for j := i; j < min(i+100, n); j++ {
						id, _ := format.NewID(rand.Reader)
						if err := txn.Set([]byte(prefixResponse+string(id)), a.Binary); err != nil {
							return err
						}
						if err := txn.Set([]byte(importKey(uint64(j), id)), nil); err != nil {
							return err
						}
						if j%2 == 0 {
							if err := setJSON(txn, prefixDeact+string(id), deactRecord{Time: t0}); err != nil {
								return err
							}
						}
					}
					return nil
				})
			}
			d.Update(func(txn *badger.Txn) error {
				return txn.Set([]byte(importKey(uint64(n)+1, active)), nil)
			})
			d.Close()
			b.ResetTimer()
			for b.Loop() {
				lic, err := Open(e.cfg)
				if err != nil || !lic.Enabled("workflow") {
					b.Fatal("not active", err)
				}
				lic.Close()
			}
		})
	}
}

// A read-only store (activator status, check) records the time it saw (in
// the time file).
func TestReadOnlyStatusRecordsTime(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(0, 0, 30)))
	s.Close()
	e.clock.Set(t0.AddDate(0, 0, 29))
	r, err := OpenStoreReadOnly(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Status(); st.State != StateActive {
		t.Fatalf("day 29: %s", st.State)
	}
	r.Close()
	e.clock.Set(t0.AddDate(0, 0, 2))
	r, _ = OpenStoreReadOnly(e.cfg)
	defer r.Close()
	if st, _ := r.Status(); st.State != StateSuspended {
		t.Fatalf("clock wound back after a read-only status: %s", st.State)
	}
}

// A store keeps the newest maxPending unanswered requests and every
// request a stored licence answers; a response to a dropped request is
// refused, and says why.
func TestPendingRequestsBounded(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	first := e.request(s)
	if _, err := s.Import(e.respond(first.Binary, nil), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var reqs []*Request
	for range maxPending + 5 {
		reqs = append(reqs, e.request(s))
	}
	n := 0
	s.db.View(func(txn *badger.Txn) error {
		return scan(txn, prefixRequest, func(string, []byte) error { n++; return nil })
	})
	if n != maxPending+1 {
		t.Fatalf("%d requests kept, want %d (the answered one and the newest %d)", n, maxPending+1, maxPending)
	}
	// The oldest unanswered five are gone.
	_, err := s.Import(e.respond(reqs[4].Binary, nil), ImportOptions{Replace: true})
	if !errors.Is(err, ErrNotRequested) || !strings.Contains(err.Error(), "newest 16 unanswered requests") {
		t.Fatalf("response to a dropped request: %v", err)
	}
	// The licence of the first request is still in force and still
	// verifies against its request.
	if st, _ := s.Status(); !st.Active() {
		t.Fatalf("the answered request's licence: %+v", st)
	}
	// The oldest kept one imports.
	if _, err := s.Import(e.respond(reqs[5].Binary, nil), ImportOptions{Replace: true}); err != nil {
		t.Fatalf("response to the oldest kept request: %v", err)
	}
}
