package activator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
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

// The store is one Badger directory holding a few kilobytes. It is a log
// of what happened on this host, not a set of decisions: which licence is
// active, which requests are still open and which licences are revoked
// are worked out at every load from the signed artifacts that verify under
// the vendor keys of whoever reads it (see view.go). So a tool given
// another key can add artifacts that only it believes in, and they neither
// displace, hide nor block what the product's own keys verify. Its keys:
//
//	hostkey                  the host's secret key (armored, unencrypted: the
//	                         directory's mode 0700 is its protection)
//	request/<request_id>     every request this store signed, as signed
//	reqseq, reqorder/<id>    the number of the last request; each request's number
//	response/<license_id>    every imported response, exactly as signed
//	imported/<n>/<license_id> that licence was import number n (20 digits):
//	                         later imports are newer, and the newest that
//	                         verifies replaces every older one
//	importseq                the number of the last import
//	timefix/<license_id>     the highest time seen (Unix seconds) before that
//	                         licence's import brought it back down
//	deactivated/<license_id> its deactivation (deactRecord, JSON): the
//	                         receipt, and the requests it ended
//	revocations/<signer>     the newest revocation list of each signing key
//	maxtime                  the highest time seen, Unix seconds (decimal)
//	audit/<unix nanos>       one JSON line per request, import, deactivation
//	                         (a refusal writes nothing); the newest maxAudit only
//
// None of it is trusted: every load re-verifies the signed artifacts, and
// the records beside them (order, deactivation) can only end a licence,
// never make one; a correction of the time counts only where the licence
// that vouched for it verifies.
const (
	keyHostKey         = "hostkey"
	prefixRequest      = "request/"
	keyRequestSeq      = "reqseq"
	prefixRequestOrder = "reqorder/"
	prefixResponse     = "response/"
	prefixImported     = "imported/"
	keyImportSeq       = "importseq"
	prefixTimeFix      = "timefix/"
	prefixDeact        = "deactivated/"
	prefixRevocations  = "revocations/"
	keyMaxTime         = "maxtime"
	prefixAudit        = "audit/"
)

// deactRecord is the value of deactivated/<license_id>.
type deactRecord struct {
	// Receipt is the deactivation receipt as written out (armored).
	Receipt []byte `json:"receipt"`
	// RequestSeq is the number of the last request made before the
	// deactivation: every request up to it is ended, so that no response
	// to a request made before a deactivation ever imports.
	RequestSeq uint64    `json:"request_seq"`
	Time       time.Time `json:"time"`
	// Replaced is set when the licence had been replaced before its
	// receipt was written (activator receipt of a replaced licence).
	Replaced bool `json:"replaced,omitempty"`
}

// auditEntry is one line of the store's audit log.
type auditEntry struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"` // request, import, deactivate, receipt, revocations ("refused" in older stores)
	License string    `json:"license_id,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// Repeats counts the same event seen again after Time (the same
	// refusal, retried by a script), the last at Last.
	Repeats int        `json:"repeats,omitempty"`
	Last    *time.Time `json:"last,omitempty"`
}

// maxAudit bounds the audit log: a host that refuses an import every
// minute for years must not grow its store without bound (issue 12). The
// oldest entries go first; the log is for diagnosis, and nothing is
// decided from it.
const maxAudit = 256

// audit appends an entry, and drops the oldest beyond maxAudit. Keys sort
// by the wall clock (not the trusted time, which stands still while the
// clock is behind), with a random suffix so that entries of the same
// instant do not overwrite each other. An entry that repeats the newest
// one (the same refusal, retried) is counted in it instead.
func audit(txn *badger.Txn, e auditEntry) error {
	// One pass, newest first: the newest entry (a repeat is counted in
	// it), then everything beyond maxAudit.
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixAudit), Reverse: true})
	var old [][]byte
	n := 0
	for it.Seek([]byte(prefixAudit + "\xff")); it.Valid(); it.Next() {
		n++
		if n == 1 {
			var last auditEntry
			v, err := it.Item().ValueCopy(nil)
			if err == nil && json.Unmarshal(v, &last) == nil && last.Event == e.Event && last.License == e.License && last.Detail == e.Detail {
				last.Repeats++
				t := e.Time
				last.Last = &t
				key := it.Item().KeyCopy(nil)
				it.Close()
				b, _ := json.Marshal(last)
				return txn.Set(key, b)
			}
		}
		if n >= maxAudit { // the new entry takes one place
			old = append(old, it.Item().KeyCopy(nil))
		}
	}
	it.Close()
	for _, k := range old {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(e)
	var r [4]byte
	rand.Read(r[:])
	return txn.Set([]byte(fmt.Sprintf("%s%020d-%x", prefixAudit, time.Now().UnixNano(), r)), b)
}

// nextSeq increments the counter at key and returns its new value.
func nextSeq(txn *badger.Txn, key string) (uint64, error) {
	v, err := get(txn, key)
	if err != nil {
		return 0, err
	}
	n, _ := strconv.ParseUint(string(v), 10, 64)
	n++
	return n, txn.Set([]byte(key), []byte(strconv.FormatUint(n, 10)))
}

func setJSON(txn *badger.Txn, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set([]byte(key), b)
}

// revocationsKey is where the newest list signed by key k is kept.
func revocationsKey(k format.KeyFingerprint) string { return prefixRevocations + string(k) }
