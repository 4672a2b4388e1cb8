package activator

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// DefaultClockTolerance is how far the wall clock may fall behind the
// highest time the store has seen before time-limited licences are
// suspended: a day, so that a time-zone mistake or a drifting clock
// corrected by hand does not lock anyone out, while winding the clock back
// by weeks to stretch a trial does.
const DefaultClockTolerance = 24 * time.Hour

// Config says where the store is and what the product trusts. Most
// products build it once, with VendorKeys parsed from the key compiled into
// the binary.
type Config struct {
	Dir        string         // the store directory (mode 0700)
	VendorKeys *format.KeySet // the trust anchor: the vendor's public keys
	Product    string         // product identifier, as the vendor issues it
	Version    string         // the running product's version, e.g. "9.1.0"

	// Now returns the wall clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// ClockTolerance: see DefaultClockTolerance (zero means the default).
	ClockTolerance time.Duration
	// LockWait bounds how long a writer waits for the store (zero means
	// DefaultLockWait).
	LockWait time.Duration
	// Logger receives diagnostics (Badger's included); nil discards them.
	Logger *slog.Logger
	// Command names this process in the store's lock notice ("activator
	// import", "dataserver"); empty means "airlock".
	Command string
	// PollInterval is how often Open's watcher looks for a new licence
	// (zero means DefaultPollInterval).
	PollInterval time.Duration

	// fingerprint replaces the host fingerprint collection in tests.
	fingerprint func(product string) *HostFingerprint
}

func (c *Config) check() error {
	switch {
	case c.VendorKeys == nil || c.VendorKeys.Len() == 0:
		return errors.New("no vendor keys configured (the product must embed its vendor's public key)")
	case !format.ValidProduct(c.Product):
		return fmt.Errorf("product %q is not a valid product identifier", c.Product)
	}
	if _, err := format.MajorVersion(c.Version); err != nil {
		return fmt.Errorf("product version %q is not a version such as 9.1.0", c.Version)
	}
	return nil
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Config) tolerance() time.Duration {
	if c.ClockTolerance > 0 {
		return c.ClockTolerance
	}
	return DefaultClockTolerance
}

func (c *Config) lockWait() time.Duration {
	if c.LockWait > 0 {
		return c.LockWait
	}
	return DefaultLockWait
}

func (c *Config) command() string {
	if c.Command != "" {
		return c.Command
	}
	return "airlock"
}

func (c *Config) host() *HostFingerprint {
	if c.fingerprint != nil {
		return c.fingerprint(c.Product)
	}
	return CollectFingerprint(c.Product)
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// storeState is everything read from the store, not yet trusted.
type storeState struct {
	hostKey     []byte
	requests    map[format.ID][]byte // pending and consumed requests, as signed
	consumed    map[format.ID]bool
	responses   map[format.ID][]byte // license_id -> response as signed
	active      map[string]format.ID // product -> license_id
	deactivated map[format.ID]bool
	revocations []byte
	maxTime     time.Time
}

// loadState reads the store. Evaluating the licence needs only the active
// responses; full also reads every request and response, as an import
// does, so that a long history does not slow a product's start.
func loadState(txn *badger.Txn, full bool) (*storeState, error) {
	st := &storeState{
		requests: map[format.ID][]byte{}, consumed: map[format.ID]bool{},
		responses: map[format.ID][]byte{}, active: map[string]format.ID{}, deactivated: map[format.ID]bool{},
	}
	var err error
	if st.hostKey, err = get(txn, keyHostKey); err != nil {
		return nil, err
	}
	if st.revocations, err = get(txn, keyRevocations); err != nil {
		return nil, err
	}
	if v, err := get(txn, keyMaxTime); err != nil {
		return nil, err
	} else if v != nil {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			st.maxTime = time.Unix(n, 0).UTC()
		}
	}
	scans := []struct {
		prefix string
		fn     func(k string, v []byte)
	}{
		{prefixConsumed, func(k string, v []byte) { st.consumed[format.ID(k)] = true }},
		{prefixActive, func(k string, v []byte) { st.active[k] = format.ID(v) }},
		{prefixDeact, func(k string, v []byte) { st.deactivated[format.ID(k)] = true }},
	}
	if full {
		scans = append(scans,
			struct {
				prefix string
				fn     func(k string, v []byte)
			}{prefixPending, func(k string, v []byte) { st.requests[format.ID(k)] = v }},
			struct {
				prefix string
				fn     func(k string, v []byte)
			}{prefixResponse, func(k string, v []byte) { st.responses[format.ID(k)] = v }})
	}
	for _, s := range scans {
		err := scan(txn, s.prefix, func(key string, val []byte) error {
			s.fn(strings.TrimPrefix(key, s.prefix), val)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if !full {
		for _, id := range st.active {
			v, err := get(txn, prefixResponse+string(id))
			if err != nil {
				return nil, err
			}
			if v != nil {
				st.responses[id] = v
			}
		}
	}
	return st, nil
}

// prefixConsumed marks a request whose response was imported.
const prefixConsumed = "consumed/"

// trustedTime is the later of the wall clock and the highest time the
// store has seen, and whether the clock is set back past the tolerance.
func trustedTime(cfg *Config, st *storeState) (now time.Time, setBack time.Duration) {
	wall := cfg.now()
	if st.maxTime.After(wall) {
		if d := st.maxTime.Sub(wall); d > cfg.tolerance() {
			setBack = d
		}
		return st.maxTime, setBack
	}
	return wall, 0
}

// hostKey parses the stored host key.
func (st *storeState) hostPublic() (*format.PrivateKey, error) {
	if st.hostKey == nil {
		return nil, nil
	}
	k, err := format.ParsePrivateKey(st.hostKey, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: host key unreadable (%v)", ErrStoreDamaged, err)
	}
	return k, nil
}

// verifiedRevocations returns the stored revocation list if it verifies.
func (st *storeState) verifiedRevocations(cfg *Config, now time.Time) *format.Revocations {
	if st.revocations == nil {
		return nil
	}
	a, err := format.Verify(st.revocations, format.VerifyOptions{Keys: cfg.VendorKeys, Kinds: []format.Kind{format.KindRevocations}, Now: now})
	if err != nil {
		return nil
	}
	return a.Payload.(*format.Revocations)
}

// evaluate decides the licence state from the store's contents, trusting
// nothing that does not verify now: each check that fails locks the
// licence and says why in Problems.
func evaluate(cfg *Config, st *storeState, host *HostFingerprint) *Snapshot {
	now, setBack := trustedTime(cfg, st)
	id, ok := st.active[cfg.Product]
	if !ok {
		return inactive(now)
	}
	raw := st.responses[id]
	if raw == nil {
		return inactive(now, fmt.Sprintf("the store names licence %s as active but does not hold it; import the response again", id))
	}
	resp, problem := checkStoredResponse(cfg, st, raw, now, host)
	if problem != "" {
		return inactive(now, problem)
	}
	info := licenseInfo(resp, StateActive)
	snap := &Snapshot{State: StateActive, Licenses: []LicenseInfo{info}, Problems: []string{}, Checked: now, features: map[string]struct{}{}}
	revs := st.verifiedRevocations(cfg, now)
	switch {
	case st.deactivated[id]:
		snap.State = StateInactive
		snap.Problems = append(snap.Problems, "the active licence was deactivated; import a new response")
	case revs != nil && revs.Contains(id):
		snap.State = StateRevoked
		snap.Problems = append(snap.Problems, fmt.Sprintf("licence %s was revoked by the vendor (list %d); contact your vendor", id, revs.Serial))
	case resp.NotAfter != nil && !now.Before(resp.NotAfter.Time):
		snap.State = StateExpired
		snap.Problems = append(snap.Problems, fmt.Sprintf("licence expired at %s; ask your vendor for a renewal", resp.NotAfter))
	case resp.NotAfter != nil && setBack > 0:
		snap.State = StateSuspended
		snap.Problems = append(snap.Problems, fmt.Sprintf("the system clock is %s behind the latest time this host has seen; set the clock right to resume the time-limited licence", setBack.Round(time.Minute)))
	case resp.NotBefore != nil && now.Before(resp.NotBefore.Time):
		snap.State = StateInactive
		snap.Problems = append(snap.Problems, fmt.Sprintf("licence is valid from %s", resp.NotBefore))
	}
	snap.Licenses[0].State = snap.State
	if snap.State == StateActive {
		snap.Features = sortedCopy(resp.Features)
		snap.Clients = resp.Limits.Clients
		for _, f := range resp.Features {
			snap.features[f] = struct{}{}
		}
	} else {
		snap.Features = []string{}
	}
	return snap
}

// checkStoredResponse re-verifies a stored response and its binding to
// this host; it returns a problem line when any check fails.
func checkStoredResponse(cfg *Config, st *storeState, raw []byte, now time.Time, host *HostFingerprint) (*format.Response, string) {
	a, err := format.Verify(raw, format.VerifyOptions{Keys: cfg.VendorKeys, Kinds: []format.Kind{format.KindResponse}, Now: now})
	if err != nil {
		return nil, "the stored licence does not verify (" + err.Error() + "); import the response again"
	}
	resp := a.Payload.(*format.Response)
	hk, err := st.hostPublic()
	if err != nil || hk == nil || hk.Fingerprint() != resp.HostKeyFingerprint {
		return nil, "the stored licence belongs to another host key; request a new licence on this host"
	}
	if err := checkBinding(cfg, resp, host); err != nil {
		return nil, err.Error()
	}
	return resp, ""
}

// checkBinding checks what a response says about the running product and
// this machine.
func checkBinding(cfg *Config, resp *format.Response, host *HostFingerprint) error {
	if resp.Product != cfg.Product {
		return refuse(ErrWrongProduct, fmt.Sprintf("the licence is for product %q, this is %q; import the response meant for this product", resp.Product, cfg.Product))
	}
	major, _ := format.MajorVersion(cfg.Version)
	if !resp.Licenses(major) {
		return refuse(ErrVersionNotLicensed, fmt.Sprintf("the licence covers major version(s) %s, this is %s; ask your vendor for a key for version %d",
			joinInts(resp.Versions), cfg.Version, major))
	}
	if m := MatchHost(resp.Fingerprint, host); !m.OK() {
		return refuseCause(format.ErrHostMismatch, m.Err(), fmt.Sprintf("the licence was issued for another machine (%d of %d identifiers match, %d needed); create the request on this host",
			m.Matched, m.Total, m.Needed))
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// recordTime keeps the highest time seen current when it lags the clock by
// more than every, so that a clock wound back is noticed even on a host
// that only reads (status, the running product). It reports false when a
// record was due but could not be written (a read-only store).
func recordTime(d *kv.DB, st *storeState, now time.Time, every time.Duration) bool {
	if now.Sub(st.maxTime) < every {
		return true
	}
	if d.Update(func(txn *badger.Txn) error { return setMaxTime(txn, st, now) }) != nil {
		return false
	}
	st.maxTime = now
	return true
}

// writeTimeSeen opens the store for writing just long enough to record now
// as the highest time seen, if it is later. Failures are ignored: the
// record only helps later checks.
func writeTimeSeen(cfg *Config, now time.Time, wait time.Duration) {
	d, err := kv.Open(cfg.Dir, false, wait, cfg.logger(), cfg.command())
	if err != nil {
		return
	}
	defer d.Close()
	d.Update(func(txn *badger.Txn) error {
		v, err := get(txn, keyMaxTime)
		if err != nil {
			return err
		}
		var st storeState
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			st.maxTime = time.Unix(n, 0)
		}
		return setMaxTime(txn, &st, now)
	})
}
