package activator

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// Store is the host admin's handle on the licence store: it creates
// requests, imports responses and revocation lists, reports status and
// deactivates. It holds the store's lock until Close, so commands open it,
// act and close. A licensed product wants [Open] instead.
type Store struct {
	cfg Config
	db  *kv.DB
	// timeDue is a time seen that a read-only store could not record;
	// Close records it through a short write.
	timeDue time.Time
}

// OpenStore opens the store for a command. With create set (a request), a
// missing directory is created with mode 0700.
func OpenStore(cfg Config, create bool) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	d, err := kv.Open(cfg.Dir, create, cfg.lockWait(), cfg.logger(), cfg.command())
	if err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, db: d}, nil
}

// OpenStoreReadOnly opens the store for Status alone, cheaply and shared
// with other readers (activator status, check). Writes through it fail;
// Close records the time Status saw, through a short write of its own.
func OpenStoreReadOnly(cfg Config) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	d, err := kv.OpenReadOnly(cfg.Dir, cfg.lockWait(), cfg.logger(), cfg.command())
	if err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, db: d}, nil
}

// Close releases the store, and records the time Status saw if the store
// was opened read-only.
func (s *Store) Close() error {
	err := s.db.Close()
	if !s.timeDue.IsZero() {
		writeTimeSeen(&s.cfg, s.timeDue, time.Second)
	}
	return err
}

// state reads everything (what an import needs); lightState only what
// evaluating the licence needs.
func (s *Store) state() (*storeState, error) { return s.readState(true) }

func (s *Store) lightState() (*storeState, error) { return s.readState(false) }

func (s *Store) readState(full bool) (*storeState, error) {
	var st *storeState
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		st, err = loadState(txn, full)
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
	st, err := s.lightState()
	if err != nil {
		return nil, err
	}
	if now := s.cfg.now(); !recordTime(s.db, st, now, time.Minute) {
		s.timeDue = now
	}
	return evaluate(&s.cfg, st, s.cfg.host()), nil
}

// RequestOptions are what the admin types for a request.
type RequestOptions struct {
	Name, Organization string
	ProductKey         string // as typed; normalised and checked first
}

// Request is a signed request, ready to carry to the vendor.
type Request struct {
	ID      format.ID
	Binary  []byte // the signed message
	Armored []byte // what `activator request -o` writes
	QRText  string // the AL1: text that a QR code carries
	// Components are the fingerprint components the request carries.
	Components []string
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
		if err := txn.Set([]byte(prefixPending+string(id)), msg); err != nil {
			return err
		}
		// The order of requests, for those made within one second (whose
		// creation times are equal): a downgrade is judged by it.
		seq, err := get(txn, keyRequestSeq)
		if err != nil {
			return err
		}
		n, _ := strconv.ParseUint(string(seq), 10, 64)
		n++
		if err := txn.Set([]byte(keyRequestSeq), []byte(strconv.FormatUint(n, 10))); err != nil {
			return err
		}
		if err := txn.Set([]byte(prefixRequestOrder+string(id)), []byte(strconv.FormatUint(n, 10))); err != nil {
			return err
		}
		if err := setMaxTime(txn, st, now); err != nil {
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
	return &Request{ID: id, Binary: msg, Armored: format.Armor(msg, format.KindRequest), QRText: format.EncodeQRText(msg), Components: sortedCopy(names)}, nil
}

// hostKeyEpoch is the creation time of every host key.
var hostKeyEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func setMaxTime(txn *badger.Txn, st *storeState, now time.Time) error {
	if !now.After(st.maxTime) {
		return nil
	}
	return txn.Set([]byte(keyMaxTime), []byte(strconv.FormatInt(now.Unix(), 10)))
}

// ImportResult says what an import did.
type ImportResult struct {
	Kind      format.Kind
	LicenseID format.ID // for a response
	Serial    uint64    // for a revocation list
	// Unchanged is set when the artifact was already in effect (the active
	// licence imported again, or the revocation list already held).
	Unchanged bool
	Status    *Snapshot // the state after the import
}

// Import verifies a response or a revocation list (armored, binary or QR
// text) and applies it. A refusal changes nothing but the audit log, and
// its error reads as one line that names the reason and the fix.
func (s *Store) Import(data []byte) (*ImportResult, error) {
	st, err := s.state()
	if err != nil {
		return nil, err
	}
	now, _ := trustedTime(&s.cfg, st)
	a, err := format.Verify(data, format.VerifyOptions{Keys: s.cfg.VendorKeys, Kinds: []format.Kind{format.KindResponse, format.KindRevocations}, Now: now})
	if err != nil {
		return nil, s.refused(st, now, "", err)
	}
	var res *ImportResult
	switch p := a.Payload.(type) {
	case *format.Revocations:
		res, err = s.importRevocations(st, now, a, p)
	case *format.Response:
		res, err = s.importResponse(st, now, a, p)
	}
	if err != nil {
		id := ""
		if r, ok := a.Payload.(*format.Response); ok {
			id = string(r.LicenseID)
		}
		return nil, s.refused(st, now, id, err)
	}
	if res.Status, err = s.Status(); err != nil {
		return nil, err
	}
	return res, nil
}

// refused records a refusal in the audit log, with the time seen (best
// effort: the refusal stands even if the log cannot be written), and
// returns err. Nothing else in the store changes.
func (s *Store) refused(st *storeState, now time.Time, licenseID string, err error) error {
	s.db.Update(func(txn *badger.Txn) error {
		if err := setMaxTime(txn, st, now); err != nil {
			return err
		}
		return audit(txn, auditEntry{Time: now, Event: "refused", License: licenseID, Detail: err.Error()})
	})
	return err
}

func (s *Store) importRevocations(st *storeState, now time.Time, a *format.Artifact, p *format.Revocations) (*ImportResult, error) {
	res := &ImportResult{Kind: format.KindRevocations, Serial: p.Serial}
	if held := st.verifiedRevocations(&s.cfg, now); held != nil {
		if p.Serial == held.Serial && string(st.revocations) == string(a.Binary) {
			res.Unchanged = true
			return res, nil
		}
		if p.Serial <= held.Serial {
			return nil, refuse(ErrStaleRevocations, fmt.Sprintf("revocation list %d is not newer than list %d held here; import the newest list", p.Serial, held.Serial))
		}
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte(keyRevocations), a.Binary); err != nil {
			return err
		}
		if err := setMaxTime(txn, st, now); err != nil {
			return err
		}
		return audit(txn, auditEntry{Time: now, Event: "revocations", Detail: fmt.Sprintf("serial %d, %d revoked", p.Serial, len(p.Revoked))})
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return res, nil
}

func (s *Store) importResponse(st *storeState, now time.Time, a *format.Artifact, r *format.Response) (*ImportResult, error) {
	res := &ImportResult{Kind: format.KindResponse, LicenseID: r.LicenseID}
	switch revs := st.verifiedRevocations(&s.cfg, now); {
	case st.deactivated[r.LicenseID]:
		return nil, refuse(ErrDeactivated, fmt.Sprintf("licence %s was deactivated on this host and cannot be imported again; request a new licence", r.LicenseID))
	case revs != nil && revs.Contains(r.LicenseID):
		return nil, refuse(ErrRevoked, fmt.Sprintf("licence %s is revoked by the vendor; contact your vendor", r.LicenseID))
	case st.active[s.cfg.Product] == r.LicenseID && st.responses[r.LicenseID] != nil:
		// Already active: harmless, unless it no longer holds here.
		if snap := evaluate(&s.cfg, st, s.cfg.host()); !snap.Active() {
			return nil, refuse(ErrNotActive, fmt.Sprintf("licence %s is already imported but is %s: %s", r.LicenseID, snap.State, strings.Join(snap.Problems, "; ")))
		}
		res.Unchanged = true
		return res, nil
	}
	reqMsg := st.requests[r.RequestID]
	if reqMsg == nil || st.consumed[r.RequestID] {
		return nil, refuse(ErrNotRequested, "this response answers no pending request of this host; import it on the host that made the request, or make a new request here")
	}
	ra, req, err := format.VerifyRequest(reqMsg, now)
	if err != nil || ra.Digest != r.RequestDigest {
		return nil, refuse(ErrNotRequested, "this response does not answer the request this host made; make a new request here")
	}
	hk, err := st.hostPublic()
	if err != nil {
		return nil, err
	}
	if hk == nil || hk.Fingerprint() != r.HostKeyFingerprint {
		return nil, refuse(ErrWrongHostKey, "this response is bound to another host key; make a new request on this host")
	}
	if a.SignedAt.Add(format.DefaultSkew).Before(req.Created.Time) {
		return nil, refuse(ErrBackdated, fmt.Sprintf("the response is signed at %s, before its request (%s); ask the vendor to sign it again", a.SignedAt.UTC().Format(time.RFC3339), req.Created))
	}
	if err := checkBinding(&s.cfg, r, s.cfg.host()); err != nil {
		return nil, err
	}
	if r.NotAfter != nil && !now.Before(r.NotAfter.Time) {
		return nil, refuse(ErrExpired, fmt.Sprintf("the licence expired at %s; ask your vendor for a renewal", r.NotAfter))
	}
	if r.NotBefore != nil && now.Before(r.NotBefore.Time) {
		return nil, refuse(ErrNotYetValid, fmt.Sprintf("the licence is valid from %s; import it then, or check this host's clock", r.NotBefore))
	}
	if cur, ok := st.active[s.cfg.Product]; ok {
		if older, err := s.isOlder(st, now, req, cur); err != nil {
			return nil, err
		} else if older {
			return nil, refuse(ErrDowngrade, fmt.Sprintf("this response answers a request older than the active licence %s's; import the newest response", cur))
		}
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		for _, kv := range [][2]string{
			{prefixResponse + string(r.LicenseID), string(a.Binary)},
			{prefixActive + s.cfg.Product, string(r.LicenseID)},
			{prefixConsumed + string(r.RequestID), now.Format(time.RFC3339)},
		} {
			if err := txn.Set([]byte(kv[0]), []byte(kv[1])); err != nil {
				return err
			}
		}
		if err := setMaxTime(txn, st, now); err != nil {
			return err
		}
		return audit(txn, auditEntry{Time: now, Event: "import", License: string(r.LicenseID), Detail: fmt.Sprintf("features %v, %d clients", r.Features, r.Limits.Clients)})
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return res, nil
}

// isOlder reports whether req was created before the request of the active
// licence cur. An active licence whose response or request no longer
// verifies does not block a new one.
func (s *Store) isOlder(st *storeState, now time.Time, req *format.Request, cur format.ID) (bool, error) {
	a, err := format.Verify(st.responses[cur], format.VerifyOptions{Keys: s.cfg.VendorKeys, Kinds: []format.Kind{format.KindResponse}, Now: now})
	if err != nil {
		return false, nil
	}
	curReq := st.requests[a.Payload.(*format.Response).RequestID]
	if curReq == nil {
		return false, nil
	}
	_, cr, err := format.VerifyRequest(curReq, now)
	if err != nil {
		return false, nil
	}
	if !req.Created.Equal(cr.Created.Time) {
		return req.Created.Before(cr.Created.Time), nil
	}
	var newSeq, curSeq []byte
	s.db.View(func(txn *badger.Txn) error {
		newSeq, _ = get(txn, prefixRequestOrder+string(req.RequestID))
		curSeq, _ = get(txn, prefixRequestOrder+string(cr.RequestID))
		return nil
	})
	na, _ := strconv.ParseUint(string(newSeq), 10, 64)
	nb, _ := strconv.ParseUint(string(curSeq), 10, 64)
	return na < nb, nil
}

// Deactivate removes the active licence, remembers it as deactivated so
// that its response cannot be imported again, and returns the receipt
// (armored) signed by the host key, for the vendor to free the activation.
func (s *Store) Deactivate() ([]byte, format.ID, error) {
	st, err := s.state()
	if err != nil {
		return nil, "", err
	}
	now, _ := trustedTime(&s.cfg, st)
	id, ok := st.active[s.cfg.Product]
	if !ok {
		return nil, "", refuse(ErrNotActive, "no active licence to deactivate")
	}
	hk, err := st.hostPublic()
	if err != nil {
		return nil, "", err
	}
	a, err := format.DecodeUnverified(st.responses[id])
	if err != nil || hk == nil {
		return nil, "", fmt.Errorf("%w: the active licence cannot be read; keep the directory and ask support", ErrStoreDamaged)
	}
	r := a.Payload.(*format.Response)
	d := &format.Deactivation{LicenseID: id, RequestID: r.RequestID, HostKeyFingerprint: hk.Fingerprint(), Deactivated: format.NewTime(now)}
	msg, err := format.Sign(hk, d, now)
	if err != nil {
		return nil, "", err
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Delete([]byte(prefixActive + s.cfg.Product)); err != nil {
			return err
		}
		// The receipt is kept, so that it can be written out again.
		if err := txn.Set([]byte(prefixDeact+string(id)), format.Armor(msg, format.KindDeactivation)); err != nil {
			return err
		}
		if err := setMaxTime(txn, st, now); err != nil {
			return err
		}
		return audit(txn, auditEntry{Time: now, Event: "deactivate", License: string(id)})
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	return format.Armor(msg, format.KindDeactivation), id, nil
}

// Receipt returns the deactivation receipt of licence id, as Deactivate
// wrote it, for when the first copy was lost.
func (s *Store) Receipt(id format.ID) ([]byte, error) {
	var b []byte
	err := s.db.View(func(txn *badger.Txn) (err error) {
		b, err = get(txn, prefixDeact+string(id))
		return err
	})
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, refuse(ErrNotActive, fmt.Sprintf("licence %s was not deactivated on this host", id))
	}
	return b, nil
}
