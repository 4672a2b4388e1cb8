package activator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/internal/kv"
)

// The store's lock and space errors (see package internal/kv).
type LockedError = kv.LockedError

// DefaultLockWait is how long a writer waits for another process to release
// the store before saying who holds it.
const DefaultLockWait = kv.DefaultLockWait

var (
	get  = kv.Get
	scan = kv.Scan
)

// The store is one Badger directory holding a few kilobytes. Its keys:
//
//	hostkey                 the host's secret key (armored, unencrypted: the
//	                        directory's mode 0700 is its protection)
//	pending/<request_id>    a request this store signed, as signed (binary)
//	response/<license_id>   every imported response, exactly as signed
//	active/<product>        the license_id of the active licence
//	deactivated/<license_id> the time it was deactivated
//	revocations             the newest revocation list, as signed
//	maxtime                 the highest time seen, Unix seconds (decimal)
//	audit/<unix nanos>      one JSON line per import, refusal, deactivation
//	reqseq, reqorder/<id>   the order of requests made within one second
//
// None of it is trusted: every load re-verifies the signed artifacts.
const (
	keyHostKey     = "hostkey"
	prefixPending  = "pending/"
	prefixResponse = "response/"
	prefixActive   = "active/"
	prefixDeact    = "deactivated/"
	keyRevocations = "revocations"
	keyMaxTime     = "maxtime"
	prefixAudit    = "audit/"

	keyRequestSeq      = "reqseq"    // the number of the last request made
	prefixRequestOrder = "reqorder/" // reqorder/<request_id>: its number
)

// auditEntry is one line of the store's audit log.
type auditEntry struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"` // request, import, refused, deactivate, revocations
	License string    `json:"license_id,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// audit appends an entry. Keys sort by the wall clock (not the trusted
// time, which stands still while the clock is behind), with a random
// suffix so that entries of the same instant do not overwrite each other.
func audit(txn *badger.Txn, e auditEntry) error {
	b, _ := json.Marshal(e)
	var r [4]byte
	rand.Read(r[:])
	return txn.Set([]byte(fmt.Sprintf("%s%020d-%x", prefixAudit, time.Now().UnixNano(), r)), b)
}
