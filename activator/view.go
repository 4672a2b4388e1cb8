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
}

type importEntry struct {
	id  format.ID
	rec importRecord
}

// loadState reads the store. Evaluating the licence needs only the
// licences that may still be in force; full also reads every request and
// every response, as an import does, so that a long history does not slow
// a product's start.
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
	// An import record that does not parse is left out: its licence is
	// then not imported here (locked).
	scans := []struct {
		prefix string
		fn     func(k string, v []byte)
	}{
		{prefixImported, func(k string, v []byte) {
			var r importRecord
			if json.Unmarshal(v, &r) == nil {
				st.imports = append(st.imports, importEntry{format.ID(k), r})
			}
		}},
		{prefixReplaced, func(k string, v []byte) { st.replaced[format.ID(k)] = format.ID(v) }},
		// A deactivation record that does not parse still ends its
		// licence (records can only end licences), but no request.
		{prefixDeact, func(k string, v []byte) {
			r := new(deactRecord)
			if json.Unmarshal(v, r) != nil {
				r = &deactRecord{}
			}
			st.deactivated[format.ID(k)] = r
		}},
		{prefixRevocations, func(k string, v []byte) { st.revocations[k] = v }},
	}
	if full {
		scans = append(scans,
			struct {
				prefix string
				fn     func(k string, v []byte)
			}{prefixRequest, func(k string, v []byte) { st.requests[format.ID(k)] = v }},
			struct {
				prefix string
				fn     func(k string, v []byte)
			}{prefixRequestOrder, func(k string, v []byte) {
				if n, err := strconv.ParseUint(string(v), 10, 64); err == nil {
					st.reqOrder[format.ID(k)] = n
				}
			}})
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
	slices.SortFunc(st.imports, func(a, b importEntry) int {
		if a.rec.Seq != b.rec.Seq {
			return cmpUint(a.rec.Seq, b.rec.Seq)
		}
		return strings.Compare(string(a.id), string(b.id))
	})
	// A light state reads the responses that may be in force (imports not
	// deactivated) and those that replaced them (deactivated or not: a
	// replacement ends a licence only if the replacing licence verifies).
	need := map[format.ID]bool{}
	for _, im := range st.imports {
		if full || st.deactivated[im.id] == nil {
			need[im.id] = true
			if by, ok := st.replaced[im.id]; ok {
				need[by] = true
			}
		}
	}
	for id := range need {
		v, err := get(txn, prefixResponse+string(id))
		if err != nil {
			return nil, err
		}
		if v != nil {
			st.responses[id] = v
		}
	}
	return st, nil
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
	if raw := v.st.responses[id]; raw != nil {
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
			return im.rec.Seq
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
	for i := len(v.st.imports) - 1; i >= 0; i-- {
		id := v.st.imports[i].id
		if v.st.deactivated[id] != nil {
			continue
		}
		if l := v.verified(id); l != nil && !v.ended(id) {
			return l
		}
	}
	return nil
}

// ignored counts the imports, neither deactivated nor replaced, whose
// response does not verify here (or is another product's).
func (v *view) ignored() int {
	n := 0
	for _, im := range v.st.imports {
		if v.st.deactivated[im.id] == nil && v.st.replaced[im.id] == "" && v.verified(im.id) == nil {
			if u, err := format.DecodeUnverified(v.st.responses[im.id]); err == nil {
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
