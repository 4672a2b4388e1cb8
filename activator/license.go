package activator

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airlock-license/airlock/internal/kv"
)

// DefaultPollInterval is how often a licensed product looks for a new
// licence in the store.
const DefaultPollInterval = 2 * time.Second

// reloadLockWait bounds how long a reload waits for a writer; the next
// poll tries again.
const reloadLockWait = time.Second

// recheckEvery forces a full re-evaluation even without a change in the
// store, so that expiry and clock changes take effect.
const recheckEvery = time.Minute

// License is a licensed product's view of its licence: an immutable
// snapshot held in memory and swapped atomically when the store changes.
// It does not keep the store open: it opens it to load, verifies, and
// closes, so that `activator import` works while the product runs.
//
//	lic, err := activator.Open(activator.Config{Dir: dir, VendorKeys: keys, Product: "astera", Version: "9.1.0"})
//	defer lic.Close()
//	if lic.Enabled("workflow") { ... }
type License struct {
	cfg  Config
	snap atomic.Pointer[Snapshot]

	mu    sync.Mutex // guards hooks
	hooks []func(old, new *Snapshot)
	seats Seats

	reload    sync.Mutex // serialises reloads; guards the fields below
	lastGen   uint64
	lastFull  time.Time
	lastState *storeState // what the store held at the last successful read

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Open loads and verifies the licence for cfg.Product from the store and
// starts watching the store for changes. A missing or unreadable store is
// not an error: the product runs unlicensed and Snapshot().Problems says
// why. Open fails only when cfg itself is wrong.
func Open(cfg Config) (*License, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	l := &License{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	l.seats.lic = l
	l.reload.Lock()
	snap, err := l.load(cfg.lockWait())
	l.reload.Unlock()
	if err != nil {
		// Unlicensed until the store can be read; the watcher retries.
		snap = inactive(cfg.now(), err.Error())
	}
	l.snap.Store(snap)
	go l.watch()
	return l, nil
}

// load reads the store once and evaluates it. An error means the store
// could not be read this time (held by a writer, being replaced). Callers
// hold l.reload.
func (l *License) load(wait time.Duration) (*Snapshot, error) {
	now := l.cfg.now()
	gen := kv.Generation(l.cfg.Dir)
	snap, st, err := readStore(&l.cfg, wait)
	if errors.Is(err, ErrNoStore) {
		l.lastGen, l.lastFull, l.lastState = gen, now, nil
		return inactive(now, fmt.Sprintf("no licence store at %s; run activator request, then import the vendor's response", l.cfg.Dir)), nil
	}
	if errors.Is(err, ErrStoreDamaged) {
		return nil, fmt.Errorf("the licence store %s cannot be read (%v); move it aside (keep it for diagnosis), then restore your backup (activator restore) or ask support", l.cfg.Dir, err)
	}
	if err != nil {
		return nil, err
	}
	recordTimeSeen(l.cfg.Dir, st, now, time.Minute)
	l.lastGen, l.lastFull, l.lastState = gen, now, st
	return snap, nil
}

func (l *License) watch() {
	defer close(l.done)
	interval := DefaultPollInterval
	if l.cfg.PollInterval > 0 {
		interval = l.cfg.PollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.reload.Lock()
			since := l.cfg.now().Sub(l.lastFull)
			due := kv.Generation(l.cfg.Dir) != l.lastGen || since < 0 || since >= recheckEvery
			l.reload.Unlock()
			if due {
				l.Reload()
			}
		}
	}
}

// Reload re-reads the store now and swaps the snapshot if it changed,
// calling the OnChange hooks. The watcher calls it when the store changes
// and every minute; products may call it too (on SIGHUP, say). When the
// store cannot be read, the last state read is judged again at the current
// time, so that expiry and a clock set back still take effect.
func (l *License) Reload() {
	l.reload.Lock()
	next, err := l.load(reloadLockWait)
	if err != nil {
		l.cfg.logger().Warn("licence reload failed; judging the last state read again", "err", err)
		if l.lastState == nil {
			l.reload.Unlock()
			return
		}
		next = evaluate(&l.cfg, l.lastState, l.cfg.host())
	}
	old := l.snap.Swap(next)
	l.reload.Unlock()
	if sameLicence(old, next) {
		return
	}
	l.mu.Lock()
	hooks := slices.Clone(l.hooks)
	l.mu.Unlock()
	// Outside every lock: a hook may call Snapshot, OnChange or Reload
	// (but not Close, which waits for the watcher that runs the hooks).
	for _, h := range hooks {
		h(old, next)
	}
}

func sameLicence(a, b *Snapshot) bool {
	if a.State != b.State || a.Clients != b.Clients || !slices.Equal(a.Features, b.Features) || len(a.Licenses) != len(b.Licenses) {
		return false
	}
	for i := range a.Licenses {
		if a.Licenses[i].LicenseID != b.Licenses[i].LicenseID {
			return false
		}
	}
	return true
}

// Enabled reports whether feature is licensed now. It takes no lock and
// allocates nothing.
func (l *License) Enabled(feature string) bool { return l.snap.Load().Enabled(feature) }

// Snapshot returns the current licence state.
func (l *License) Snapshot() *Snapshot { return l.snap.Load() }

// OnChange registers fn to be called, from the watcher's goroutine (or the
// goroutine that called Reload), after a new licence state takes effect: a new licence, an upgrade, expiry,
// revocation. Products disconnect their clients there so that the new
// licence applies to every connection.
func (l *License) OnChange(fn func(old, new *Snapshot)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hooks = append(l.hooks, fn)
}

// Seats returns the client seat counter limited by the licence.
func (l *License) Seats() *Seats { return &l.seats }

// Close stops watching the store. It must not be called from an OnChange
// hook.
func (l *License) Close() error {
	l.closeOnce.Do(func() { close(l.stop) })
	<-l.done
	l.seats.close()
	return nil
}
