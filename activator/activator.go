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

// trustedTime is the later of the wall clock and the highest time the
// store has seen, and whether the clock is set back past the tolerance.
func trustedTime(cfg *Config, st *storeState) (now time.Time, setBack time.Duration) {
	st.applyTimeFixes(cfg)
	wall := cfg.now()
	if st.maxTime.After(wall) {
		if d := st.maxTime.Sub(wall); d > cfg.tolerance() {
			setBack = d
		}
		return st.maxTime, setBack
	}
	return wall, 0
}

// evaluate decides the licence state from the store's contents, trusting
// nothing that does not verify now under cfg.VendorKeys: each check that
// fails locks the licence and says why in Problems.
func evaluate(cfg *Config, st *storeState, host *HostFingerprint) *Snapshot {
	now, setBack := trustedTime(cfg, st)
	v := newView(cfg, st, now)
	l := v.active()
	if l == nil {
		if n := v.ignored(); n > 0 {
			return inactive(now, fmt.Sprintf("%d stored licence(s) do not verify with this product's vendor keys (damaged or altered, or signed by another key) and are ignored; request a new licence (activator request) if this host should be licensed", n))
		}
		return inactive(now)
	}
	resp := l.resp
	if problem := checkStored(cfg, st, resp, host); problem != "" {
		return inactive(now, problem)
	}
	info := licenseInfo(resp, StateActive)
	snap := &Snapshot{State: StateActive, Licenses: []LicenseInfo{info}, Problems: []string{}, Checked: now, features: map[string]struct{}{}}
	revoked, _ := v.revocations()
	switch serial, isRevoked := revoked[l.id]; {
	case isRevoked:
		snap.State = StateRevoked
		snap.Problems = append(snap.Problems, fmt.Sprintf("licence %s was revoked by the vendor (list %d); contact your vendor", l.id, serial))
	case resp.NotAfter != nil && !now.Before(resp.NotAfter.Time):
		snap.State = StateExpired
		snap.Problems = append(snap.Problems, fmt.Sprintf("licence expired at %s%s; ask your vendor for a renewal", resp.NotAfter, aheadNote(cfg, st, now)))
	case resp.NotAfter != nil && setBack > 0:
		snap.State = StateSuspended
		snap.Problems = append(snap.Problems, fmt.Sprintf("this host's clock is %s behind the latest time it has seen (%s); set the clock right to resume the time-limited licence. If the clock is right, it was once set ahead: request a new licence, whose import brings the latest time seen back to the vendor's time",
			setBack.Round(time.Minute), st.maxTime.Format(time.RFC3339)))
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

// checkStored checks the binding of a verified stored licence to this
// store's host key and this machine; it returns a problem line when one
// fails.
func checkStored(cfg *Config, st *storeState, resp *format.Response, host *HostFingerprint) string {
	hk, err := st.hostPublic()
	switch {
	case err != nil:
		return err.Error()
	case hk == nil:
		return "store damaged: the store holds a licence but no host key (damaged or altered); move the store directory aside (keep it for support) and run activator request, which starts a new store"
	case hk.Fingerprint() != resp.HostKeyFingerprint:
		return "the stored licence belongs to another host key; request a new licence on this host"
	}
	if err := checkBinding(cfg, resp, host); err != nil {
		return err.Error()
	}
	return ""
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
// that only reads (status, the running product): in Badger for a store
// open for writing, in the time file otherwise.
func recordTime(d *kv.DB, st *storeState, now time.Time, every time.Duration) {
	if d.ReadOnly() {
		recordTimeSeen(d.Dir, st, now, every)
		return
	}
	if now.Sub(st.maxTime) < every {
		return
	}
	if d.Update(func(txn *badger.Txn) error { return setMaxTime(txn, st, now) }) == nil {
		st.maxTime = now
	}
}
