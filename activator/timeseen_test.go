package activator

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// readOnlyStatus runs what activator status does: a read-only open, Status,
// Close.
func (e *env) readOnlyStatus() *Snapshot {
	e.t.Helper()
	r, err := OpenStoreReadOnly(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	st, err := r.Status()
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// Monitoring that runs status every minute left one Badger table per call
// (509 files after 1,500 commands, status 7 times slower). Now a reader
// records the time in the time file alone: every Badger file stays
// byte-identical, and the time it saw still counts.
func TestReadersLeaveBadgerAlone(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(0, 1, 0)))
	s.Close()
	before := dirDigest(t, e.cfg.Dir)
	for i := range 50 {
		e.clock.Set(t0.Add(time.Duration(i+1) * time.Hour))
		if st := e.readOnlyStatus(); !st.Active() {
			t.Fatalf("minute %d: %+v", i, st)
		}
		l, err := Open(e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	after := dirDigest(t, e.cfg.Dir)
	delete(after, timeFile)
	if !maps.Equal(before, after) {
		t.Fatalf("readers changed Badger's files: %d files before, %d after", len(before), len(after))
	}
	if _, ok := readTimeSeen(e.cfg.Dir); !ok {
		t.Fatal("no time file")
	}
	e.clock.Set(t0)
	if st := e.readOnlyStatus(); st.State != StateSuspended {
		t.Fatalf("the clock wound back 50 hours after readers saw it: %s", st.State)
	}
}

// The time file adds a time a reader saw, and nothing else: a damaged file,
// one of another version or one written against an older maxtime counts
// for nothing; a writer that raises the time makes it moot; and a
// vendor-vouched correction (the clock was once set ahead) ends it, so a
// reader's far-future time cannot come back after the recovery.
func TestTimeFileCountsOnlyWhileCurrent(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(0, 1, 0)))
	s.Close()
	path := filepath.Join(e.cfg.Dir, timeFile)

	e.clock.Set(t0.Add(48 * time.Hour))
	e.readOnlyStatus()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(time.Hour))
	if st := e.readOnlyStatus(); st.State != StateSuspended {
		t.Fatalf("behind the time file: %s", st.State)
	}
	for name, b := range map[string][]byte{
		"with its time changed": []byte(strings.Replace(string(good), strconv.FormatInt(t0.Add(48*time.Hour).Unix(), 10), strconv.FormatInt(t0.AddDate(1, 0, 0).Unix(), 10), 1)),
		"with a flipped byte":   flipByte(good, len(good)-3),
		"other version":         []byte("airlock-time/2" + string(good[len("airlock-time/1"):])),
		"cut":                   good[:len(good)-4],
		"empty":                 {},
	} {
		os.WriteFile(path, b, 0o644)
		if st := e.readOnlyStatus(); st.State != StateActive {
			t.Errorf("a time file %s counted: %s", name, st.State)
		}
	}

	// Another store's file, even one that names the same maxtime version
	// (Badger versions are small counters every store has).
	ts, ok := readTimeSeen(e.cfg.Dir)
	if !ok {
		os.WriteFile(path, good, 0o644)
		ts, _ = readTimeSeen(e.cfg.Dir)
	}
	other := newEnv(t)
	os2 := other.store()
	other.request(os2)
	os2.Close()
	var otherID string
	os2, _ = OpenStoreReadOnly(other.cfg)
	os2.db.View(func(txn *badger.Txn) error {
		st, err := loadState(txnRecords{txn}, other.cfg.Dir, false)
		if err == nil {
			otherID = st.storeID()
		}
		return err
	})
	os2.Close()
	foreign := ts
	foreign.store, foreign.at = otherID, t0.Add(48*time.Hour)
	if otherID == "" || otherID == ts.store {
		t.Fatalf("store ids %q and %q", otherID, ts.store)
	}
	if err := writeTimeSeen(e.cfg.Dir, foreign); err != nil {
		t.Fatal(err)
	}
	if st := e.readOnlyStatus(); st.State != StateActive {
		t.Fatalf("another store's time file counted: %s", st.State)
	}

	// A writer that raises the time: the file written against the older
	// maxtime no longer counts, even if it holds a later time.
	os.WriteFile(path, good, 0o644)
	e.clock.Set(t0.Add(72 * time.Hour))
	s = e.store()
	e.request(s)
	s.Close()
	stale := timeSeen{at: t0.Add(100 * time.Hour)}
	if ts, ok := readTimeSeen(e.cfg.Dir); ok {
		stale.base, stale.seq = ts.base, ts.seq
	}
	writeTimeSeen(e.cfg.Dir, stale)
	e.clock.Set(t0.Add(73 * time.Hour))
	if st := e.readOnlyStatus(); st.State != StateActive {
		t.Fatalf("a time file older than the last write counted: %s", st.State)
	}

	// The clock set ahead, seen by a reader alone; then set right, and a
	// licence requested since brings the time back to the vendor's.
	e.clock.Set(t0.AddDate(10, 0, 0))
	if st := e.readOnlyStatus(); st.State != StateExpired {
		t.Fatalf("in 2036: %s", st.State)
	}
	e.clock.Set(t0.Add(74 * time.Hour))
	if st := e.readOnlyStatus(); st.State != StateExpired {
		t.Fatalf("clock right again, after a reader saw 2036: %s", st.State)
	}
	s = e.store()
	fresh := e.request(s)
	end := format.NewTime(t0.AddDate(0, 3, 0))
	if _, err := s.Import(e.respond(fresh.Binary, func(r *format.Response) { r.NotAfter = &end }), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st := e.readOnlyStatus(); !st.Active() {
		t.Fatalf("the reader's 2036 came back after the recovery: %+v", st)
	}
}

func flipByte(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

// A refused import every minute for years: the audit log keeps the newest
// maxAudit entries, not every one, and counts a refusal retried in the
// entry it repeats.
func TestAuditLogBounded(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(1, 0, 0)))
	other := newEnv(t)
	foreign := other.respond(other.request(other.store()).Binary, nil)
	for i := range maxAudit + 50 {
		e.clock.Set(t0.Add(time.Duration(i) * time.Minute))
		// Refusals that differ each time (as many kinds of bad input would).
		err := s.db.Update(func(txn *badger.Txn) error {
			return audit(txn, auditEntry{Time: e.clock.Now(), Event: "refused", Detail: fmt.Sprintf("refusal %d", i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	var last auditEntry
	err := s.db.View(func(txn *badger.Txn) error {
		return kv.Scan(txn, prefixAudit, func(_ string, v []byte) error {
			n++
			return json.Unmarshal(v, &last)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != maxAudit || last.Event != "refused" || !last.Time.Equal(e.clock.Now()) {
		t.Fatalf("%d audit entries, the newest %+v", n, last)
	}
	newest := last
	count := func() (n int, last auditEntry) {
		s.db.View(func(txn *badger.Txn) error {
			return kv.Scan(txn, prefixAudit, func(_ string, v []byte) error {
				n++
				return json.Unmarshal(v, &last)
			})
		})
		return n, last
	}
	// A refused import writes nothing, so it adds no entry.
	for range 3 {
		e.clock.Set(e.clock.Now().Add(time.Minute))
		if _, err := s.Import(foreign, ImportOptions{}); err == nil {
			t.Fatal("another host's licence imported")
		}
	}
	if n, last := count(); n != maxAudit || last.Detail != newest.Detail || last.Repeats != 0 {
		t.Fatalf("after 3 refused imports: %d entries, the newest %+v", n, last)
	}
	// The same event again is counted in the newest entry.
	for range 3 {
		e.clock.Set(e.clock.Now().Add(time.Minute))
		s.db.Update(func(txn *badger.Txn) error {
			return audit(txn, auditEntry{Time: e.clock.Now(), Event: "revocations", Detail: "list 7"})
		})
	}
	n, last = count()
	if n != maxAudit || last.Repeats != 2 || last.Last == nil || !last.Last.Equal(e.clock.Now()) {
		t.Fatalf("an event repeated 3 times: %d entries, the newest %+v", n, last)
	}
}
