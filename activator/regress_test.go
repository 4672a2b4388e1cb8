package activator

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// Regressions found by the adversarial review of the store as a log
// (issue 11). Each failed before its fix.

// A build trusting both keys lets a foreign licence stand between two
// genuine ones; the older genuine licence must stay ended when the newer
// one is deactivated (it was replaced: the newest licence that verifies
// ends every older one).
func TestShadowedLicenceStaysEnded(t *testing.T) {
	e := newEnv(t)
	evil := fixtureKey(t, "other")
	bothCfg := e.cfg
	bothCfg.VendorKeys = format.NewKeySet(e.vendor.Public(), evil.Public())
	big := func(r *format.Response) {
		r.Features = []string{"dataflow", "subflow", "workflow"}
		r.Limits.Clients = 9
	}
	e.with(e.cfg, func(s *Store) { e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{}) })
	var g2 format.ID
	e.with(bothCfg, func(s *Store) {
		e.mustImport(s, e.signAs(evil, e.request(s).Binary, big), ImportOptions{})
		e.clock.Set(t0.Add(time.Minute))
		g2 = e.mustImport(s, e.respond(e.request(s).Binary, big), ImportOptions{}).LicenseID
	})
	e.with(e.cfg, func(s *Store) {
		if st, _ := s.Status(); st.Licenses[0].LicenseID != g2 {
			t.Fatalf("before the deactivation: %+v", st)
		}
		if _, _, err := s.Deactivate(); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Status(); st.Active() {
			t.Fatalf("after deactivating %s an older licence is in force again: %+v", g2, st.Licenses[0])
		}
	})
}

// A foreign build cannot store its licence under the id of a genuine one
// (which would take it out of the genuine view and bring back the bigger
// licence it replaced).
func TestForeignLicenceIDCannotOverwrite(t *testing.T) {
	e := newEnv(t)
	evilCfg, evil := e.foreign()
	big := func(r *format.Response) {
		r.Features = []string{"dataflow", "subflow", "workflow"}
		r.Limits.Clients = 9
	}
	var g2 format.ID
	e.with(e.cfg, func(s *Store) {
		e.mustImport(s, e.respond(e.request(s).Binary, big), ImportOptions{})
		g2 = e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{Replace: true}).LicenseID
	})
	e.with(evilCfg, func(s *Store) {
		_, err := s.Import(e.signAs(evil, e.request(s).Binary, func(r *format.Response) { r.LicenseID = g2 }), ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), "a stored licence is never replaced") {
			t.Fatalf("a foreign licence under a genuine licence's id: %v", err)
		}
	})
	e.with(e.cfg, func(s *Store) {
		if st, _ := s.Status(); !st.Active() || st.Licenses[0].LicenseID != g2 || st.Clients != 2 {
			t.Fatalf("the genuine view: %+v", st)
		}
	})
}

// A development build given the admin's own key cannot bring the trusted
// time back: the correction counts only where the licence that vouched
// for it verifies.
func TestForeignKeyCannotWindTimeBack(t *testing.T) {
	e := newEnv(t)
	evilCfg, evil := e.foreign()
	end := format.NewTime(t0.AddDate(0, 1, 0))
	e.with(e.cfg, func(s *Store) { e.importUntil(s, end) })
	e.clock.Set(t0.AddDate(0, 2, 0)) // the licence has expired
	e.with(e.cfg, func(s *Store) {
		if st, _ := s.Status(); st.State != StateExpired {
			t.Fatalf("setup: %s", st.State)
		}
	})
	e.clock.Set(t0.Add(time.Hour)) // the admin sets the clock back
	e.with(evilCfg, func(s *Store) {
		res := e.mustImport(s, e.signAs(evil, e.request(s).Binary, nil), ImportOptions{})
		if !res.Status.Checked.Before(t0.AddDate(0, 1, 0)) {
			t.Fatalf("in the foreign build's own view the time came back: %s", res.Status.Checked)
		}
	})
	e.with(e.cfg, func(s *Store) {
		if st, _ := s.Status(); st.State != StateExpired {
			t.Fatalf("the genuine licence after a foreign correction of the time: %s, checked %s", st.State, st.Checked)
		}
	})
	lic, _ := Open(e.cfg)
	defer lic.Close()
	if lic.Enabled("workflow") {
		t.Fatal("the product runs the expired licence again")
	}
}

// A highest time seen stored without the request number (as an earlier
// release wrote it) lets no older response vouch for a correction.
func TestLegacyMaxTimeVouchesForNothing(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(0, 1, 0)))
	old := e.request(s)
	oldResp := e.respond(old.Binary, func(r *format.Response) {
		end := format.NewTime(t0.AddDate(0, 2, 0))
		r.NotAfter = &end
		r.Features = []string{"dataflow", "subflow", "workflow"}
	})
	s.Close()
	d, err := kv.Open(e.cfg.Dir, false, time.Second, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	d.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(keyMaxTime), []byte(fmt.Sprint(t0.AddDate(0, 6, 0).Unix())))
	})
	d.Close()
	e.clock.Set(t0.Add(time.Hour)) // wound back six months
	s = e.store()
	if res, err := s.Import(oldResp, ImportOptions{}); err == nil {
		t.Fatalf("an old response wound the trusted time back to %s", res.Status.Checked)
	}
}

// A replaced licence whose receipt was written is refused as replaced.
func TestReplacedAfterReceipt(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	bigResp := e.respond(e.request(s).Binary, func(r *format.Response) { r.Limits.Clients = 5 })
	big := e.mustImport(s, bigResp, ImportOptions{}).LicenseID
	e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{Replace: true})
	if _, err := s.Receipt(big); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(bigResp, ImportOptions{Replace: true}); !errors.Is(err, ErrReplaced) || !strings.Contains(err.Error(), "its receipt was written") {
		t.Fatalf("the replaced licence after its receipt: %v", err)
	}
}

// Seats end with the licence: none after Close, and a seat released after
// Close frees nothing that another holds.
func TestSeatsAfterClose(t *testing.T) {
	e := newEnv(t)
	e.with(e.cfg, func(s *Store) { e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{}) })
	a, err := Open(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	old, err := a.Seats().Acquire("old")
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := a.Seats().Acquire("fresh"); !errors.Is(err, ErrNotActive) {
		t.Fatalf("a seat after Close: %v", err)
	}
	b, err := Open(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Seats().Acquire("b1"); err != nil {
		t.Fatal(err)
	}
	old.Release() // late: must not free b1's seat
	if _, err := b.Seats().Acquire("b2"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Seats().Acquire("b3"); !errors.Is(err, ErrSeatLimit) {
		t.Fatalf("a third seat on a two-client licence: %v", err)
	}
}

// One seat file per store however its directory is named (on platforms
// whose locks belong to the process, two descriptors would share them).
func TestSeatFileOnePerStore(t *testing.T) {
	e := newEnv(t)
	e.with(e.cfg, func(s *Store) { e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{}) })
	a, _ := Open(e.cfg)
	defer a.Close()
	cfg2 := e.cfg
	cfg2.Dir = filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(e.cfg.Dir, cfg2.Dir); err != nil {
		t.Fatal(err)
	}
	b, _ := Open(cfg2)
	defer b.Close()
	if _, err := a.Seats().Acquire("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Seats().Acquire("b"); err != nil {
		t.Fatal(err)
	}
	if a.seats.file != b.seats.file {
		t.Fatal("two seat files for one store")
	}
}

// Light and full evaluation agree on random histories made through the
// API: genuine, foreign and both-keys builds, another product, imports
// with and without Replace, deactivations, receipts. (AIRLOCK_STRESS=1
// runs 60 histories.)
func TestLightAndFullAgree(t *testing.T) {
	seeds := int64(4)
	if os.Getenv("AIRLOCK_STRESS") != "" {
		seeds = 60
	}
	for seed := range seeds {
		rng := rand.New(rand.NewSource(seed))
		e := newEnv(t)
		evil := fixtureKey(t, "other")
		cfgs := []Config{e.cfg, e.cfg, e.cfg, e.cfg}
		cfgs[1].VendorKeys = format.NewKeySet(evil.Public())
		cfgs[2].VendorKeys = format.NewKeySet(e.vendor.Public(), evil.Public())
		cfgs[3].Product = "other-prod"
		signers := []*format.PrivateKey{e.vendor, evil, e.vendor, e.vendor}
		var log []string
		for step := range 14 {
			i := rng.Intn(4)
			e.clock.Set(e.clock.Now().Add(time.Minute))
			cfg := cfgs[i]
			e.with(cfg, func(s *Store) {
				switch op := rng.Intn(6); {
				case op <= 3:
					k := signers[i]
					if i == 2 && rng.Intn(2) == 0 {
						k = evil
					}
					cl, rep := 1+rng.Intn(4), rng.Intn(2) == 0
					_, err := s.Import(e.signAs(k, e.request(s).Binary, func(r *format.Response) { r.Limits.Clients = cl; r.Product = cfg.Product }), ImportOptions{Replace: rep})
					log = append(log, fmt.Sprintf("import(%d, %v)", i, err == nil))
				case op == 4:
					_, _, err := s.Deactivate()
					log = append(log, fmt.Sprintf("deactivate(%d, %v)", i, err == nil))
				case op == 5:
					st, _ := s.state()
					v := newView(&cfg, st, e.clock.Now())
					for _, im := range st.imports {
						if v.replacedBy(im.id) != nil {
							s.Receipt(im.id)
							log = append(log, fmt.Sprintf("receipt(%d)", i))
							break
						}
					}
				}
			})
			for ci, c := range cfgs {
				s, err := OpenStore(c, false)
				if err != nil {
					t.Fatal(err)
				}
				l, f := evalBoth(t, c, s)
				s.Close()
				if l.State != f.State || len(l.Licenses) != len(f.Licenses) || (len(l.Licenses) > 0 && l.Licenses[0].LicenseID != f.Licenses[0].LicenseID) {
					t.Fatalf("seed %d step %d config %d: light %+v, full %+v; %v", seed, step, ci, l, f, log)
				}
			}
		}
	}
}

// evalBoth evaluates the store as a product's start does (light) and as
// an import does (full).
func evalBoth(t *testing.T, cfg Config, s *Store) (light, full *Snapshot) {
	t.Helper()
	host := cfg.host()
	err := s.db.View(func(txn *badger.Txn) error {
		st, err := loadState(txnRecords{txn}, cfg.Dir, false)
		if err != nil {
			return err
		}
		done := st.withFetch(txnRecords{txn})
		light = evaluate(&cfg, st, host)
		done()
		stf, err := loadState(txnRecords{txn}, cfg.Dir, true)
		if err != nil {
			return err
		}
		full = evaluate(&cfg, stf, host)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return light, full
}
