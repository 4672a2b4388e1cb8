package activator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// storeState is everything read from the store, not yet trusted.
type storeState struct {
	hostKey []byte
	// requests, reqOrder and reqSeq are read only for a full state (an
	// import, a request, a deactivation).
	requests map[format.ID][]byte // every request this store signed, as signed
	reqOrder map[format.ID]uint64
	reqSeq   uint64
	// imports are the import records, oldest first; responses holds their
	// responses (a light state leaves out the deactivated ones).
	imports     []importEntry
	responses   map[format.ID][]byte
	replaced    map[format.ID]format.ID
	deactivated map[format.ID]*deactRecord
	revocations map[string][]byte // revocations/<signer> -> list as signed
	maxTime     time.Time
	// maxTimeSeq is the number of the last request made when maxTime was
	// raised: a response to a later request can bring maxTime back down
	// (Store.correctedTime); lowerTo is that time, once decided.
	maxTimeSeq uint64
	lowerTo    time.Time
	full       bool
	// fetch reads a response that a light state did not (while its
	// transaction is open; nil after): evaluating usually needs one. A
	// light state holds only the newest imports (partial); more reads the
	// rest, while the transaction is open.
	fetch   func(format.ID) []byte
	partial bool
	more    func() error
}

// response returns the stored response of licence id, reading it if the
// state is light and its transaction still open.
func (st *storeState) response(id format.ID) []byte {
	if b, ok := st.responses[id]; ok || st.fetch == nil {
		return b
	}
	b := st.fetch(id)
	st.responses[id] = b
	return b
}

// withFetch lets st read responses through txn until the returned
// function is called.
func (st *storeState) withFetch(txn *badger.Txn) func() {
	st.fetch = func(id format.ID) []byte {
		b, _ := get(txn, prefixResponse+string(id))
		return b
	}
	st.more = func() error { return loadHistory(txn, st, false) }
	return func() { st.fetch, st.more = nil, nil }
}

type importEntry struct {
	id  format.ID
	seq uint64 // the import's number
}

// loadState reads the store. Evaluating the licence needs only the order
// of imports, which ended and how, and the responses that may be in force,
// read on demand (storeState.withFetch); full also reads every request,
// every response and every deactivation record, as an import does, so
// that a long history does not slow a product's start.
func loadState(txn *badger.Txn, full bool) (*storeState, error) {
	st := &storeState{
		requests: map[format.ID][]byte{}, reqOrder: map[format.ID]uint64{}, responses: map[format.ID][]byte{},
		replaced: map[format.ID]format.ID{}, deactivated: map[format.ID]*deactRecord{}, revocations: map[string][]byte{}, full: full,
	}
	var err error
	if st.hostKey, err = get(txn, keyHostKey); err != nil {
		return nil, err
	}
	if v, err := get(txn, keyMaxTime); err != nil {
		return nil, err
	} else if v != nil {
		st.maxTime, st.maxTimeSeq = parseMaxTime(v)
	}
	if v, err := get(txn, keyRequestSeq); err != nil {
		return nil, err
	} else {
		st.reqSeq, _ = strconv.ParseUint(string(v), 10, 64)
	}
	err = scan(txn, prefixRevocations, func(k string, v []byte) error {
		st.revocations[strings.TrimPrefix(k, prefixRevocations)] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !full {
		return st, loadRecent(txn, st)
	}
	if err := loadHistory(txn, st, true); err != nil {
		return nil, err
	}
	err = scan(txn, prefixRequest, func(k string, v []byte) error {
		st.requests[format.ID(strings.TrimPrefix(k, prefixRequest))] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = scan(txn, prefixRequestOrder, func(k string, v []byte) error {
		if n, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			st.reqOrder[format.ID(strings.TrimPrefix(k, prefixRequestOrder))] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, im := range st.imports {
		v, err := get(txn, prefixResponse+string(im.id))
		if err != nil {
			return nil, err
		}
		if v != nil {
			st.responses[im.id] = v
		}
	}
	return st, nil
}

// importKey is the import record imported/<number>/<license_id>: keys sort
// by the import's number, so the newest imports are read first.
func importKey(seq uint64, id format.ID) string {
	return fmt.Sprintf("%s%020d/%s", prefixImported, seq, id)
}

func parseImportKey(k string) (importEntry, bool) {
	seq, id, ok := strings.Cut(strings.TrimPrefix(k, prefixImported), "/")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || !format.ID(id).Valid() {
		return importEntry{}, false // not a record: its licence is not imported here (locked)
	}
	return importEntry{format.ID(id), n}, true
}

// loadHistory reads every import record, replacement and deactivation;
// withValues also the deactivation records' contents (the requests each
// ended, its receipt), which only an import or a receipt needs.
func loadHistory(txn *badger.Txn, st *storeState, withValues bool) error {
	st.imports, st.partial = nil, false
	err := kv.ScanKeys(txn, prefixImported, func(k string) error {
		if im, ok := parseImportKey(k); ok {
			st.imports = append(st.imports, im)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = scan(txn, prefixReplaced, func(k string, v []byte) error {
		st.replaced[format.ID(strings.TrimPrefix(k, prefixReplaced))] = format.ID(v)
		return nil
	})
	if err != nil {
		return err
	}
	if withValues {
		// A deactivation record that does not parse still ends its
		// licence (records can only end licences), but no request.
		err = scan(txn, prefixDeact, func(k string, v []byte) error {
			r := new(deactRecord)
			if json.Unmarshal(v, r) != nil {
				r = &deactRecord{}
			}
			st.deactivated[format.ID(strings.TrimPrefix(k, prefixDeact))] = r
			return nil
		})
	} else {
		err = kv.ScanKeys(txn, prefixDeact, func(k string) error {
			st.deactivated[format.ID(strings.TrimPrefix(k, prefixDeact))] = &deactRecord{}
			return nil
		})
	}
	if err != nil {
		return err
	}
	slices.SortFunc(st.imports, func(a, b importEntry) int {
		if a.seq != b.seq {
			return cmpUint(a.seq, b.seq)
		}
		return strings.Compare(string(a.id), string(b.id))
	})
	return nil
}

// loadRecent reads the newest import records, down to the first one that
// no deactivation or replacement ended: usually the licence in force,
// first of all. So a product's start does not grow with the history. If
// that one turns out not to verify, view.active reads the rest (st.more).
func loadRecent(txn *badger.Txn, st *storeState) error {
	opts := badger.DefaultIteratorOptions
	opts.Reverse, opts.PrefetchValues, opts.Prefix = true, false, []byte(prefixImported)
	it := txn.NewIterator(opts)
	defer it.Close()
	st.partial = false
	var newest []importEntry
	for it.Seek([]byte(prefixImported + "\xff")); it.Valid(); it.Next() {
		im, ok := parseImportKey(string(it.Item().Key()))
		if !ok {
			continue
		}
		newest = append(newest, im)
		deact, err := get(txn, prefixDeact+string(im.id))
		if err != nil {
			return err
		}
		by, err := get(txn, prefixReplaced+string(im.id))
		if err != nil {
			return err
		}
		if deact != nil {
			st.deactivated[im.id] = &deactRecord{}
		}
		if by != nil {
			st.replaced[im.id] = format.ID(by)
		}
		if deact == nil && by == nil {
			st.partial = true
			break
		}
	}
	slices.Reverse(newest)
	st.imports = newest
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hostPublic parses the stored host key.
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

// view is the store as one set of vendor keys sees it. Only what verifies
// under cfg.VendorKeys counts: a licence signed by another key (imported by
// a development build given that key) is not there at all, and neither is
// anything it did: the licence it replaced stays in force, the requests its
// deactivation ended stay open, its revocation list revokes nothing.
// Records that are not signed (the order of imports, replacements,
// deactivations) can end a licence that verifies, never create one.
type view struct {
	cfg   *Config
	st    *storeState
	now   time.Time
	cache map[format.ID]*licence // nil: does not verify, or not this product's
}

// licence is an imported response that verifies in the view.
type licence struct {
	id   format.ID
	resp *format.Response
	art  *format.Artifact
	seq  uint64
}

func newView(cfg *Config, st *storeState, now time.Time) *view {
	return &view{cfg: cfg, st: st, now: now, cache: map[format.ID]*licence{}}
}

// verified returns the imported licence id if its response verifies under
// the view's keys and is for the view's product.
func (v *view) verified(id format.ID) *licence {
	if l, ok := v.cache[id]; ok {
		return l
	}
	var l *licence
	if raw := v.st.response(id); raw != nil {
		a, err := format.Verify(raw, format.VerifyOptions{Keys: v.cfg.VendorKeys, Kinds: []format.Kind{format.KindResponse}, Now: v.now})
		if err == nil {
			if r := a.Payload.(*format.Response); r.LicenseID == id && r.Product == v.cfg.Product {
				l = &licence{id: id, resp: r, art: a, seq: v.seqOf(id)}
			}
		}
	}
	v.cache[id] = l
	return l
}

func (v *view) seqOf(id format.ID) uint64 {
	for _, im := range v.st.imports {
		if im.id == id {
			return im.seq
		}
	}
	return 0
}

// replacedBy returns the verified licence that replaced id, or nil.
func (v *view) replacedBy(id format.ID) *licence {
	if by, ok := v.st.replaced[id]; ok {
		return v.verified(by)
	}
	return nil
}

// ended reports whether licence id is out of force for good: deactivated,
// or replaced by a licence that verifies here.
func (v *view) ended(id format.ID) bool {
	return v.st.deactivated[id] != nil || v.replacedBy(id) != nil
}

// active returns the licence in force: the newest import that verifies and
// has not ended. It may still be locked (another machine, expired,
// revoked): evaluate decides that. Usually the newest import is the one,
// so this verifies one response.
func (v *view) active() *licence {
	for {
		for i := len(v.st.imports) - 1; i >= 0; i-- {
			id := v.st.imports[i].id
			if v.st.deactivated[id] != nil {
				continue
			}
			if l := v.verified(id); l != nil && !v.ended(id) {
				return l
			}
		}
		if !v.st.partial || v.st.more == nil || v.st.more() != nil {
			return nil
		}
	}
}

// ignored counts the imports, neither deactivated nor replaced, whose
// response does not verify here (or is another product's).
func (v *view) ignored() int {
	n := 0
	for _, im := range v.st.imports {
		if v.st.deactivated[im.id] == nil && v.st.replaced[im.id] == "" && v.verified(im.id) == nil {
			if u, err := format.DecodeUnverified(v.st.response(im.id)); err == nil {
				if r, ok := u.Payload.(*format.Response); ok && r.Product != v.cfg.Product {
					continue // another product's licence, not this one's concern
				}
			}
			n++
		}
	}
	return n
}

// answering returns a verified imported licence that answers request rid
// (full state only).
func (v *view) answering(rid format.ID) *licence {
	for _, im := range v.st.imports {
		raw := v.st.responses[im.id]
		if raw == nil {
			continue
		}
		u, err := format.DecodeUnverified(raw)
		if err != nil {
			continue
		}
		if r, ok := u.Payload.(*format.Response); ok && r.RequestID == rid {
			if l := v.verified(im.id); l != nil {
				return l
			}
		}
	}
	return nil
}

// endedBy returns the deactivation that ended request number seq: the
// first deactivation, of a licence that verifies here, made after it
// (full state only).
func (v *view) endedBy(seq uint64) (format.ID, *deactRecord) {
	var id format.ID
	var rec *deactRecord
	for did, d := range v.st.deactivated {
		if d.RequestSeq >= seq && v.verified(did) != nil && (rec == nil || d.Time.Before(rec.Time)) {
			id, rec = did, d
		}
	}
	return id, rec
}

// revocations returns the union of the stored revocation lists that
// verify here, and the highest serial among them (0 without a list).
func (v *view) revocations() (revoked map[format.ID]uint64, serial uint64) {
	revoked = map[format.ID]uint64{}
	for _, raw := range v.st.revocations {
		a, err := format.Verify(raw, format.VerifyOptions{Keys: v.cfg.VendorKeys, Kinds: []format.Kind{format.KindRevocations}, Now: v.now})
		if err != nil {
			continue
		}
		list := a.Payload.(*format.Revocations)
		serial = max(serial, list.Serial)
		for _, id := range list.Revoked {
			if s, ok := revoked[id]; !ok || list.Serial < s {
				revoked[id] = list.Serial
			}
		}
	}
	return revoked, serial
}

// heldRevocations returns the stored list, as signed, that verifies here
// and has the highest serial.
func (v *view) heldRevocations() (raw []byte, serial uint64) {
	for _, b := range v.st.revocations {
		a, err := format.Verify(b, format.VerifyOptions{Keys: v.cfg.VendorKeys, Kinds: []format.Kind{format.KindRevocations}, Now: v.now})
		if err != nil {
			continue
		}
		if s := a.Payload.(*format.Revocations).Serial; raw == nil || s > serial {
			raw, serial = b, s
		}
	}
	return raw, serial
}
