package activator

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

// The clock messages name the right machine and direction, both ways
// (issuer's TestClockAheadRequest is the desk's side).
func TestClockDirections(t *testing.T) {
	// The host's clock behind the vendor's: the response is from the
	// host's future.
	e := newEnv(t)
	s := e.store()
	req := e.request(s)
	e.clock.Set(t0.Add(20 * time.Minute)) // the vendor signs
	resp := e.respond(req.Binary, nil)
	e.clock.Set(t0.Add(time.Minute)) // the host imports, its clock 20 minutes slow
	if _, err := s.Import(resp, ImportOptions{}); !errors.Is(err, ErrClockBehind) || !strings.Contains(err.Error(), "this host's clock is behind, or the vendor's ahead") {
		t.Fatalf("host clock behind: %v", err)
	}

	// The host's clock ahead of the vendor's when it made the request:
	// the response predates the request. (A desk refuses a request from
	// more than five minutes in its future; this one signs it anyway.)
	e = newEnv(t)
	s = e.store()
	e.clock.Set(t0.Add(20 * time.Minute)) // the host requests, 20 minutes fast
	req = e.request(s)
	resp = e.signedAt(req.Binary, t0) // the vendor signs at its time
	e.clock.Set(t0.Add(21 * time.Minute))
	_, err := s.Import(resp, ImportOptions{})
	if !errors.Is(err, ErrBackdated) || !strings.Contains(err.Error(), "20m0s before its request was made") || !strings.Contains(err.Error(), "this host's clock was ahead of the vendor's") {
		t.Fatalf("host clock ahead: %v", err)
	}

	// The clock set back past the tolerance: suspended, saying which way.
	e = newEnv(t)
	s = e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(0, 1, 0)))
	e.clock.Set(t0.Add(-48 * time.Hour))
	st, _ := s.Status()
	if st.State != StateSuspended || !strings.Contains(st.Problems[0], "this host's clock is 48h0m0s behind the latest time it has seen") {
		t.Fatalf("clock set back: %+v", st)
	}
}

// TestClockOnceAhead: a clock once set far ahead leaves the latest time
// seen there; the licence is expired by it, and says so and the way back.
// Setting the clock right and importing a licence requested since brings
// the latest time seen back to the vendor's signed time. A response to a
// request made before, or at, the wrong time vouches for nothing.
func TestClockOnceAhead(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(0, 1, 0)))
	kept := e.request(s) // made before the mistake
	keptResp := e.respond(kept.Binary, func(r *format.Response) {
		end := format.NewTime(t0.AddDate(0, 2, 0))
		r.NotAfter = &end
	})

	e.clock.Set(t0.AddDate(10, 0, 0)) // someone sets the year to 2036
	if st, _ := s.Status(); st.State != StateExpired {
		t.Fatalf("in 2036: %s", st.State)
	}
	atWrongTime := e.request(s)    // made while the clock is wrong
	e.clock.Set(t0.Add(time.Hour)) // the clock is set right
	st, _ := s.Status()
	if st.State != StateExpired || !strings.Contains(st.Problems[0], "latest time this host has seen, 2036-06-01") || !strings.Contains(st.Problems[0], "request a new licence") {
		t.Fatalf("clock right again: %+v", st)
	}
	// The response kept back, to a request made before the mistake: it
	// cannot bring the time back, and is judged expired by it.
	if _, err := s.Import(keptResp, ImportOptions{}); !errors.Is(err, ErrExpired) {
		t.Fatalf("a response to an older request: %v", err)
	}
	// A request made while the clock was wrong is dated in 2036: a desk
	// refuses it (issuer's TestClockAheadRequest); one signed anyway
	// predates it and vouches for nothing.
	if _, err := testutilRespond(e, atWrongTime.Binary); !errors.Is(err, format.ErrClockBehind) {
		t.Fatalf("the desk's view of a request made at the wrong time: %v", err)
	}
	if _, err := s.Import(e.signedAt(atWrongTime.Binary, e.clock.Now()), ImportOptions{}); !errors.Is(err, ErrBackdated) {
		t.Fatalf("a response to a request made at the wrong time: %v", err)
	}

	// The way back: a new request, signed by the vendor now.
	fresh := e.request(s)
	e.clock.Set(t0.Add(2 * time.Hour))
	end := format.NewTime(t0.AddDate(0, 3, 0))
	res, err := s.Import(e.respond(fresh.Binary, func(r *format.Response) { r.NotAfter = &end }), ImportOptions{})
	if err != nil || !res.Status.Active() {
		t.Fatalf("a licence requested after the clock was set right: %v %+v", err, res)
	}
	st, _ = s.Status()
	if !st.Active() || st.Checked.After(t0.Add(3*time.Hour)) {
		t.Fatalf("after the import the latest time seen is back: %+v", st)
	}
	// And it only ever comes back to the vendor's time: winding the clock
	// back now is noticed as before.
	e.clock.Set(t0.Add(-48 * time.Hour))
	if st, _ := s.Status(); st.State != StateSuspended {
		t.Fatalf("the clock wound back after the recovery: %s", st.State)
	}
}

// signedAt plays a careless desk: it answers req as testutil.Respond does,
// but signs at the given time without checking the request's date.
func (e *env) signedAt(req []byte, at time.Time) []byte {
	e.t.Helper()
	a, err := format.DecodeUnverified(req)
	if err != nil {
		e.t.Fatal(err)
	}
	r := a.Payload.(*format.Request)
	hk, err := r.PublicKey()
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := format.NewID(rand.Reader)
	fp := r.Fingerprint
	fp.Threshold = format.IssueThreshold(fp)
	resp := &format.Response{
		LicenseID: id, RequestID: r.RequestID, RequestDigest: a.Digest, Issued: format.NewTime(at),
		Product: r.Product, Versions: []int{9}, Licensee: r.Licensee, HostKeyFingerprint: hk.Fingerprint(),
		Fingerprint: fp, Features: []string{"dataflow", "workflow"}, Limits: format.Limits{Clients: 2},
	}
	msg, err := format.Sign(e.vendor, resp, at)
	if err != nil {
		e.t.Fatal(err)
	}
	return msg
}

func testutilRespond(e *env, req []byte) ([]byte, error) {
	return testutil.Respond(e.vendor, req, e.clock.Now(), nil)
}
