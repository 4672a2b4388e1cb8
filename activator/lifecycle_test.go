package activator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
)

// The licence lifecycle on one host, as the host's admin may try to bend
// it (issue 11, parts 3 to 5; SECURITY.md, host side).

// with opens the store under cfg for one action.
func (e *env) with(cfg Config, fn func(s *Store)) {
	e.t.Helper()
	s, err := OpenStore(cfg, true)
	if err != nil {
		e.t.Fatal(err)
	}
	defer s.Close()
	fn(s)
}

// foreign returns the configuration of a development build given the
// admin's own vendor key (and only it), and that key.
func (e *env) foreign() (Config, *format.PrivateKey) {
	e.t.Helper()
	evil := fixtureKey(e.t, "other")
	cfg := e.cfg
	cfg.VendorKeys = format.NewKeySet(evil.Public())
	return cfg, evil
}

func (e *env) mustImport(s *Store, resp []byte, opts ImportOptions) *ImportResult {
	e.t.Helper()
	res, err := s.Import(resp, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func idOf(t testing.TB, resp []byte) format.ID {
	a, err := format.DecodeUnverified(resp)
	if err != nil {
		t.Fatal(err)
	}
	return a.Payload.(*format.Response).LicenseID
}

// signAs plays a licence desk with key k.
func (e *env) signAs(k *format.PrivateKey, req []byte, edit func(*format.Response)) []byte {
	e.t.Helper()
	saved := e.vendor
	e.vendor = k
	defer func() { e.vendor = saved }()
	return e.respond(req, edit)
}

// TestForeignKeyCannotDisplace: the admin runs the development build with a
// key of their own, answers their own requests with licences for 999
// clients, deactivates one of them and imports a revocation list that
// revokes the genuine licence. The product, and status under the genuine
// key, keep the genuine licence throughout; the genuine answer to a
// request that the foreign key "answered" still imports.
func TestForeignKeyCannotDisplace(t *testing.T) {
	e := newEnv(t)
	evilCfg, evil := e.foreign()
	big := func(r *format.Response) {
		r.Limits.Clients = 999
		r.Features = []string{"dataflow", "subflow", "workflow"}
	}

	var genuine format.ID
	e.with(e.cfg, func(s *Store) {
		genuine = e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{}).LicenseID
	})

	var req2, req3 *Request
	var evilList []byte
	e.with(evilCfg, func(s *Store) {
		req2 = e.request(s)
		res := e.mustImport(s, e.signAs(evil, req2.Binary, big), ImportOptions{})
		if !res.Status.Active() || res.Status.Clients != 999 {
			t.Fatalf("the development build with its own key: %+v", res.Status)
		}
		// A deactivation of the foreign licence, after a request.
		req3 = e.request(s)
		if _, _, err := s.Deactivate(); err != nil {
			t.Fatal(err)
		}
		saved := e.vendor
		e.vendor = evil
		evilList = e.revocations(1_000_000, genuine)
		e.vendor = saved
		e.mustImport(s, evilList, ImportOptions{})
	})

	check := func(when string) {
		t.Helper()
		e.with(e.cfg, func(s *Store) {
			st, err := s.Status()
			if err != nil || !st.Active() || st.Clients != 2 || st.Licenses[0].LicenseID != genuine {
				t.Fatalf("%s: status under the genuine key: %v %+v", when, err, st)
			}
		})
		lic, err := Open(e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer lic.Close()
		if snap := lic.Snapshot(); !snap.Active() || snap.Clients != 2 || lic.Enabled("subflow") {
			t.Fatalf("%s: the product: %+v", when, snap)
		}
	}
	check("after the foreign imports")

	// A build given both keys lets a foreign licence be the newest: the
	// genuine view ignores it.
	bothCfg := e.cfg
	bothCfg.VendorKeys = format.NewKeySet(e.vendor.Public(), evil.Public())
	e.with(bothCfg, func(s *Store) {
		res := e.mustImport(s, e.signAs(evil, e.request(s).Binary, big), ImportOptions{})
		if res.Status.Clients != 999 {
			t.Fatalf("a build trusting both keys: %+v", res)
		}
	})
	check("after a foreign licence replaced the genuine one in a build trusting both")

	// The genuine desk answers request 2 (which the foreign key "answered")
	// and request 3 (made before the foreign deactivation): both import,
	// and a genuine revocation list with a low serial applies.
	e.with(e.cfg, func(s *Store) {
		r2 := e.respond(req2.Binary, func(r *format.Response) { r.Features = []string{"dataflow", "subflow", "workflow"} })
		res := e.mustImport(s, r2, ImportOptions{})
		if res.Replaced != genuine || !res.Status.Enabled("subflow") {
			t.Fatalf("genuine answer to request 2: %+v", res)
		}
		genuine = res.LicenseID
		r3 := e.respond(req3.Binary, func(r *format.Response) {
			r.Features = []string{"dataflow", "subflow", "workflow"}
			r.Limits.Clients = 3
		})
		res = e.mustImport(s, r3, ImportOptions{})
		genuine = res.LicenseID
		if _, err := s.Import(e.revocations(2), ImportOptions{}); err != nil {
			t.Fatalf("a genuine list after a foreign one with a higher serial: %v", err)
		}
	})
	e.with(e.cfg, func(s *Store) {
		st, _ := s.Status()
		if !st.Active() || st.Clients != 3 || st.Licenses[0].LicenseID != genuine {
			t.Fatalf("after the genuine imports: %+v", st)
		}
	})
}

// TestDeactivationEndsPendingRequests: after a deactivation (and the desk
// freeing the activation on its receipt) the response to a request made
// before it never imports; one made after it does.
func TestDeactivationEndsPendingRequests(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{})
	pending := e.request(s)
	late := e.respond(pending.Binary, nil) // signed by the desk, kept back
	if _, _, err := s.Deactivate(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Import(late, ImportOptions{})
	if !errors.Is(err, ErrNotRequested) || !strings.Contains(err.Error(), "was made before licence") {
		t.Fatalf("response to a request made before the deactivation: %v", err)
	}
	if st, _ := s.Status(); st.Active() {
		t.Fatalf("active again: %+v", st)
	}
	e.clock.Set(t0.Add(time.Minute))
	e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{})
}

// TestReplaceRules: a licence that grants less is refused with what would
// be lost unless Replace; one that grants more replaces the one in force
// whatever the order of the requests; the replaced licence never comes
// back, and its receipt can be written for the vendor.
func TestReplaceRules(t *testing.T) {
	full := func(r *format.Response) {
		r.Features = []string{"dataflow", "subflow", "workflow"}
		r.Limits.Clients = 5
	}
	small := func(r *format.Response) {
		r.Features = []string{"dataflow"}
		r.Limits.Clients = 1
		end := format.NewTime(t0.AddDate(1, 0, 0))
		r.NotAfter = &end
	}

	t.Run("less is refused, then replaced on request", func(t *testing.T) {
		e := newEnv(t)
		s := e.store()
		bigResp := e.respond(e.request(s).Binary, full)
		big := e.mustImport(s, bigResp, ImportOptions{}).LicenseID
		smallResp := e.respond(e.request(s).Binary, small)
		_, err := s.Import(smallResp, ImportOptions{})
		if !errors.Is(err, ErrDowngrade) {
			t.Fatalf("smaller licence: %v", err)
		}
		for _, want := range []string{"feature subflow", "feature workflow", "5 client seats (the new licence has 1)", "perpetual validity", "--replace"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal does not say %q: %v", want, err)
			}
		}
		res := e.mustImport(s, smallResp, ImportOptions{Replace: true})
		if res.Replaced != big || len(res.Lost) != 4 || res.Status.Clients != 1 {
			t.Fatalf("replace: %+v", res)
		}
		if _, err := s.Import(bigResp, ImportOptions{Replace: true}); !errors.Is(err, ErrReplaced) {
			t.Fatalf("the replaced licence again: %v", err)
		}
		// Its receipt, for the vendor: signed by the host key, kept, and
		// it ends the requests made before it.
		pending := e.request(s)
		receipt, err := s.Receipt(big)
		if err != nil {
			t.Fatal(err)
		}
		a, err := format.Verify(receipt, format.VerifyOptions{Keys: format.NewKeySet(hostKeyOf(t, s).Public()), Kinds: []format.Kind{format.KindDeactivation}, Now: e.clock.Now()})
		if err != nil || a.Payload.(*format.Deactivation).LicenseID != big {
			t.Fatalf("receipt: %v", err)
		}
		again, _ := s.Receipt(big)
		if string(again) != string(receipt) {
			t.Fatal("a second receipt differs from the first")
		}
		if _, err := s.Import(e.respond(pending.Binary, full), ImportOptions{}); !errors.Is(err, ErrNotRequested) {
			t.Fatalf("a request made before the receipt: %v", err)
		}
		if st, _ := s.Status(); !st.Active() || st.Licenses[0].LicenseID != res.LicenseID {
			t.Fatalf("the licence in force after the receipt of the replaced one: %+v", st)
		}
		if _, err := s.Receipt(res.LicenseID); !errors.Is(err, ErrNotActive) || !strings.Contains(err.Error(), "activator deactivate") {
			t.Fatalf("receipt of the licence in force: %v", err)
		}
	})

	t.Run("more replaces whatever the order", func(t *testing.T) {
		e := newEnv(t)
		s := e.store()
		old := e.request(s)
		e.clock.Set(t0.Add(time.Hour))
		e.mustImport(s, e.respond(e.request(s).Binary, small), ImportOptions{})
		res, err := s.Import(e.respond(old.Binary, full), ImportOptions{})
		if err != nil || res.Status.Clients != 5 || len(res.Lost) != 0 {
			t.Fatalf("a bigger licence for an older request: %v %+v", err, res)
		}
	})

	t.Run("the same for an older request changes nothing", func(t *testing.T) {
		e := newEnv(t)
		s := e.store()
		old := e.request(s)
		e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{})
		_, err := s.Import(e.respond(old.Binary, nil), ImportOptions{})
		if !errors.Is(err, ErrDowngrade) || !strings.Contains(err.Error(), "grants nothing more") {
			t.Fatalf("an equal licence for an older request: %v", err)
		}
	})

	t.Run("two product keys do not add up", func(t *testing.T) {
		e := newEnv(t)
		s := e.store()
		e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{})
		addOn, err := s.Request(RequestOptions{Name: "Ada Admin", Organization: "Example Bank", ProductKey: otherProductKey(t)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Import(e.respond(addOn.Binary, func(r *format.Response) { r.Features = []string{"subflow"} }), ImportOptions{})
		if !errors.Is(err, ErrDowngrade) || !strings.Contains(err.Error(), "do not add up") {
			t.Fatalf("an add-on key: %v", err)
		}
		res, err := s.Import(e.respond(addOn.Binary, func(r *format.Response) { r.Features = []string{"dataflow", "subflow", "workflow"} }), ImportOptions{})
		if err != nil || !res.ReplacedOtherKey || !res.Status.Enabled("subflow") {
			t.Fatalf("an upgrade key: %v %+v", err, res)
		}
	})
}

// otherProductKey returns a valid product key other than testProductKey.
func otherProductKey(t *testing.T) string {
	k, err := format.NewProductKey(strings.NewReader(strings.Repeat("other product key seed ", 4)))
	if err != nil {
		t.Fatal(err)
	}
	return k.String()
}

// TestForeignRevocationListCannotHideGenuine: a revocation list signed by
// another key, with any serial, does not take the place of the vendor's:
// a revoked licence stays revoked.
func TestForeignRevocationListCannotHideGenuine(t *testing.T) {
	e := newEnv(t)
	evilCfg, evil := e.foreign()
	e.with(e.cfg, func(s *Store) {
		id := e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{}).LicenseID
		if res := e.mustImport(s, e.revocations(3, id), ImportOptions{}); res.Status.State != StateRevoked {
			t.Fatalf("revoked: %+v", res.Status)
		}
	})
	e.with(evilCfg, func(s *Store) {
		saved := e.vendor
		e.vendor = evil
		list := e.revocations(1 << 60)
		e.vendor = saved
		e.mustImport(s, list, ImportOptions{})
	})
	e.with(e.cfg, func(s *Store) {
		if st, _ := s.Status(); st.State != StateRevoked {
			t.Fatalf("after a foreign list: %+v", st)
		}
		if _, err := s.Import(e.revocations(2), ImportOptions{}); !errors.Is(err, ErrStaleRevocations) {
			t.Fatalf("an older genuine list: %v", err)
		}
	})
}

// TestSeatsSharedOnHost: two Licenses of one store (two instances of the
// product in one process here; TestTwoServersShareSeats in
// samples/dataserver runs two processes) share the licence's seats, and
// closing one gives back only its own.
func TestSeatsSharedOnHost(t *testing.T) {
	e := newEnv(t)
	e.with(e.cfg, func(s *Store) { e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{}) })
	a, err := Open(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := a.Seats().Acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Seats().Acquire("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Seats().Acquire("c"); !errors.Is(err, ErrSeatLimit) {
		t.Fatalf("a third seat across two instances: %v", err)
	}
	b.Close()
	s3, err := a.Seats().Acquire("c")
	if err != nil || s3.Number != 2 || a.Seats().InUse() != 2 {
		t.Fatalf("after the other instance closed: %v %+v", err, s3)
	}
	sa.Release()
	sa.Release()
	if a.Seats().InUse() != 1 {
		t.Fatalf("in use: %d", a.Seats().InUse())
	}
}

// A request by a user who may not read some identifiers (the root-only
// SMBIOS ones) is refused unless Unprivileged: it would bind the licence
// to fewer identifiers than the machine has, and the desk might not know
// it for the machine that activated before. (Found in review.)
func TestRequestNeedsRoot(t *testing.T) {
	e := newEnv(t)
	e.cfg.fingerprint = func(product string) *HostFingerprint {
		h := e.fingerprint(product)
		h.Components = append(h.Components, ComponentStatus{Name: format.ComponentDMIProduct, State: Unverifiable, Reason: "readable only by root"})
		return h
	}
	s := e.store()
	_, err := s.Request(RequestOptions{Name: "Ada", Organization: "Bank", ProductKey: testProductKey})
	if !errors.Is(err, ErrNeedsRoot) || !strings.Contains(err.Error(), "dmi-product-uuid") || !strings.Contains(err.Error(), "--unprivileged") {
		t.Fatalf("a request without root: %v", err)
	}
	if st, _ := s.state(); len(st.requests) != 0 {
		t.Fatal("the refused request was stored")
	}
	if _, err := s.Request(RequestOptions{Name: "Ada", Organization: "Bank", ProductKey: testProductKey, Unprivileged: true}); err != nil {
		t.Fatalf("with Unprivileged: %v", err)
	}
}
