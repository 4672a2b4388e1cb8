package activator

import (
	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/internal/kv"
)

// records is what reading a store's state (loadState, and evaluating it
// with withFetch) asks of the store: Badger's transaction (txnRecords), or
// the read view that writers leave for readers (readview.go).
type records interface {
	// get returns key's value and its version, nil and 0 when absent.
	get(key string) (value []byte, version uint64, err error)
	// scan calls fn for every key under prefix, in key order.
	scan(prefix string, fn func(key string, val []byte) error) error
	// scanKeys is scan without the values.
	scanKeys(prefix string, fn func(key string) error) error
}

// txnRecords reads a Badger transaction.
type txnRecords struct{ txn *badger.Txn }

func (t txnRecords) get(key string) ([]byte, uint64, error) { return getVersion(t.txn, key) }

func (t txnRecords) scan(prefix string, fn func(key string, val []byte) error) error {
	return kv.Scan(t.txn, prefix, fn)
}

func (t txnRecords) scanKeys(prefix string, fn func(key string) error) error {
	return kv.ScanKeys(t.txn, prefix, fn)
}
