package activator

import (
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/internal/fsaccess"
	"github.com/airlock-license/airlock/internal/kv"
)

// ReadStatus evaluates the store at cfg.Dir as `activator status` does,
// re-verifying everything, without holding it open: from its read view
// when that is current (readview.go), else from Badger, opened read-only
// and shared with other readers. It records the time it was checked at in
// the time file. A missing store is ErrNoStore; a damaged one
// ErrStoreDamaged. Most products want [Open], which keeps the result.
func ReadStatus(cfg Config) (*Snapshot, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	snap, st, err := readStore(&cfg, cfg.lockWait())
	if err != nil {
		return nil, err
	}
	recordTimeSeen(cfg.Dir, st, cfg.now(), time.Minute)
	return snap, nil
}

// readStore reads the light state of cfg's store and evaluates it for
// this host: from the read view when it is current and holds every record
// the evaluation asks for, else from Badger (waiting at most wait for a
// writer). Reading Badger while no writer is in session leaves a new read
// view behind, so that the next reader need not.
func readStore(cfg *Config, wait time.Duration) (*Snapshot, *storeState, error) {
	host := cfg.host()
	if v, ok := readView(cfg.Dir); ok {
		r := viewRecords{v}
		if st, err := loadState(r, cfg.Dir, false); err == nil {
			done := st.withFetch(r)
			snap := evaluate(cfg, st, host)
			done()
			if st.fetchErr == nil {
				return snap, st, nil
			}
		}
	}
	session := kv.TrySession(cfg.Dir)
	if session != nil {
		defer session()
	}
	d, err := kv.OpenReadOnly(cfg.Dir, wait, cfg.logger(), cfg.command())
	if err != nil {
		return nil, nil, fsaccess.Explain(cfg.Dir, false, err)
	}
	var st *storeState
	var snap *Snapshot
	var view *viewData
	err = d.View(func(txn *badger.Txn) error {
		var err error
		if st, err = loadState(txnRecords{txn}, cfg.Dir, false); err != nil {
			return err
		}
		done := st.withFetch(txnRecords{txn})
		snap = evaluate(cfg, st, host)
		done()
		if err := st.damaged(cfg.Dir); err != nil {
			return err
		}
		if session != nil {
			view, _ = captureView(txn, cfg.Dir)
		}
		return nil
	})
	cerr := d.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read %s: %v", ErrStoreDamaged, cfg.Dir, err)
	}
	if cerr == nil && view != nil {
		writeView(cfg.Dir, view) // best effort: a reader may not write here
	}
	return snap, st, nil
}
