package issuer

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// Activation is one licence issued to one host.
type Activation struct {
	LicenseID          format.ID             `json:"license_id"`
	ProductKey         string                `json:"product_key"`
	Product            string                `json:"product"`
	RequestID          format.ID             `json:"request_id"`
	RequestDigest      format.Digest         `json:"request_digest"`
	Licensee           format.Licensee       `json:"licensee"`
	HostKey            string                `json:"host_key"` // as the request carried it
	HostKeyFingerprint format.KeyFingerprint `json:"host_key_fingerprint"`
	Fingerprint        format.Fingerprint    `json:"fingerprint"`
	// Origin is the fingerprint of the first activation of this host: every
	// reinstall is compared with it, so that a chain of reinstalls cannot
	// walk a licence to another machine one identifier at a time.
	Origin format.Fingerprint `json:"origin"`
	// Binding is how firmly the licence is bound to the machine (from the
	// request's fingerprint, with the threshold issued); WeakAllowed says
	// what allowed a weak one: "product key" or "sign --allow-weak-binding".
	Binding     format.Binding `json:"binding"`
	WeakAllowed string         `json:"weak_allowed,omitempty"`
	Issued      time.Time      `json:"issued"`
	// Response is the licence exactly as signed; it is kept apart, at
	// resp/<license_id>, so that listing the ledger does not read it.
	Response []byte `json:"-"`
	// ReinstallOf is the licence this one replaced on the same host;
	// SupersededBy is set on that older licence.
	ReinstallOf  format.ID `json:"reinstall_of,omitempty"`
	SupersededBy format.ID `json:"superseded_by,omitempty"`
	// Forced: a reinstall signed past its key's transfer limit or room on
	// the revocation list (sign --force); LeftUnrevoked: the licence it
	// replaced could not be put on the revocation list (full), so it stays
	// valid on a copy of the old store; DeactivationForced: its
	// deactivation freed the activation past the transfer limit
	// (deactivate --force).
	Forced             bool       `json:"forced,omitempty"`
	LeftUnrevoked      bool       `json:"left_unrevoked,omitempty"`
	DeactivationForced bool       `json:"deactivation_forced,omitempty"`
	Deactivated        *time.Time `json:"deactivated,omitempty"`
	Revoked            *time.Time `json:"revoked,omitempty"`
	RevokeReason       string     `json:"revoke_reason,omitempty"`
	// RevocationDropped: the licence, replaced by a reinstall, left the
	// revocation list at this time to make room on a full list (the
	// oldest such entry goes first; see AutoRevokedMinAge).
	RevocationDropped *time.Time `json:"revocation_dropped,omitempty"`
}

// liveEntry is the index entry pkact/<key>/<license_id> of a live
// activation (neither deactivated nor replaced; a revoked licence stays
// live, so that revoking does not free a slot the same host could fill
// again by asking): what counting and reinstall detection need, so that signing
// does not decode whole activations. It is deleted when the activation
// stops being live (deactivated, revoked, replaced).
type liveEntry struct {
	LicenseID format.ID          `json:"license_id"`
	Origin    format.Fingerprint `json:"origin"` // see Activation.Origin
	Licensee  format.Licensee    `json:"licensee"`
	Issued    time.Time          `json:"issued"`
}

// liveActivations returns the live activations of a product key.
func liveActivations(txn *badger.Txn, key string) ([]*liveEntry, error) {
	var out []*liveEntry
	err := kv.Scan(txn, prefixPKAct+key+"/", func(k string, v []byte) error {
		e := new(liveEntry)
		if err := json.Unmarshal(v, e); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrDamaged, k, err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// liveCount returns the number of live activations of a key, kept at
// pkcount/<key> so that counting does not grow with the activations.
func liveCount(txn *badger.Txn, key string) (int, error) {
	v, err := kv.Get(txn, prefixPKCount+key)
	if err != nil || v == nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

func addLive(txn *badger.Txn, key string, delta int) error {
	n, err := liveCount(txn, key)
	if err != nil {
		return err
	}
	return txn.Set([]byte(prefixPKCount+key), []byte(strconv.Itoa(n+delta)))
}

// endLive removes an activation from its key's live indexes.
func endLive(txn *badger.Txn, a *Activation) error {
	if err := addLive(txn, a.ProductKey, -1); err != nil {
		return err
	}
	for name, v := range a.Origin.Components {
		if err := txn.Delete([]byte(componentKey(a.ProductKey, name, v, a.LicenseID))); err != nil {
			return err
		}
	}
	return txn.Delete([]byte(prefixPKAct + a.ProductKey + "/" + string(a.LicenseID)))
}

// componentKey is the index entry pkfp/<key>/<name>=<value>/<license_id>
// of one origin fingerprint component of a live activation.
func componentKey(key, name, value string, id format.ID) string {
	return prefixPKFP + key + "/" + name + "=" + value + "/" + string(id)
}

// candidates returns the live activations of a key that share at least
// one fingerprint component with fp: the only ones that can match it.
func candidates(txn *badger.Txn, key string, fp format.Fingerprint) ([]*liveEntry, error) {
	seen := map[format.ID]bool{}
	var out []*liveEntry
	for name, v := range fp.Components {
		prefix := prefixPKFP + key + "/" + name + "=" + v + "/"
		var ids []format.ID
		if err := kv.ScanKeys(txn, prefix, func(k string) error {
			ids = append(ids, format.ID(k[len(prefix):]))
			return nil
		}); err != nil {
			return nil, err
		}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			e := new(liveEntry)
			if ok, err := getJSON(txn, prefixPKAct+key+"/"+string(id), e); err != nil {
				return nil, err
			} else if ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// Signed is the outcome of signing one request.
type Signed struct {
	LicenseID format.ID
	Response  []byte // armored, ready to write out
	// Reissued: this very request was signed before; the same licence is
	// returned and nothing is counted. Reinstall: the host already held an
	// activation of this key (same host key or matching fingerprint); the
	// new licence replaces it without using another activation.
	Reissued, Reinstall bool
	Used, Allowed       int // activations of the key after this one
	Licensee            format.Licensee
	// Unrevoked is the licence a reinstall from a new store replaced but
	// could not put on the revocation list (full, and Force): it stays
	// valid on any copy of the old store.
	Unrevoked format.ID
}

// SignOptions are the desk operator's decisions for one signing call.
type SignOptions struct {
	// AllowWeakBinding signs requests whose machine binding is weak (fewer
	// than 3 identifiers, or none that stays with the machine: see
	// format.Fingerprint.Binding), which are otherwise refused with
	// ErrWeakBinding. A product key sold for such hosts (containers)
	// allows them by itself (KeyOptions.AllowWeakBinding).
	AllowWeakBinding bool
	// Force signs a reinstall from a new store past the product key's
	// transfer limit or its room on the revocation list (ErrTransferLimit,
	// ErrTooManyRevoked); the ledger records it.
	Force bool
}

// Sign verifies one request (armored, binary or QR text) and issues its
// licence. The activation is recorded, in one synced transaction, before
// the response is returned: a crash never leaves a licence signed but
// uncounted. Unlock first.
func (d *Desk) Sign(request []byte) (*Signed, error) { return d.SignWith(request, SignOptions{}) }

// SignWith is Sign with options.
func (d *Desk) SignWith(request []byte, opts SignOptions) (*Signed, error) {
	if d.signer == nil {
		return nil, errors.New("the desk is locked: Unlock it first")
	}
	now := d.cfg.now()
	a, req, err := format.VerifyRequest(request, now)
	if err != nil {
		return nil, requestError(err, now)
	}
	var out *Signed
	err = d.db.Update(func(txn *badger.Txn) error {
		var err error
		out, err = d.sign(txn, now, a, req, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (d *Desk) sign(txn *badger.Txn, now time.Time, a *format.Artifact, req *format.Request, opts SignOptions) (*Signed, error) {
	// The same request again: the same licence, counted once, unless it
	// has since been deactivated or revoked.
	if id, err := kv.Get(txn, prefixReq+a.Digest.String()); err != nil {
		return nil, err
	} else if id != nil {
		prev := new(Activation)
		if ok, err := getJSON(txn, prefixAct+string(id), prev); err != nil || !ok {
			return nil, fmt.Errorf("%w: licence %s of request %s is missing", ErrDamaged, id, req.RequestID)
		}
		switch {
		case prev.Revoked != nil:
			return nil, refuse(ErrLicenseRevoked, fmt.Sprintf("this request's licence %s was revoked; it is not issued again", prev.LicenseID))
		case prev.Deactivated != nil || prev.SupersededBy != "":
			return nil, refuse(ErrLicenseEnded, fmt.Sprintf("this request's licence %s was deactivated or replaced; the host must make a new request", prev.LicenseID))
		}
		pk := new(ProductKey)
		getJSON(txn, prefixPK+prev.ProductKey, pk)
		if pk.Revoked != nil {
			return nil, refuse(ErrProductKeyRevoked, fmt.Sprintf("product key %s is revoked", pk.Key))
		}
		used, _ := liveActivations(txn, prev.ProductKey)
		respBytes, err := kv.Get(txn, prefixResp+string(prev.LicenseID))
		if err != nil || respBytes == nil {
			return nil, fmt.Errorf("%w: the response of licence %s is missing", ErrDamaged, prev.LicenseID)
		}
		return &Signed{LicenseID: prev.LicenseID, Response: format.Armor(respBytes, format.KindResponse), Reissued: true,
			Used: len(used), Allowed: pk.Activations, Licensee: prev.Licensee}, nil
	}
	pk := new(ProductKey)
	if ok, err := getJSON(txn, prefixPK+req.ProductKey, pk); err != nil {
		return nil, err
	} else if !ok {
		return nil, refuse(ErrUnknownProductKey, fmt.Sprintf("product key %s was never sold by this desk; check the key on the order", req.ProductKey))
	}
	major, _ := format.MajorVersion(req.ProductVersion)
	switch {
	case pk.Product != req.Product:
		return nil, refuse(ErrWrongProduct, fmt.Sprintf("product key %s is for %s, the request is for %s", pk.Key, pk.Product, req.Product))
	case pk.Version != major:
		return nil, refuse(ErrWrongVersion, fmt.Sprintf("product key %s activates %s version %d, not version %s; the customer needs a key for version %d",
			pk.Key, pk.Product, pk.Version, req.ProductVersion, major))
	case pk.Expires != nil && !now.Before(*pk.Expires):
		return nil, refuse(ErrProductKeyExpired, fmt.Sprintf("product key %s expired on %s", pk.Key, pk.Expires.Format("2006-01-02")))
	case pk.Revoked != nil:
		return nil, refuse(ErrProductKeyRevoked, fmt.Sprintf("product key %s was revoked on %s; it activates nothing more", pk.Key, pk.Revoked.Format("2006-01-02")))
	}
	// A weak binding (a copy of the disk or files carries the licence to
	// another machine) only where the operator or the key allows it.
	binding := req.Fingerprint.Binding()
	weakAllowed := ""
	if binding.Weak {
		switch {
		case pk.AllowWeakBinding:
			weakAllowed = "product key"
		case opts.AllowWeakBinding:
			weakAllowed = "sign --allow-weak-binding"
		default:
			return nil, refuse(ErrWeakBinding, fmt.Sprintf("the request binds weakly to its machine: %s; a copy of that host's disk or files would carry the licence to another machine. Ask the host admin to run activator fingerprint and strengthen it, or sign it anyway with issuer sign --allow-weak-binding (or sell a key for such hosts: issuer keys create --allow-weak-binding)", binding.Reason))
		}
	}
	// A host that already holds an activation of this key reinstalls: the
	// machine decides, by the licence's own rule (its threshold) against
	// the fingerprint of the host's first activation, so a request from a
	// machine where that licence would not hold (a clone with a new MAC)
	// is a new activation. The host key does not decide: a copied store
	// carries it to another machine. Candidates come from the component
	// index, so the cost does not grow with the key's activations.
	cands, err := candidates(txn, pk.Key, req.Fingerprint)
	if err != nil {
		return nil, err
	}
	var replaced *Activation
	for _, e := range cands {
		if format.Match(e.Origin, req.Fingerprint).OK() {
			replaced = new(Activation)
			if ok, err := getJSON(txn, prefixAct+string(e.LicenseID), replaced); err != nil || !ok {
				return nil, fmt.Errorf("%w: activation %s is indexed but missing", ErrDamaged, e.LicenseID)
			}
			if replaced.Revoked != nil {
				return nil, refuse(ErrLicenseRevoked, fmt.Sprintf("this machine's licence %s was revoked (%s); it gets no new one", replaced.LicenseID, replaced.RevokeReason))
			}
			break
		}
	}
	// A reinstall moves the licence, and costs a transfer and a revocation
	// entry for the old licence, unless it comes from the same store (the
	// same host key) with the same identifiers: a new store (the old one
	// was lost, or copied aside) or a machine that now reports other
	// identifiers (a replaced part, or a clone of the machine that shows
	// the original's root-only identifiers to the request alone) may leave
	// the old licence running elsewhere. Only the same store on the same
	// identifiers is free: that store refuses the old licence by its own
	// ordering.
	moved := replaced != nil && (replaced.HostKeyFingerprint != a.Signer.Fingerprint() || !sameComponents(replaced.Fingerprint, req.Fingerprint))
	forced, unrevoked := false, false
	if moved {
		room, err := revocationRoom(txn, now, pk.Key)
		if err != nil {
			return nil, err
		}
		switch {
		case room.autoOfKey >= MaxAutoRevokedPerKey && !opts.Force:
			return nil, refuse(ErrTransferLimit, fmt.Sprintf("product key %s had %d licences replaced by moved reinstalls put on the revocation list in the last %d days, the most one key may have; if this host really lost its store or changed its hardware again, sign with issuer sign --force (recorded in the ledger)",
				pk.Key, room.autoOfKey, int(AutoRevokedWindow.Hours()/24)))
		case room.full() && room.evictable != "":
			// The oldest licence a reinstall replaced leaves the list.
			if err := dropRevocation(txn, room.evictable, now); err != nil {
				return nil, err
			}
		case room.full() && !opts.Force:
			return nil, refuse(ErrTooManyRevoked, fmt.Sprintf("the revocation list is nearly full (%d licences not yet expired; %d are kept for revocations of your own) and none of the licences replaced by reinstalls on it is older than %d days, so the licence this reinstall replaces could not be revoked; try again on %s, or sign with --force to issue it anyway (the old licence then stays valid on any copy of the old store)",
				room.total, RevocationReserve, int(AutoRevokedMinAge.Hours()/24), room.oldestAuto.Add(AutoRevokedMinAge).Format("2006-01-02")))
		case room.full():
			unrevoked, forced = true, true
		}
		if room.autoOfKey >= MaxAutoRevokedPerKey {
			forced = true
		}
		n, err := recentTransfers(txn, pk.Key, now, true)
		if err != nil {
			return nil, err
		}
		if limit := pk.transferLimit(); n >= limit {
			if !opts.Force {
				return nil, refuse(ErrTransferLimit, fmt.Sprintf("product key %s moved %d time(s) in the last %d days (reinstalls from a new store or with changed identifiers, and deactivations), the most it allows (%d); if this host really lost its store or changed its hardware again, sign with issuer sign --force (recorded in the ledger)",
					pk.Key, n, int(TransferPeriod.Hours()/24), limit))
			}
			forced = true
		}
	}
	used, err := liveCount(txn, pk.Key)
	if err != nil {
		return nil, err
	}
	if replaced == nil && used >= pk.Activations {
		live, err := liveActivations(txn, pk.Key)
		if err != nil {
			return nil, err
		}
		var where []string
		for _, act := range live {
			if len(where) == 5 {
				where = append(where, fmt.Sprintf("and %d more", len(live)-5))
				break
			}
			where = append(where, fmt.Sprintf("%s (%s, %s, since %s)", act.LicenseID, act.Licensee.Name, act.Licensee.Organization, act.Issued.Format("2006-01-02")))
		}
		return nil, refuse(ErrActivationLimit, fmt.Sprintf("product key %s has all %d activation(s) in use: %s; the customer must deactivate one first, or buy more",
			pk.Key, pk.Activations, strings.Join(where, "; ")))
	}
	id, err := format.NewID(rand.Reader)
	if err != nil {
		return nil, err
	}
	fp := req.Fingerprint
	fp.Threshold = reinstallThreshold(fp, replaced)
	binding.Threshold = fp.Threshold
	resp := &format.Response{
		LicenseID: id, RequestID: req.RequestID, RequestDigest: a.Digest, Issued: format.NewTime(now),
		Product: pk.Product, Versions: []int{pk.Version}, Licensee: req.Licensee, HostKeyFingerprint: a.Signer.Fingerprint(),
		Fingerprint: fp, Features: pk.Features, Limits: format.Limits{Clients: pk.Clients},
	}
	if pk.Expires != nil {
		t := format.NewTime(*pk.Expires)
		resp.NotAfter = &t
	}
	msg, err := format.Sign(d.signer, resp, now)
	if err != nil {
		return nil, err
	}
	act := &Activation{
		LicenseID: id, ProductKey: pk.Key, Product: pk.Product, RequestID: req.RequestID, RequestDigest: a.Digest,
		Licensee: req.Licensee, HostKey: req.HostKey, HostKeyFingerprint: a.Signer.Fingerprint(), Fingerprint: fp,
		Origin: fp, Binding: binding, WeakAllowed: weakAllowed, Issued: now, Response: msg,
	}
	used++
	if replaced != nil {
		act.ReinstallOf, act.Forced = replaced.LicenseID, forced
		act.Origin = replaced.Origin
		replaced.SupersededBy = id
		if moved {
			// The replaced licence may live on in a copy of the old store:
			// it goes on the revocation lists until it expires. (A full
			// list does not stop the reinstall: the old licence then stays
			// valid on such a copy.)
			if !unrevoked {
				if err := markRevoked(txn, replaced, "replaced by reinstall "+string(id), now, true); err != nil && !errors.Is(err, ErrTooManyRevoked) {
					return nil, err
				} else if err != nil {
					unrevoked = true
				}
			}
			if err := txn.Set([]byte(transferKey(pk.Key, now, id)), nil); err != nil {
				return nil, err
			}
			act.LeftUnrevoked = unrevoked
		}
		if err := setJSON(txn, prefixAct+string(replaced.LicenseID), replaced); err != nil {
			return nil, err
		}
		if err := endLive(txn, replaced); err != nil {
			return nil, err
		}
		used--
	}
	if err := setJSON(txn, prefixAct+string(id), act); err != nil {
		return nil, err
	}
	if err := txn.Set([]byte(prefixResp+string(id)), msg); err != nil {
		return nil, err
	}
	entry := liveEntry{LicenseID: id, Origin: act.Origin, Licensee: act.Licensee, Issued: now}
	if err := setJSON(txn, prefixPKAct+pk.Key+"/"+string(id), entry); err != nil {
		return nil, err
	}
	if err := addLive(txn, pk.Key, 1); err != nil {
		return nil, err
	}
	for name, v := range act.Origin.Components {
		if err := txn.Set([]byte(componentKey(pk.Key, name, v, id)), nil); err != nil {
			return nil, err
		}
	}
	if err := txn.Set([]byte(prefixReq+a.Digest.String()), []byte(id)); err != nil {
		return nil, err
	}
	out := &Signed{LicenseID: id, Response: format.Armor(msg, format.KindResponse), Reinstall: replaced != nil,
		Used: used, Allowed: pk.Activations, Licensee: req.Licensee}
	if unrevoked {
		out.Unrevoked = replaced.LicenseID
	}
	return out, nil
}

// BatchResult is one request's outcome in SignAll.
type BatchResult struct {
	Name   string // as given (a file name)
	Signed *Signed
	Err    error
}

// batchChunk bounds the requests signed in one transaction: a ledger
// transaction holds about 2 MiB, and an activation takes up to 5 KB.
const batchChunk = 256

// SignAll signs several requests with one unlocked key. Each chunk of
// requests is recorded in one synced transaction (so a batch costs one disk
// sync per chunk, not per request) before any response is returned; a bad
// request is reported in its result and does not stop the others.
//
// A store error (a full disk) stops the batch: nothing of its chunk is
// recorded. If chunks before it were, SignAll returns their results along
// with the error, and the requests not signed carry that error as theirs:
// the licences recorded must reach their hosts (signing them again gives
// the same licences).
func (d *Desk) SignAll(names []string, requests [][]byte) ([]BatchResult, error) {
	return d.SignAllWith(names, requests, SignOptions{})
}

// SignAllWith is SignAll with options.
func (d *Desk) SignAllWith(names []string, requests [][]byte, opts SignOptions) ([]BatchResult, error) {
	if d.signer == nil {
		return nil, errors.New("the desk is locked: Unlock it first")
	}
	out := make([]BatchResult, len(requests))
	for start := 0; start < len(requests); start += batchChunk {
		end := min(start+batchChunk, len(requests))
		now := d.cfg.now()
		err := d.db.Update(func(txn *badger.Txn) error {
			for i := start; i < end; i++ {
				out[i] = BatchResult{Name: names[i]}
				a, req, err := format.VerifyRequest(requests[i], now)
				if err != nil {
					out[i].Err = requestError(err, now)
					continue
				}
				out[i].Signed, out[i].Err = d.sign(txn, now, a, req, opts)
				if out[i].Err != nil && !isRefusal(out[i].Err) {
					return out[i].Err // a store error: nothing of this chunk is recorded
				}
			}
			return nil
		})
		if err != nil {
			if start == 0 {
				return nil, err
			}
			for i := start; i < len(requests); i++ {
				out[i] = BatchResult{Name: names[i], Err: err}
			}
			return out, err
		}
	}
	return out, nil
}

func isRefusal(err error) bool {
	var r *refusal
	return errors.As(err, &r)
}

// TransferPeriod is the period of a product key's transfer limit: how
// often its licences may move, by a reinstall from a new store (which puts
// the old licence on the revocation list, since a copy of the old store
// may live on) or by a deactivation (which frees the activation for
// another machine, while a backup of the old store may live on).
const TransferPeriod = 30 * 24 * time.Hour

// DefaultTransfers is how many transfers a product key allows per
// TransferPeriod unless sold otherwise; MaxTransfers is the most a key may
// be sold with.
const (
	DefaultTransfers = 3
	MaxTransfers     = 10
)

// transferLimit returns the key's limit per TransferPeriod.
func (pk *ProductKey) transferLimit() int {
	switch {
	case pk.Transfers < 0:
		return 0
	case pk.Transfers == 0: // the default, and ledgers older than the limit
		return DefaultTransfers
	}
	return pk.Transfers
}

// transferKey is the index entry pkmove/<key>/<unix nanos>/<license_id>
// of one transfer (a reinstall from a new store, a deactivation).
func transferKey(key string, at time.Time, id format.ID) string {
	return fmt.Sprintf("%s%s/%020d/%s", prefixPKTransfer, key, at.UnixNano(), id)
}

// recentTransfers counts the key's transfers in the TransferPeriod before
// now; with prune it deletes the older entries, so
// that the index stays small.
func recentTransfers(txn *badger.Txn, key string, now time.Time, prune bool) (int, error) {
	prefix := prefixPKTransfer + key + "/"
	n := 0
	var old []string
	err := kv.ScanKeys(txn, prefix, func(k string) error {
		ns, _, _ := strings.Cut(k[len(prefix):], "/")
		t, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrDamaged, k)
		}
		if now.Sub(time.Unix(0, t)) < TransferPeriod {
			n++
		} else {
			old = append(old, k)
		}
		return nil
	})
	if err != nil || !prune {
		return n, err
	}
	for _, k := range old {
		if err := txn.Delete([]byte(k)); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// requestError words a request's refusal from the desk's side: a request
// signed in the future comes from a host whose clock is ahead.
func requestError(err error, now time.Time) error {
	if cb := (*format.ClockBehindError)(nil); errors.As(err, &cb) {
		wait := max((cb.By - format.DefaultSkew + time.Minute - 1).Truncate(time.Minute), time.Minute) // rounded up
		return refuseCause(ErrClockAhead, err, fmt.Sprintf("request: signed %s after this desk's time (%s, signed at %s): the host's clock is ahead, or this desk's behind; have the host's clock set right and a new request made (or sign it again in %s)",
			cb.By.Round(time.Second), now.Format(time.RFC3339), cb.SignedAt.UTC().Format(time.RFC3339), wait))
	}
	return fmt.Errorf("request: %w", err)
}

// reinstallThreshold is the threshold of a licence for fingerprint fp: the
// issuing rule (format.IssueThreshold), and for a reinstall no more
// tolerant than its first activation still allows. The first activation's
// fingerprint tolerates nO-tO changed identifiers; the request used d of
// them; the new licence may tolerate only the rest. So wherever the new
// licence holds, the first activation's would too: a machine that passed
// as a reinstall by faking one identifier (a clone given the original's
// SMBIOS UUID) gets a licence that its real identifiers do not match, and
// a chain of reinstalls cannot walk away from the first machine.
func reinstallThreshold(fp format.Fingerprint, replaced *Activation) int {
	t := format.IssueThreshold(fp)
	if replaced == nil {
		return t
	}
	m := format.Match(replaced.Origin, fp)
	left := m.Total - m.Needed - len(m.Changed) // the tolerance the origin has left
	n := len(fp.Components)
	return min(n, max(t, n-max(0, left)))
}

// sameComponents reports whether two fingerprints name the same
// identifiers with the same values (thresholds aside).
func sameComponents(a, b format.Fingerprint) bool {
	return maps.Equal(a.Components, b.Components)
}
