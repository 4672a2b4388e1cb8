package activator

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/fsaccess"
	"github.com/airlock-license/airlock/internal/kv"
)

// Store is the host admin's handle on the licence store: it creates
// requests, imports responses and revocation lists, reports status and
// deactivates. It holds the store's lock until Close, so commands open it,
// act and close. A licensed product wants [Open] instead.
type Store struct {
	cfg Config
	db  *kv.DB
	// readOnly: opened by OpenStoreReadOnly; Import opens the store for
	// writing only once it has decided to write.
	readOnly bool
}

// OpenStore opens the store for a command. With create set (a request), a
// missing directory is created with mode 0700.
func OpenStore(cfg Config, create bool) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	d, err := kv.Open(cfg.Dir, create, cfg.lockWait(), cfg.logger(), cfg.command())
	if err != nil {
		return nil, fsaccess.Explain(cfg.Dir, true, err)
	}
	return &Store{cfg: cfg, db: d}, nil
}

// OpenStoreReadOnly opens the store for reading, cheaply and shared with
// other readers: for Status (activator status, check), and for Import,
// which opens it for writing only once it has decided to write, so that a
// refused import leaves every file of the store as it was. Other writes
// through it fail; Status records the time it saw in the time file
// (timeseen.go), never in Badger.
func OpenStoreReadOnly(cfg Config) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	d, err := kv.OpenReadOnly(cfg.Dir, cfg.lockWait(), cfg.logger(), cfg.command())
	if err != nil {
		return nil, fsaccess.Explain(cfg.Dir, false, err)
	}
	return &Store{cfg: cfg, db: d, readOnly: true}, nil
}

// reopenForWriting replaces a read-only handle by a writer's.
func (s *Store) reopenForWriting() error {
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fsaccess.Explain(s.cfg.Dir, true, err)
	}
	d, err := kv.Open(s.cfg.Dir, false, s.cfg.lockWait(), s.cfg.logger(), s.cfg.command())
	if err != nil {
		return fsaccess.Explain(s.cfg.Dir, true, err)
	}
	s.db, s.readOnly = d, false
	return nil
}

// Close releases the store. A writer leaves the read view for readers
// (readview.go): what they will ask for is read now, and written once
// Badger's files are closed and final, before another writer may open the
// store.
func (s *Store) Close() error {
	if s.db == nil {
		return nil // a reopening failed
	}
	if !s.db.ReadOnly() {
		var view *viewData
		err := s.db.View(func(txn *badger.Txn) error {
			var err error
			view, err = captureView(txn, s.cfg.Dir)
			return err
		})
		dir := s.cfg.Dir
		s.db.AfterClose = func() {
			if err != nil || writeView(dir, view) != nil {
				removeView(dir)
			}
		}
	}
	return s.db.Close()
}

// state reads everything (what an import needs).
func (s *Store) state() (*storeState, error) {
	var st *storeState
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		st, err = loadState(txnRecords{txn}, s.cfg.Dir, true)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrStoreDamaged, s.cfg.Dir, err)
	}
	return st, nil
}

// Status evaluates the store now, re-verifying everything, and records
// the time it was checked at (so that a clock wound back later is noticed).
func (s *Store) Status() (*Snapshot, error) {
	var st *storeState
	var snap *Snapshot
	host := s.cfg.host()
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if st, err = loadState(txnRecords{txn}, s.cfg.Dir, false); err != nil {
			return err
		}
		defer st.withFetch(txnRecords{txn})()
		snap = evaluate(&s.cfg, st, host)
		return st.damaged(s.cfg.Dir)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrStoreDamaged, s.cfg.Dir, err)
	}
	recordTime(s.db, st, s.cfg.now(), time.Minute)
	return snap, nil
}

// RequestOptions are what the admin types for a request.
type RequestOptions struct {
	Name, Organization string
	ProductKey         string // as typed; normalised and checked first
	// Unprivileged makes a request without the identifiers this user may
	// not read (the root-only SMBIOS ones), which is otherwise refused
	// with ErrNeedsRoot: such a request binds the licence to fewer
	// identifiers than the machine has, and the vendor's desk may not
	// recognise it as the machine that activated before.
	Unprivileged bool
}

// Request is a signed request, ready to carry to the vendor.
type Request struct {
	ID      format.ID
	Binary  []byte // the signed message
	Armored []byte // what `activator request -o` writes
	QRText  string // the AL1: text that a QR code carries
	// Components are the fingerprint components the request carries;
	// Host is what the collector found (see HostFingerprint.Binding).
	Components []string
	Host       *HostFingerprint
}

// Request creates a request: it checks the product key and the licensee
// before writing anything, creates the host key on first use, signs the
// request with it and records it as pending, in one transaction.
func (s *Store) Request(opts RequestOptions) (*Request, error) {
	pk, err := format.ParseProductKey(opts.ProductKey)
	if err != nil {
		return nil, refuseCause(ErrProductKey, err, err.Error()+"; nothing was written")
	}
	st, err := s.state()
	if err != nil {
		return nil, err
	}
	// A request is dated by the wall clock, not the trusted time: one
	// clock jump forward must not date every later request in the future,
	// where the vendor would refuse it.
	now := s.cfg.now()
	st.applyTimeFixes(&s.cfg) // raise the highest time seen as these keys see it
	key, err := st.hostPublic()
	if err != nil {
		return nil, err
	}
	var newKey []byte
	if key == nil {
		// Dated at a fixed past instant, not by this host's clock: a key
		// must predate every signature it makes, and the clock of the
		// host that creates it may be wrong in either direction.
		key, err = format.GenerateKey(format.KeyOptions{Name: "airlock host key", Now: hostKeyEpoch})
		if err != nil {
			return nil, err
		}
		if newKey, err = key.MarshalArmored(nil); err != nil {
			return nil, err
		}
	}
	host := s.cfg.host()
	fp := host.Fingerprint()
	if u := host.Unverifiable(); len(u) > 0 && !opts.Unprivileged {
		return nil, refuse(ErrNeedsRoot, fmt.Sprintf("request: this user may not read %s (readable by root only); run it as root, so that the licence records every identifier of this machine, or pass --unprivileged to request without them; nothing was written", strings.Join(u, ", ")))
	}
	if len(fp.Components) == 0 {
		return nil, errors.New("request: no machine identifier could be read on this host (see activator fingerprint); nothing was written")
	}
	id, err := format.NewID(rand.Reader)
	if err != nil {
		return nil, err
	}
	req := &format.Request{
		RequestID: id, Created: format.NewTime(now), Product: s.cfg.Product, ProductVersion: s.cfg.Version,
		ProductKey: pk.String(), Licensee: format.Licensee{Name: opts.Name, Organization: opts.Organization},
		Fingerprint: fp, HostKey: format.HostKeyField(key.Public()),
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("request: %v; nothing was written", err)
	}
	msg, err := format.Sign(key, req, now)
	if err != nil {
		return nil, err
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if newKey != nil {
			if err := txn.Set([]byte(keyHostKey), newKey); err != nil {
				return err
			}
		}
		if err := txn.Set([]byte(prefixRequest+string(id)), msg); err != nil {
			return err
		}
		// The order of requests: which is newer, and which a deactivation
		// ended, are judged by it.
		n, err := nextSeq(txn, keyRequestSeq)
		if err != nil {
			return err
		}
		if err := txn.Set([]byte(prefixRequestOrder+string(id)), []byte(strconv.FormatUint(n, 10))); err != nil {
			return err
		}
		// A request that raises the highest time seen was made at that
		// time: it cannot vouch for a later correction (see maxTimeSeq).
		st.reqSeq = n
		if err := setMaxTime(txn, st, now); err != nil {
			return err
		}
		if err := dropOldRequests(txn, st); err != nil {
			return err
		}
		return audit(txn, auditEntry{Time: now, Event: "request", Detail: string(id)})
	})
	if err != nil {
		return nil, fmt.Errorf("request: store: %w", err)
	}
	names := make([]string, 0, len(fp.Components))
	for n := range fp.Components {
		names = append(names, n)
	}
	return &Request{ID: id, Binary: msg, Armored: format.Armor(msg, format.KindRequest), QRText: format.EncodeQRText(msg), Components: sortedCopy(names), Host: host}, nil
}

// maxPending bounds the requests a store keeps that no stored licence
// answers: a script that makes a request every minute must not grow the
// store without bound (issue 12). A response to a request dropped is
// refused as answering no request kept here; a request is cheap to make
// again. Requests a stored licence answers are always kept.
const maxPending = 16

// dropOldRequests deletes the oldest requests beyond maxPending that no
// stored licence answers, in the transaction that adds a new one (already
// in st.reqOrder's count through reqSeq, not in st's maps). Only requests
// go: a dropped request can only make a response refused, never a licence
// wider.
func dropOldRequests(txn *badger.Txn, st *storeState) error {
	answered := map[format.ID]bool{}
	for _, raw := range st.responses {
		if u, err := format.DecodeUnverified(raw); err == nil {
			if r, ok := u.Payload.(*format.Response); ok {
				answered[r.RequestID] = true
			}
		}
	}
	var pending []format.ID
	for id := range st.requests {
		if !answered[id] {
			pending = append(pending, id)
		}
	}
	// The new request is one more.
	if len(pending)+1 <= maxPending {
		return nil
	}
	slices.SortFunc(pending, func(a, b format.ID) int { return cmpUint(st.reqOrder[a], st.reqOrder[b]) })
	for _, id := range pending[:len(pending)+1-maxPending] {
		if err := txn.Delete([]byte(prefixRequest + string(id))); err != nil {
			return err
		}
		if err := txn.Delete([]byte(prefixRequestOrder + string(id))); err != nil {
			return err
		}
	}
	return nil
}

// hostKeyEpoch is the creation time of every host key.
var hostKeyEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// setMaxTime raises the highest time seen to now, if now is later,
// noting the number of the last request made so far (see maxTimeSeq).
func setMaxTime(txn *badger.Txn, st *storeState, now time.Time) error {
	if !now.After(st.maxTime) {
		return nil
	}
	return txn.Set([]byte(keyMaxTime), formatMaxTime(now, st.reqSeq))
}

// The value of maxtime: Unix seconds, a space, and the number of the last
// request made when it was raised. (A value without the number, as earlier
// stores hold, is read as if raised after every request made so far.)
func formatMaxTime(t time.Time, seq uint64) []byte {
	return []byte(strconv.FormatInt(t.Unix(), 10) + " " + strconv.FormatUint(seq, 10))
}

func parseMaxTime(v []byte) (t time.Time, seq uint64, withSeq bool) {
	secs, rest, withSeq := strings.Cut(string(v), " ")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, 0, false
	}
	if withSeq {
		seq, err = strconv.ParseUint(rest, 10, 64)
		withSeq = err == nil
	}
	return time.Unix(n, 0).UTC(), seq, withSeq
}

// ImportOptions say how far an import may go.
type ImportOptions struct {
	// Replace lets a licence that grants less than the one in force (fewer
	// features or clients, a shorter validity) replace it. Without it such
	// an import is refused with ErrDowngrade, naming what would be lost.
	Replace bool
}

// ImportResult says what an import did.
type ImportResult struct {
	Kind      format.Kind
	LicenseID format.ID // for a response
	Serial    uint64    // for a revocation list
	// Unchanged is set when the artifact was already in effect (the active
	// licence imported again, or the revocation list already held).
	Unchanged bool
	// Replaced is the licence that was in force before, for a response
	// that replaced one; Lost says what it granted that the new one does
	// not (imported with Replace). The replaced licence still holds an
	// activation at the vendor until its receipt is taken back: see
	// [Store.Receipt].
	Replaced format.ID
	Lost     []string
	// ReplacedOtherKey: the replaced licence came from another product
	// key, whose activation the vendor counts until its receipt is taken
	// back (a licence of the same key is superseded at the vendor already).
	ReplacedOtherKey bool
	Status           *Snapshot // the state after the import
}

// Import verifies a response or a revocation list (armored, binary or QR
// text) and applies it. A refusal changes nothing, and its error reads as
// one line that names the reason and the fix. Through a store opened with
// OpenStoreReadOnly, the import is decided first and the store opened for
// writing (and the decision made again, under the writer's lock) only to
// apply it: a refused import leaves every file of the store byte-identical.
func (s *Store) Import(data []byte, opts ImportOptions) (*ImportResult, error) {
	res, write, err := s.decideImport(data, opts)
	if err != nil {
		return nil, err
	}
	if write != nil && s.readOnly {
		if err := s.reopenForWriting(); err != nil {
			return nil, err
		}
		if res, write, err = s.decideImport(data, opts); err != nil {
			return nil, err
		}
	}
	if write != nil {
		if err := s.db.Update(write); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	if res.Status, err = s.Status(); err != nil {
		return nil, err
	}
	return res, nil
}

// decideImport verifies data and decides what importing it does, writing
// nothing: it returns the result and the transaction that applies it (nil
// when nothing changes), or the refusal.
func (s *Store) decideImport(data []byte, opts ImportOptions) (*ImportResult, func(*badger.Txn) error, error) {
	st, err := s.state()
	if err != nil {
		return nil, nil, err
	}
	now, _ := trustedTime(&s.cfg, st)
	a, err := format.Verify(data, format.VerifyOptions{Keys: s.cfg.VendorKeys, Kinds: []format.Kind{format.KindResponse, format.KindRevocations}, Now: now})
	if cb := (*format.ClockBehindError)(nil); errors.As(err, &cb) {
		// format says so only of a signature that verified.
		err = refuseCause(ErrClockBehind, err, fmt.Sprintf("the %s is signed %s after this host's time (%s, signed at %s): this host's clock is behind, or the vendor's ahead; set this host's clock right and import it again",
			kindWord(data), cb.By.Round(time.Second), now.Format(time.RFC3339), cb.SignedAt.UTC().Format(time.RFC3339)))
	}
	if err != nil {
		return nil, nil, err
	}
	if r, ok := a.Payload.(*format.Response); ok {
		now = s.correctedTime(st, a, r, now)
	}
	v := newView(&s.cfg, st, now)
	switch p := a.Payload.(type) {
	case *format.Revocations:
		return s.importRevocations(v, a, p)
	case *format.Response:
		return s.importResponse(v, a, p, opts)
	}
	return nil, nil, fmt.Errorf("import: unexpected %s", a.Kind)
}

// correctedTime is the time an import judges a response at. It is the
// trusted time, unless the highest time seen is ahead of both the clock
// and the vendor's signature on a response to a request made after that
// highest time was recorded: the clock was once set ahead, and the
// vendor's signed time, bound to a request this store made since, shows
// it. Then the highest time seen comes down to the later of the clock and
// the vendor's signature time (never below either), and the import
// records it. A response to an older request, or one signed before the
// request it answers, vouches for nothing.
func (s *Store) correctedTime(st *storeState, a *format.Artifact, r *format.Response, now time.Time) time.Time {
	seq, ok := st.reqOrder[r.RequestID]
	wall := s.cfg.now()
	if !ok || seq <= st.maxTimeSeq || st.requests[r.RequestID] == nil {
		return now
	}
	if _, req, err := format.VerifyRequest(st.requests[r.RequestID], now); err != nil || a.SignedAt.Add(format.DefaultSkew).Before(req.Created.Time) {
		return now
	}
	t := a.SignedAt.UTC().Truncate(time.Second)
	if wall.After(t) {
		t = wall
	}
	// Never below what the vendor's clock already vouched for: a stored
	// artifact that verifies here was signed no later than this, and
	// judging the store earlier would drop it from the view (its
	// deactivation would end nothing, its list revoke nothing).
	if signed := latestStoredSignature(&s.cfg, st, now); signed.After(t) {
		t = signed
	}
	if !t.Before(st.maxTime) {
		return now
	}
	st.lowerTo = t
	return t
}

// aheadNote explains a judgement made at a highest time seen that is
// ahead of the clock, and the way back; "" when the clock is not behind.
func aheadNote(cfg *Config, st *storeState, now time.Time) string {
	wall := cfg.now()
	if !st.maxTime.After(wall.Add(cfg.tolerance())) || !now.Equal(st.maxTime) {
		return ""
	}
	return fmt.Sprintf(" (judged by the latest time this host has seen, %s, %s ahead of its clock: if the clock was once set ahead, set it right and request a new licence; importing it brings the latest time seen back to the vendor's time)",
		st.maxTime.Format(time.RFC3339), st.maxTime.Sub(wall).Round(time.Minute))
}

func kindWord(data []byte) string {
	if u, err := format.DecodeUnverified(data); err == nil {
		switch u.Kind {
		case format.KindRevocations:
			return "revocation list"
		case format.KindResponse:
			return "response"
		}
	}
	return "artifact"
}

func (s *Store) importRevocations(v *view, a *format.Artifact, p *format.Revocations) (*ImportResult, func(*badger.Txn) error, error) {
	res := &ImportResult{Kind: format.KindRevocations, Serial: p.Serial}
	if held, serial := v.heldRevocations(); held != nil {
		if p.Serial == serial && string(held) == string(a.Binary) {
			res.Unchanged = true
			return res, nil, nil
		}
		if p.Serial <= serial {
			return nil, nil, refuse(ErrStaleRevocations, fmt.Sprintf("revocation list %d is not newer than list %d held here; import the newest list", p.Serial, serial))
		}
	}
	return res, func(txn *badger.Txn) error {
		// Kept by signer: a list signed by a key that the product does not
		// trust cannot take the place of one that it does.
		if err := txn.Set([]byte(revocationsKey(a.Signer.Fingerprint())), a.Binary); err != nil {
			return err
		}
		if err := setMaxTime(txn, v.st, v.now); err != nil {
			return err
		}
		return audit(txn, auditEntry{Time: v.now, Event: "revocations", Detail: fmt.Sprintf("serial %d, %d revoked", p.Serial, len(p.Revoked))})
	}, nil
}

func (s *Store) importResponse(v *view, a *format.Artifact, r *format.Response, opts ImportOptions) (*ImportResult, func(*badger.Txn) error, error) {
	st, now := v.st, v.now
	res := &ImportResult{Kind: format.KindResponse, LicenseID: r.LicenseID}
	cur := v.active()
	revoked, _ := v.revocations()
	if _, ok := revoked[r.LicenseID]; ok {
		return nil, nil, refuse(ErrRevoked, fmt.Sprintf("licence %s is revoked by the vendor; contact your vendor", r.LicenseID))
	}
	if v.verified(r.LicenseID) != nil {
		switch by := v.replacedBy(r.LicenseID); {
		case cur != nil && cur.id == r.LicenseID:
			// Already in force: harmless, unless it no longer holds here.
			if snap := evaluate(&s.cfg, st, s.cfg.host()); !snap.Active() {
				return nil, nil, refuse(ErrNotActive, fmt.Sprintf("licence %s is already imported but is %s: %s", r.LicenseID, snap.State, strings.Join(snap.Problems, "; ")))
			}
			res.Unchanged = true
			return res, nil, nil
		case by != nil:
			hint := "; to free its activation at the vendor, run: activator receipt " + string(r.LicenseID)
			if st.deactivated[r.LicenseID] != nil {
				hint = " (its receipt was written)"
			}
			return nil, nil, refuse(ErrReplaced, fmt.Sprintf("licence %s was replaced by licence %s on this host and cannot be imported again%s", r.LicenseID, by.id, hint))
		}
	}
	if d := st.deactivated[r.LicenseID]; d != nil {
		return nil, nil, refuse(ErrDeactivated, fmt.Sprintf("licence %s was deactivated on this host on %s and cannot be imported again; request a new licence", r.LicenseID, d.Time.Format("2006-01-02")))
	}
	if held := st.responses[r.LicenseID]; held != nil && string(held) != string(a.Binary) {
		// Another artifact under the same licence id: never overwritten,
		// or a licence signed by another key could take a genuine one's
		// place in the log. Importing this one again cannot help; a new
		// licence can.
		if v.verified(r.LicenseID) == nil {
			return nil, nil, refuse(ErrNotRequested, fmt.Sprintf("the licence %s stored here does not verify with this product's vendor keys (damaged or altered, or signed by another key), and a stored licence is never replaced; request a new licence (activator request) and import the vendor's response to it", r.LicenseID))
		}
		return nil, nil, refuse(ErrNotRequested, fmt.Sprintf("another licence with the id %s is stored here already, and a stored licence is never replaced; request a new licence (activator request) and import the vendor's response to it", r.LicenseID))
	}
	reqMsg := st.requests[r.RequestID]
	if reqMsg == nil {
		return nil, nil, refuse(ErrNotRequested, fmt.Sprintf("this response answers no request kept by this host (it was made on another host, or is older than the newest %d unanswered requests here, which are all a store keeps); import it on the host that made the request, or make a new request here", maxPending))
	}
	ra, req, err := format.VerifyRequest(reqMsg, now)
	if err != nil || ra.Digest != r.RequestDigest {
		return nil, nil, refuse(ErrNotRequested, "this response does not answer the request this host made; make a new request here")
	}
	if other := v.answering(r.RequestID); other != nil && other.id != r.LicenseID {
		return nil, nil, refuse(ErrNotRequested, fmt.Sprintf("request %s was answered already, by licence %s; make a new request here", r.RequestID, other.id))
	}
	seq := st.reqOrder[r.RequestID]
	if did, d := v.endedBy(seq); d != nil {
		what := "deactivated"
		if d.Replaced {
			what = "receipted for the vendor"
		}
		return nil, nil, refuse(ErrNotRequested, fmt.Sprintf("request %s was made before licence %s was %s here (%s), which ended it; make a new request", r.RequestID, did, what, d.Time.Format("2006-01-02 15:04")))
	}
	hk, err := st.hostPublic()
	if err != nil {
		return nil, nil, err
	}
	if hk == nil || hk.Fingerprint() != r.HostKeyFingerprint {
		return nil, nil, refuse(ErrWrongHostKey, "this response is bound to another host key; make a new request on this host")
	}
	if a.SignedAt.Add(format.DefaultSkew).Before(req.Created.Time) {
		return nil, nil, refuse(ErrBackdated, fmt.Sprintf("the response is signed at %s, %s before its request was made (%s): this host's clock was ahead of the vendor's when it made the request, or the vendor's is behind; set this host's clock right, make a new request and have it signed",
			a.SignedAt.UTC().Format(time.RFC3339), req.Created.Sub(a.SignedAt).Round(time.Second), req.Created))
	}
	if err := checkBinding(&s.cfg, r, s.cfg.host()); err != nil {
		return nil, nil, err
	}
	if r.NotAfter != nil && !now.Before(r.NotAfter.Time) {
		return nil, nil, refuse(ErrExpired, fmt.Sprintf("the licence expired at %s%s; ask your vendor for a renewal", r.NotAfter, aheadNote(&s.cfg, st, now)))
	}
	if r.NotBefore != nil && now.Before(r.NotBefore.Time) {
		return nil, nil, refuse(ErrNotYetValid, fmt.Sprintf("the licence is valid from %s; import it then, or check this host's clock", r.NotBefore))
	}
	if cur != nil {
		if err := s.mayReplace(v, cur, r, seq, opts); err != nil {
			return nil, nil, err
		}
		res.Replaced, res.Lost = cur.id, compareGrants(cur.resp, r).lost
		res.ReplacedOtherKey = v.productKeyOf(cur.resp.RequestID) != v.productKeyOf(r.RequestID)
	}
	return res, func(txn *badger.Txn) error {
		n, err := nextSeq(txn, keyImportSeq)
		if err != nil {
			return err
		}
		if err := txn.Set([]byte(prefixResponse+string(r.LicenseID)), a.Binary); err != nil {
			return err
		}
		if err := txn.Set([]byte(importKey(n, r.LicenseID)), nil); err != nil {
			return err
		}
		detail := fmt.Sprintf("features %v, %d clients", r.Features, r.Limits.Clients)
		if cur != nil {
			detail += "; replaces " + string(cur.id)
			if len(res.Lost) > 0 {
				detail += " (--replace, losing " + joinList(res.Lost) + ")"
			}
		}
		if !st.lowerTo.IsZero() {
			// The clock was once set ahead: the vendor's time brings the
			// highest time seen back (see correctedTime), as far as readers
			// that verify this licence are concerned (timefix).
			detail += fmt.Sprintf("; the latest time seen comes back from %s to %s (the vendor's signed time)", st.maxTime.Format(time.RFC3339), st.lowerTo.Format(time.RFC3339))
			if err := txn.Set([]byte(prefixTimeFix+string(r.LicenseID)), []byte(strconv.FormatInt(st.rawMaxTime.Unix(), 10)+" "+strconv.FormatInt(st.lowerTo.Unix(), 10))); err != nil {
				return err
			}
			if err := txn.Set([]byte(keyMaxTime), formatMaxTime(st.lowerTo, st.reqSeq)); err != nil {
				return err
			}
		} else if err := setMaxTime(txn, st, now); err != nil {
			return err
		}
		return audit(txn, auditEntry{Time: now, Event: "import", License: string(r.LicenseID), Detail: detail})
	}, nil
}

// mayReplace applies the replacement rule (see entitlement.go) to the
// licence in force cur and the new licence r, whose request has number
// seq.
func (s *Store) mayReplace(v *view, cur *licence, r *format.Response, seq uint64, opts ImportOptions) error {
	ch := compareGrants(cur.resp, r)
	curKey, newKey := v.productKeyOf(cur.resp.RequestID), v.productKeyOf(r.RequestID)
	older := seq < v.st.reqOrder[cur.resp.RequestID]
	switch {
	case opts.Replace:
		return nil
	case len(ch.lost) > 0 && len(ch.gained) > 0 && curKey != newKey:
		return refuse(ErrDowngrade, fmt.Sprintf("licence %s (product key %s) and the licence in force %s (product key %s) each grant what the other does not (%s; the new one lacks %s): a host holds one licence per product, so licences of two keys do not add up; ask your vendor for one key with everything, or import with --replace to keep only the new one",
			r.LicenseID, newKey, cur.id, curKey, joinList(ch.gained), joinList(ch.lost)))
	case len(ch.lost) > 0:
		return refuse(ErrDowngrade, fmt.Sprintf("licence %s grants less than the licence in force %s: it would lose %s; import with --replace to accept that (then free the old licence's activation at the vendor with activator receipt %s)",
			r.LicenseID, cur.id, joinList(ch.lost), cur.id))
	case older && len(ch.gained) == 0:
		return refuse(ErrDowngrade, fmt.Sprintf("licence %s answers an older request than the licence in force %s and grants nothing more; nothing to do (import with --replace to use it anyway)", r.LicenseID, cur.id))
	}
	return nil
}

// productKeyOf returns the product key of request rid, as the store signed
// it ("" if unknown).
func (v *view) productKeyOf(rid format.ID) string {
	u, err := format.DecodeUnverified(v.st.requests[rid])
	if err != nil {
		return ""
	}
	if r, ok := u.Payload.(*format.Request); ok {
		return r.ProductKey
	}
	return ""
}

// Deactivate removes the licence in force, remembers it as deactivated so
// that its response cannot be imported again, ends every request made
// before (so that no response to one ever imports), and returns the
// receipt (armored) signed by the host key, for the vendor to free the
// activation.
func (s *Store) Deactivate() ([]byte, format.ID, error) {
	st, err := s.state()
	if err != nil {
		return nil, "", err
	}
	now, _ := trustedTime(&s.cfg, st)
	l := newView(&s.cfg, st, now).active()
	if l == nil {
		return nil, "", refuse(ErrNotActive, "no licence to deactivate")
	}
	receipt, err := s.writeReceipt(st, now, l, false)
	if err != nil {
		return nil, "", err
	}
	return receipt, l.id, nil
}

// writeReceipt signs the deactivation receipt of licence l and records the
// deactivation, ending every request made so far.
func (s *Store) writeReceipt(st *storeState, now time.Time, l *licence, replaced bool) ([]byte, error) {
	hk, err := st.hostPublic()
	if err != nil {
		return nil, err
	}
	if hk == nil {
		return nil, fmt.Errorf("%w: the store holds licences but no host key; move the directory aside (keep it for diagnosis), then restore your backup (activator restore) or ask support", ErrStoreDamaged)
	}
	// Dated by the wall clock, as a request is: the desk judges the
	// receipt at its own time, and the highest time seen may be ahead.
	wall := s.cfg.now()
	d := &format.Deactivation{LicenseID: l.id, RequestID: l.resp.RequestID, HostKeyFingerprint: hk.Fingerprint(), Deactivated: format.NewTime(wall)}
	msg, err := format.Sign(hk, d, wall)
	if err != nil {
		return nil, err
	}
	receipt := format.Armor(msg, format.KindDeactivation)
	event := "deactivate"
	if replaced {
		event = "receipt"
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		// The receipt is kept, so that it can be written out again.
		rec := deactRecord{Receipt: receipt, RequestSeq: st.reqSeq, Time: now, Replaced: replaced}
		if err := setJSON(txn, prefixDeact+string(l.id), rec); err != nil {
			return err
		}
		if err := setMaxTime(txn, st, now); err != nil {
			return err
		}
		return audit(txn, auditEntry{Time: now, Event: event, License: string(l.id), Detail: fmt.Sprintf("requests up to number %d ended", st.reqSeq)})
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return receipt, nil
}

// Receipt returns the deactivation receipt of licence id: as Deactivate
// wrote it, for when the first copy was lost, or, for a licence that this
// host replaced by another, a receipt signed now, so that the vendor frees
// the activation it still holds. Writing that receipt ends every request
// made before it, as a deactivation does.
func (s *Store) Receipt(id format.ID) ([]byte, error) {
	st, err := s.state()
	if err != nil {
		return nil, err
	}
	if d := st.deactivated[id]; d != nil {
		if len(d.Receipt) == 0 {
			return nil, fmt.Errorf("%w: the deactivation record of licence %s is unreadable; move the directory aside (keep it for diagnosis), then restore your backup (activator restore) or ask support", ErrStoreDamaged, id)
		}
		return d.Receipt, nil
	}
	now, _ := trustedTime(&s.cfg, st)
	v := newView(&s.cfg, st, now)
	l := v.verified(id)
	switch {
	case l == nil:
		return nil, refuse(ErrNotActive, fmt.Sprintf("licence %s was not imported on this host (or does not verify with this product's vendor keys)", id))
	case v.replacedBy(id) == nil:
		return nil, refuse(ErrNotActive, fmt.Sprintf("licence %s is in force on this host; to end it, run activator deactivate", id))
	}
	return s.writeReceipt(st, now, l, true)
}

// latestStoredSignature is the latest signature time among the stored
// responses and revocation lists that verify under cfg's keys at now.
func latestStoredSignature(cfg *Config, st *storeState, now time.Time) time.Time {
	var latest time.Time
	check := func(raw []byte, kind format.Kind) {
		if raw == nil {
			return
		}
		if a, err := format.Verify(raw, format.VerifyOptions{Keys: cfg.VendorKeys, Kinds: []format.Kind{kind}, Now: now}); err == nil && a.SignedAt.After(latest) {
			latest = a.SignedAt.UTC().Truncate(time.Second).Add(time.Second)
		}
	}
	for _, im := range st.imports {
		check(st.responses[im.id], format.KindResponse)
	}
	for _, raw := range st.revocations {
		check(raw, format.KindRevocations)
	}
	return latest
}
