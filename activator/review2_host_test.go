package activator

import (
	"errors"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// Findings of the second review of the host store model. Each test fails
// on the reviewed code.

// aheadThenRight puts the store in the "clock once set ahead" state: the
// highest time seen is ten years ahead, recorded at the current request
// number, and the clock is then set to at.
func (e *env) aheadThenRight(s *Store, at time.Time) {
	e.t.Helper()
	e.clock.Set(t0.AddDate(10, 0, 0))
	if _, err := s.Status(); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Set(at)
}

// R2-1a: the import judges the store at the corrected time. A licence
// stored earlier whose signature is later than that time does not verify
// there, so its deactivation ends nothing: a response kept in a drawer, to
// a request the deactivation ended, imports (genuine build, no edit).
func TestR2CorrectionDropsDeactivation(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	early := e.request(s)                    // request 1, made before the jump
	e.aheadThenRight(s, t0.Add(time.Hour))   // maxtime "2036 1"
	pending := e.request(s)                  // request 2
	drawer := e.respond(pending.Binary, nil) // signed at t0+1h, kept back

	e.clock.Set(t0.Add(3 * time.Hour))
	d := e.mustImport(s, e.respond(early.Binary, nil), ImportOptions{}) // signed t0+3h, judged in 2036
	if _, _, err := s.Deactivate(); err != nil {                        // ends requests 1 and 2; the vendor frees the activation
		t.Fatal(err)
	}
	// Control: at the right time the drawer response is refused.
	if _, err := s.Import(drawer, ImportOptions{}); !errors.Is(err, ErrNotRequested) {
		t.Fatalf("control: %v", err)
	}
	// The admin sets the clock back two hours (within the tolerance).
	e.clock.Set(t0.Add(time.Hour))
	res, err := s.Import(drawer, ImportOptions{})
	if err == nil {
		t.Fatalf("a response to a request ended by the deactivation of %s imported: %s, clients %d", d.LicenseID, res.Status.State, res.Status.Clients)
	}
}

// R2-1b: the same with a revocation list: a licence the vendor revoked,
// in a list the host holds, imports and runs.
func TestR2CorrectionDropsRevocations(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.aheadThenRight(s, t0.Add(time.Hour))
	req := e.request(s)
	drawer := e.respond(req.Binary, nil) // signed t0+1h
	id := idOf(t, drawer)
	e.clock.Set(t0.Add(3 * time.Hour))
	e.mustImport(s, e.revocations(1, id), ImportOptions{}) // the vendor revoked it; signed t0+3h
	if _, err := s.Import(drawer, ImportOptions{}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("control: %v", err)
	}
	e.clock.Set(t0.Add(time.Hour))
	res, err := s.Import(drawer, ImportOptions{})
	if err == nil {
		t.Fatalf("a revoked licence imported: %+v", res.Status)
	}
}

// R2-1c: the replace rule is applied against an older licence, since the
// one in force was signed after the corrected time: a smaller licence
// replaces a bigger one without Replace, and the result names the wrong
// licence as replaced.
func TestR2CorrectionComparesWithWrongLicence(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	small := func(r *format.Response) { r.Features = []string{"dataflow"}; r.Limits.Clients = 1 }
	l1 := e.mustImport(s, e.respond(e.request(s).Binary, small), ImportOptions{}).LicenseID
	early := e.request(s)
	e.aheadThenRight(s, t0.Add(time.Hour))
	pending := e.request(s)
	drawer := e.respond(pending.Binary, nil) // 2 clients, dataflow+workflow, signed t0+1h
	e.clock.Set(t0.Add(3 * time.Hour))
	big := e.mustImport(s, e.respond(early.Binary, func(r *format.Response) {
		r.Features = []string{"dataflow", "subflow", "workflow"}
		r.Limits.Clients = 9
	}), ImportOptions{}).LicenseID
	e.clock.Set(t0.Add(time.Hour))
	res, err := s.Import(drawer, ImportOptions{})
	if err == nil {
		t.Fatalf("a licence granting less than %s replaced it without Replace; reported as replacing %s (l1 %s)", big, res.Replaced, l1)
	}
	if !errors.Is(err, ErrDowngrade) {
		t.Fatalf("want ErrDowngrade naming %s: %v", big, err)
	}
}

// R2-2: a development build given the admin's own key records, as the
// time before its correction, its own view of the time, which ignores the
// genuine correction. Genuine readers restore it: one foreign import after
// a genuine recovery locks the genuine licence at the far-future time
// again, and no later genuine recovery can undo it.
func TestR2ForeignFixUndoesGenuineRecovery(t *testing.T) {
	e := newEnv(t)
	evilCfg, evil := e.foreign()
	end := format.NewTime(t0.AddDate(1, 0, 0))
	until := func(r *format.Response) { r.NotAfter = &end }

	e.with(e.cfg, func(s *Store) {
		e.aheadThenRight(s, t0.Add(time.Hour))
		res := e.mustImport(s, e.respond(e.request(s).Binary, until), ImportOptions{}) // the documented recovery
		if !res.Status.Active() {
			t.Fatalf("setup: %+v", res.Status)
		}
	})
	// The foreign build, its clock at the time the recovery came back to
	// (so that its request raises nothing).
	e.with(evilCfg, func(s *Store) {
		e.mustImport(s, e.signAs(evil, e.request(s).Binary, nil), ImportOptions{})
	})
	e.clock.Set(t0.Add(3 * time.Hour))
	e.with(e.cfg, func(s *Store) {
		if st, _ := s.Status(); !st.Active() {
			t.Errorf("after a foreign import the genuine licence is %s, judged at %s", st.State, st.Checked)
		}
		// The documented way back, once more: the request, made at the
		// clock's time, is taken as raising the highest time seen (Request
		// compares with the stored value, not this view's), so it vouches
		// for nothing.
		if _, err := s.Import(e.respond(e.request(s).Binary, until), ImportOptions{Replace: true}); err != nil {
			t.Errorf("a second genuine recovery: %v", err)
		}
		// Even a request made with the clock at the stored time, which does
		// vouch: the import brings the time down, and the stale foreign
		// correction puts it back at once.
		e.clock.Set(t0.Add(time.Hour))
		req := e.request(s)
		e.clock.Set(t0.Add(3 * time.Hour))
		res, err := s.Import(e.respond(req.Binary, until), ImportOptions{Replace: true})
		if err != nil || !res.Status.Active() {
			t.Fatalf("a third genuine recovery: %v; %+v", err, res)
		}
	})
}

// R2-3: with several corrections the highest time seen depends on the
// order in which Go iterates a map: the same store is judged at two
// different times, and a time-limited licence is active or expired at
// random.
func TestR2TimeFixesOrderDependent(t *testing.T) {
	e := newEnv(t)
	evil := fixtureKey(t, "other")
	bothCfg := e.cfg
	bothCfg.VendorKeys = format.NewKeySet(e.vendor.Public(), evil.Public())
	s := e.store()
	end := format.NewTime(t0.AddDate(0, 6, 0))
	e.aheadThenRight(s, t0.Add(time.Hour))
	e.mustImport(s, e.respond(e.request(s).Binary, func(r *format.Response) { r.NotAfter = &end }), ImportOptions{}) // fix G: 2036 -> t0+1h
	e.clock.Set(t0.AddDate(0, 3, 0))
	s.Status() // maxtime t0+3 months
	s.Close()
	// A build trusting both keys, its clock set back before G's signature:
	// a foreign response to a new request brings the time down again.
	e.clock.Set(t0.Add(-time.Hour))
	e.with(bothCfg, func(s *Store) {
		e.mustImport(s, e.signAs(evil, e.request(s).Binary, func(r *format.Response) {
			r.Features = []string{"dataflow", "subflow", "workflow"}
			r.Limits.Clients = 9
		}), ImportOptions{})
	})
	e.clock.Set(t0.Add(2 * time.Hour)) // after G's signature: G verifies
	seen := map[time.Time]bool{}
	s2, err := OpenStore(e.cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for range 64 {
		st, _ := s2.state()
		now, _ := trustedTime(&e.cfg, st)
		seen[now] = true
	}
	if len(seen) > 1 {
		t.Fatalf("one store, %d trusted times: %v", len(seen), seen)
	}
}

// edit sets (or, with v nil, deletes) key in the closed store at dir.
func editStore(t *testing.T, dir, key string, v []byte) {
	t.Helper()
	d, err := kv.Open(dir, false, time.Second, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Update(func(txn *badger.Txn) error {
		if v == nil {
			return txn.Delete([]byte(key))
		}
		return txn.Set([]byte(key), v)
	}); err != nil {
		t.Fatal(err)
	}
}

// R2-5: a correction whose licence's response is stored without its
// import record counts on demand (light) but not in a full state, which
// reads only the imported responses: status and import judge at different
// times.
func TestR2TimeFixLightFull(t *testing.T) {
	e := newEnv(t)
	end := format.NewTime(t0.AddDate(1, 0, 0))
	var g format.ID
	e.with(e.cfg, func(s *Store) {
		e.mustImport(s, e.respond(e.request(s).Binary, func(r *format.Response) { r.NotAfter = &end }), ImportOptions{})
		e.aheadThenRight(s, t0.Add(time.Hour))
		g = e.mustImport(s, e.respond(e.request(s).Binary, func(r *format.Response) { r.NotAfter = &end; r.Limits.Clients = 3 }), ImportOptions{}).LicenseID
	})
	// Drop g's import record (bringing back the licence it replaced, a
	// documented residual); its correction stays.
	var key string
	for _, k := range storeKeys(t, e.cfg.Dir) {
		if im, ok := parseImportKey(k); ok && im.id == g {
			key = k
		}
	}
	editStore(t, e.cfg.Dir, key, nil)
	s, err := OpenStore(e.cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, f := evalBoth(t, e.cfg, s)
	if l.State != f.State || !l.Checked.Equal(f.Checked) {
		t.Fatalf("light %s at %s, full %s at %s", l.State, l.Checked, f.State, f.Checked)
	}
}

// R2-6: a deactivation while the highest time seen is ahead of a clock
// that is right (the "clock once set ahead" state) signs the receipt at
// that time: the desk, at its own time, refuses it as signed in its
// future, while the host has already ended the licence and every request.
func TestR2ReceiptDatedAhead(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{}) // perpetual
	e.aheadThenRight(s, t0.Add(time.Hour))
	receipt, _, err := s.Deactivate()
	if err != nil {
		t.Fatal(err)
	}
	hk := hostKeyOf(t, s)
	_, err = format.Verify(receipt, format.VerifyOptions{Keys: format.NewKeySet(hk.Public()), Kinds: []format.Kind{format.KindDeactivation}, Now: e.clock.Now()})
	if err != nil {
		t.Fatalf("the desk, at the right time, refuses the receipt: %v", err)
	}
}
