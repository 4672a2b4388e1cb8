package activator

import (
	"encoding/json"
	"errors"
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
	// requests and reqOrder are read only for a full state (an import, a
	// request, a deactivation, a receipt).
	requests map[format.ID][]byte // every request this store signed, as signed
	reqOrder map[format.ID]uint64
	reqSeq   uint64
	// imports are the import records, oldest first. responses and
	// deactivated hold what was read of those licences: everything for a
	// full state; for a light one, what evaluating asked for, read on
	// demand while its transaction is open (withFetch).
	imports     []importEntry
	responses   map[format.ID][]byte
	deactivated map[format.ID]*deactRecord // nil value: known not deactivated (light)
	revocations map[string][]byte          // revocations/<signer> -> list as signed
	// timeFixes are the corrections of the highest time seen, by the
	// licence that vouched for each (see Store.correctedTime).
	timeFixes map[format.ID]timeFix
	// maxTime is the highest time seen as stored; maxTimeSeq the number of
	// the last request made when it was raised (a response to a later
	// request may bring it back down); lowerTo is that time, once an
	// import decided it.
	maxTime    time.Time
	rawMaxTime time.Time // maxTime as stored, before applyTimeFixes
	// maxTimeVersion is the Badger version of the maxtime key (0: none):
	// every write of it has a new one, which ends a time file written
	// before (see timeseen.go).
	maxTimeVersion uint64
	maxTimeSeq     uint64
	lowerTo        time.Time
	full           bool

	fetch      func(key string) ([]byte, error)
	fetchErr   error // a read on demand that failed: the store is damaged
	fixesTaken bool  // timeFixes applied to maxTime
}

type importEntry struct {
	id  format.ID
	seq uint64 // the import's number
}

// timeFix is the value of timefix/<license_id>: the highest time seen
// before that licence's import brought it back down.
type timeFix struct {
	from time.Time // the stored highest time seen before the import (raw)
	to   time.Time // what the import brought it down to (zero: legacy record)
}

// response returns the stored response of licence id, reading it on
// demand for a light state.
func (st *storeState) response(id format.ID) []byte {
	if b, ok := st.responses[id]; ok || st.full {
		return b
	}
	b := st.read(prefixResponse + string(id))
	st.responses[id] = b
	return b
}

// isDeactivated reports whether licence id was deactivated (or receipted).
func (st *storeState) isDeactivated(id format.ID) bool {
	if d, ok := st.deactivated[id]; ok || st.full {
		return d != nil
	}
	var d *deactRecord
	if b := st.read(prefixDeact + string(id)); b != nil {
		d = &deactRecord{}
	}
	st.deactivated[id] = d
	return d != nil
}

func (st *storeState) read(key string) []byte {
	if st.fetch == nil {
		return nil
	}
	b, err := st.fetch(key)
	if err != nil && st.fetchErr == nil {
		st.fetchErr = err
	}
	return b
}

// withFetch lets a light st read on demand through txn until the returned
// function is called.
func (st *storeState) withFetch(r records) func() {
	st.fetch = func(key string) ([]byte, error) {
		v, _, err := r.get(key)
		return v, err
	}
	return func() { st.fetch = nil }
}

// getVersion is get, with the version of the key's value (0 if absent).
func getVersion(txn *badger.Txn, key string) ([]byte, uint64, error) {
	item, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	v, err := item.ValueCopy(nil)
	return v, item.Version(), err
}

// loadState reads the store. Evaluating the licence needs the order of
// imports and, read on demand (withFetch), the newest licences' responses
// and whether they were deactivated; full also reads every request, every
// response and every deactivation record, as an import does, so that a
// long history does not slow a product's start.
func loadState(r records, dir string, full bool) (*storeState, error) {
	st := &storeState{
		requests: map[format.ID][]byte{}, reqOrder: map[format.ID]uint64{}, responses: map[format.ID][]byte{},
		deactivated: map[format.ID]*deactRecord{}, revocations: map[string][]byte{}, timeFixes: map[format.ID]timeFix{}, full: full,
	}
	var err error
	if st.hostKey, _, err = r.get(keyHostKey); err != nil {
		return nil, err
	}
	v, _, err := r.get(keyRequestSeq)
	if err != nil {
		return nil, err
	}
	st.reqSeq, _ = strconv.ParseUint(string(v), 10, 64)
	if v, version, err := r.get(keyMaxTime); err != nil {
		return nil, err
	} else if v != nil {
		st.maxTimeVersion = version
		var ok bool
		st.maxTime, st.maxTimeSeq, ok = parseMaxTime(v)
		if !ok {
			// Written before the request number was kept: no request is
			// known to be later than it.
			st.maxTimeSeq = st.reqSeq
		}
		st.rawMaxTime = st.maxTime
	}
	st.foldTimeSeen(dir)
	scans := []struct {
		prefix string
		fn     func(k string, v []byte)
	}{
		{prefixRevocations, func(k string, v []byte) { st.revocations[k] = v }},
		{prefixTimeFix, func(k string, v []byte) {
			a, b, _ := strings.Cut(string(v), " ")
			if n, err := strconv.ParseInt(a, 10, 64); err == nil {
				f := timeFix{from: time.Unix(n, 0).UTC()}
				if m, err := strconv.ParseInt(b, 10, 64); err == nil {
					f.to = time.Unix(m, 0).UTC()
				}
				st.timeFixes[format.ID(k)] = f
			}
		}},
	}
	if full {
		scans = append(scans, []struct {
			prefix string
			fn     func(k string, v []byte)
		}{
			{prefixRequest, func(k string, v []byte) { st.requests[format.ID(k)] = v }},
			{prefixRequestOrder, func(k string, v []byte) {
				if n, err := strconv.ParseUint(string(v), 10, 64); err == nil {
					st.reqOrder[format.ID(k)] = n
				}
			}},
			// A deactivation record that does not parse still ends its
			// licence (records can only end licences), but no request.
			{prefixDeact, func(k string, v []byte) {
				r := new(deactRecord)
				if json.Unmarshal(v, r) != nil {
					r = &deactRecord{}
				}
				st.deactivated[format.ID(k)] = r
			}},
		}...)
	}
	for _, s := range scans {
		err := r.scan(s.prefix, func(key string, val []byte) error {
			s.fn(strings.TrimPrefix(key, s.prefix), val)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// The import records are keys only: cheap to read however long the
	// history.
	err = r.scanKeys(prefixImported, func(k string) error {
		if im, ok := parseImportKey(k); ok {
			st.imports = append(st.imports, im)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(st.imports, func(a, b importEntry) int {
		if a.seq != b.seq {
			return cmpUint(a.seq, b.seq)
		}
		return strings.Compare(string(a.id), string(b.id))
	})
	if full {
		for _, im := range st.imports {
			v, _, err := r.get(prefixResponse + string(im.id))
			if err != nil {
				return nil, err
			}
			if v != nil {
				st.responses[im.id] = v
			}
		}
	}
	return st, nil
}

// importKey is the import record imported/<number>/<license_id>: keys sort
// by the import's number, written in 20 digits.
func importKey(seq uint64, id format.ID) string {
	return fmt.Sprintf("%s%020d/%s", prefixImported, seq, id)
}

func parseImportKey(k string) (importEntry, bool) {
	seq, id, ok := strings.Cut(strings.TrimPrefix(k, prefixImported), "/")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || len(seq) != 20 || err != nil || !format.ID(id).Valid() {
		return importEntry{}, false // not a record: its licence is not imported here (locked)
	}
	return importEntry{format.ID(id), n}, true
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
		return nil, refuseCause(ErrStoreDamaged, err, hostKeyDamaged+" ("+err.Error()+")")
	}
	return k, nil
}

// hostKeyDamaged is what to do when the host key no longer reads: no
// licence bound to it can be used, no request signed, and nothing the
// store holds brings it back. A new store (a new host key) can; the
// vendor's desk sees its request as a reinstall on this machine.
const hostKeyDamaged = "store damaged: this store's host key is damaged or altered, so the store can neither use its licences nor make requests; move the store directory aside (keep it for support) and run activator request, which starts a new store"

// applyTimeFixes makes st.maxTime the highest time seen as cfg's keys see
// it: a correction brought it down only if the licence that vouched for it
// verifies under those keys (a development build given another key cannot
// wind the product's time back); otherwise the time before it stands.
func (st *storeState) applyTimeFixes(cfg *Config) {
	if st.fixesTaken {
		return
	}
	st.fixesTaken = true
	// Replay the corrections in the order of their imports: before each,
	// the time seen here is at least the stored time it started from; a
	// correction vouched for here (its licence imported and verifying)
	// brings it to the vendor's time, one that is not leaves it.
	type step struct {
		id  format.ID
		seq uint64
		fix timeFix
	}
	var steps []step
	for id, fix := range st.timeFixes {
		seq, imported := uint64(0), false
		for _, im := range st.imports {
			if im.id == id {
				seq, imported = im.seq, true
			}
		}
		if !imported {
			// not imported here: vouches for nothing; its starting time stands
			if fix.from.After(st.maxTime) {
				st.maxTime = fix.from
			}
			continue
		}
		steps = append(steps, step{id, seq, fix})
	}
	slices.SortFunc(steps, func(a, b step) int { return cmpUint(a.seq, b.seq) })
	var e time.Time
	for _, s := range steps {
		before := s.fix.from
		if e.After(before) {
			before = e
		}
		e = before
		raw := st.response(s.id)
		if raw == nil {
			continue
		}
		at := cfg.now()
		for _, t := range []time.Time{st.rawMaxTime, s.fix.to} {
			if t.After(at) {
				at = t
			}
		}
		a, err := format.Verify(raw, format.VerifyOptions{Keys: cfg.VendorKeys, Kinds: []format.Kind{format.KindResponse}, Now: at})
		if err != nil || a.Payload.(*format.Response).LicenseID != s.id {
			continue
		}
		to := s.fix.to
		if signed := a.SignedAt.UTC().Truncate(time.Second); to.Before(signed) {
			to = signed // legacy record, or one edited below the vendor's time
		}
		if to.Before(e) {
			e = to
		}
	}
	if e.After(st.maxTime) {
		st.maxTime = e
	}
}

// view is the store as one set of vendor keys sees it. Only what verifies
// under cfg.VendorKeys counts: a licence signed by another key (imported by
// a development build given that key) is not there at all, and neither is
// anything it did: it ends no licence, its deactivation ends no request,
// its revocation list revokes nothing, it brings no time back. Records
// that are not signed (the order of imports and requests, deactivations)
// can end a licence that verifies, never make one.
//
// The licence in force is the newest import that verifies (and is for
// this product), unless it was deactivated; every older one that verifies
// is ended by it, replaced. So the ending of a licence never rests on a
// record a foreign key could have written.
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
	if i := v.index(id); i >= 0 {
		if raw := v.st.response(id); raw != nil {
			a, err := format.Verify(raw, format.VerifyOptions{Keys: v.cfg.VendorKeys, Kinds: []format.Kind{format.KindResponse}, Now: v.now})
			if err == nil {
				if r := a.Payload.(*format.Response); r.LicenseID == id && r.Product == v.cfg.Product {
					l = &licence{id: id, resp: r, art: a, seq: v.st.imports[i].seq}
				}
			}
		}
	}
	v.cache[id] = l
	return l
}

// index returns the position of licence id among the imports, or -1.
func (v *view) index(id format.ID) int {
	for i := len(v.st.imports) - 1; i >= 0; i-- {
		if v.st.imports[i].id == id {
			return i
		}
	}
	return -1
}

// newest returns the newest import that verifies, deactivated or not, and
// whether one does; usually the last import, so this verifies one
// response.
func (v *view) newest() *licence {
	for i := len(v.st.imports) - 1; i >= 0; i-- {
		if l := v.verified(v.st.imports[i].id); l != nil {
			return l
		}
	}
	return nil
}

// active returns the licence in force: the newest import that verifies,
// unless it was deactivated. It may still be locked (another machine,
// expired, revoked): evaluate decides that.
func (v *view) active() *licence {
	if l := v.newest(); l != nil && !v.st.isDeactivated(l.id) {
		return l
	}
	return nil
}

// replacedBy returns the next newer import that verifies after licence id
// (which replaced it), or nil.
func (v *view) replacedBy(id format.ID) *licence {
	i := v.index(id)
	if i < 0 {
		return nil
	}
	for _, im := range v.st.imports[i+1:] {
		if l := v.verified(im.id); l != nil {
			return l
		}
	}
	return nil
}

// ignored counts the imports newer than any licence that verifies here
// and not deactivated whose response does not verify (or is another
// product's, which is not counted).
func (v *view) ignored() int {
	n := 0
	for i := len(v.st.imports) - 1; i >= 0; i-- {
		id := v.st.imports[i].id
		if v.verified(id) != nil {
			break
		}
		if v.st.isDeactivated(id) {
			continue
		}
		if u, err := format.DecodeUnverified(v.st.response(id)); err == nil {
			if r, ok := u.Payload.(*format.Response); ok && r.Product != v.cfg.Product {
				continue // another product's licence, not this one's concern
			}
		}
		n++
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
		if d != nil && d.RequestSeq >= seq && v.verified(did) != nil && (rec == nil || d.Time.Before(rec.Time)) {
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

// damaged reports a read on demand that failed while evaluating.
func (st *storeState) damaged(dir string) error {
	if st.fetchErr == nil {
		return nil
	}
	return fmt.Errorf("%w: read %s: %v", ErrStoreDamaged, dir, st.fetchErr)
}
