package issuer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// Deactivated is the outcome of taking back a deactivation receipt.
type Deactivated struct {
	LicenseID  format.ID
	ProductKey string
	// AlreadyFreed: the receipt was taken before; nothing changed.
	AlreadyFreed bool
	// SupersededBy: the licence had been replaced by a reinstall; its
	// activation passed to that licence, so nothing is freed.
	SupersededBy format.ID
}

// Deactivate verifies a deactivation receipt against the host key recorded
// for its licence and frees that activation, once. Freeing counts as a
// transfer of the product key (see TransferPeriod); past the key's limit
// it is refused unless DeactivateWith(..., true).
func (d *Desk) Deactivate(receipt []byte) (*Deactivated, error) {
	return d.DeactivateWith(receipt, false)
}

// DeactivateWith is Deactivate; force frees the activation past the
// product key's transfer limit (recorded in the ledger).
func (d *Desk) DeactivateWith(receipt []byte, force bool) (*Deactivated, error) {
	now := d.cfg.now()
	u, err := format.DecodeUnverified(receipt)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	claim, ok := u.Payload.(*format.Deactivation)
	if !ok {
		return nil, fmt.Errorf("receipt: %w", &format.WrongKindError{Got: u.Kind, Want: []format.Kind{format.KindDeactivation}})
	}
	var out *Deactivated
	err = d.db.Update(func(txn *badger.Txn) error {
		act := new(Activation)
		if ok, err := getJSON(txn, prefixAct+string(claim.LicenseID), act); err != nil {
			return err
		} else if !ok {
			return refuse(ErrUnknownLicense, fmt.Sprintf("licence %s was not issued by this desk", claim.LicenseID))
		}
		hk, err := (&format.Request{HostKey: act.HostKey}).PublicKey()
		if err != nil {
			return fmt.Errorf("%w: host key of licence %s: %v", ErrDamaged, act.LicenseID, err)
		}
		a, err := format.Verify(receipt, format.VerifyOptions{Keys: format.NewKeySet(hk), Kinds: []format.Kind{format.KindDeactivation}, Now: now})
		if err != nil {
			return fmt.Errorf("receipt: %w", err)
		}
		r := a.Payload.(*format.Deactivation)
		if r.RequestID != act.RequestID || r.HostKeyFingerprint != act.HostKeyFingerprint {
			return refuse(ErrReceiptMismatch, fmt.Sprintf("the receipt for licence %s names another request or host key than the ledger", act.LicenseID))
		}
		out = &Deactivated{LicenseID: act.LicenseID, ProductKey: act.ProductKey, SupersededBy: act.SupersededBy}
		if act.Deactivated != nil {
			out.AlreadyFreed = true
			return nil
		}
		if act.SupersededBy != "" {
			t := now
			act.Deactivated = &t
			return setJSON(txn, prefixAct+string(act.LicenseID), act)
		}
		if act.Revoked != nil && !force {
			// A revoked licence keeps its activation, so that the same
			// host cannot fill it again by asking: its own receipt does
			// not free it either.
			return refuse(ErrLicenseRevoked, fmt.Sprintf("licence %s was revoked on %s (%s); its activation stays in use. If the customer should get it back, free it with issuer deactivate --force (recorded in the ledger)",
				act.LicenseID, act.Revoked.Format("2006-01-02"), act.RevokeReason))
		}
		pk := new(ProductKey)
		if _, err := getJSON(txn, prefixPK+act.ProductKey, pk); err != nil {
			return err
		}
		n, err := recentTransfers(txn, act.ProductKey, now, true)
		if err != nil {
			return err
		}
		if limit := pk.transferLimit(); n >= limit {
			if !force {
				return refuse(ErrTransferLimit, fmt.Sprintf("product key %s moved %d time(s) in the last %d days (reinstalls from a new store and deactivations), the most it allows (%d); the host's licence is gone, but its activation stays in use: free it with issuer deactivate --force (recorded in the ledger) if the move is genuine",
					act.ProductKey, n, int(TransferPeriod.Hours()/24), limit))
			}
			act.DeactivationForced = true
		}
		t := now
		act.Deactivated = &t
		if err := endLive(txn, act); err != nil {
			return err
		}
		if err := txn.Set([]byte(transferKey(act.ProductKey, now, act.LicenseID)), nil); err != nil {
			return err
		}
		return setJSON(txn, prefixAct+string(act.LicenseID), act)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Revoke marks a licence revoked; the next revocation list carries it
// until the licence expires.
func (d *Desk) Revoke(id format.ID, reason string) error {
	if reason != "" {
		if err := format.CheckText("--reason", reason); err != nil {
			return err
		}
	}
	return d.db.Update(func(txn *badger.Txn) error {
		act := new(Activation)
		if ok, err := getJSON(txn, prefixAct+string(id), act); err != nil {
			return err
		} else if !ok {
			return refuse(ErrUnknownLicense, fmt.Sprintf("licence %s was not issued by this desk", id))
		}
		if act.Revoked != nil {
			return nil
		}
		return markRevoked(txn, act, reason, d.cfg.now(), false)
	})
}

// revokedEntry is the value of the index revoked/<license_id> that
// revocation lists are made from. (Ledgers written before it held the
// reason alone.)
type revokedEntry struct {
	Reason string `json:"reason"`
	// ProductKey is the licence's key; Auto marks a revocation made by a
	// reinstall from a new store (bounded per key: MaxAutoRevokedPerKey).
	ProductKey string `json:"product_key,omitempty"`
	Auto       bool   `json:"auto,omitempty"`
	// At is when the licence was revoked (entries written before it: the
	// activation's Revoked time).
	At *time.Time `json:"at,omitempty"`
	// NotAfter is the end of the licence's validity: once past, the
	// licence is refused as expired anyway and leaves the lists.
	NotAfter *time.Time `json:"not_after,omitempty"`
}

// parseRevoked reads the index entry of licence id; an entry of an older
// ledger (the reason alone) gets its end of validity from the licence's
// product key.
func parseRevoked(txn *badger.Txn, id string, v []byte) revokedEntry {
	var e revokedEntry
	if len(v) > 0 && v[0] == '{' && json.Unmarshal(v, &e) == nil {
		return e
	}
	e = revokedEntry{Reason: string(v)}
	act, pk := new(Activation), new(ProductKey)
	if ok, _ := getJSON(txn, prefixAct+id, act); ok {
		if ok, _ := getJSON(txn, prefixPK+act.ProductKey, pk); ok {
			e.NotAfter = pk.Expires
		}
	}
	return e
}

// inForce reports whether a revoked licence still needs its entry at now.
func (e revokedEntry) inForce(now time.Time) bool {
	return e.NotAfter == nil || now.Before(*e.NotAfter)
}

// revocationSpace is what signing needs to know of the revocation index.
type revocationSpace struct {
	total int // revoked licences a list must still carry
	// autoOfKey: of them, the licences of the key replaced by moved
	// reinstalls in the last AutoRevokedWindow.
	autoOfKey int
	// oldestAuto is the time of the oldest automatic entry; evictable is
	// its licence when older than AutoRevokedMinAge ("" otherwise).
	oldestAuto time.Time
	evictable  string
}

// full reports whether automatic revocations have used their room.
func (r revocationSpace) full() bool { return r.total >= format.MaxRevoked-RevocationReserve }

// revocationRoom reads the revocation index for a reinstall of key at now.
func revocationRoom(txn *badger.Txn, now time.Time, key string) (revocationSpace, error) {
	var r revocationSpace
	err := kv.Scan(txn, prefixRevoked, func(k string, v []byte) error {
		id := k[len(prefixRevoked):]
		e := parseRevoked(txn, id, v)
		if !e.inForce(now) {
			return nil
		}
		r.total++
		if !e.Auto {
			return nil
		}
		at := e.revokedAt(txn, id)
		if e.ProductKey == key && now.Sub(at) < AutoRevokedWindow {
			r.autoOfKey++
		}
		if r.oldestAuto.IsZero() || at.Before(r.oldestAuto) {
			r.oldestAuto = at
			r.evictable = ""
			if now.Sub(at) >= AutoRevokedMinAge {
				r.evictable = id
			}
		}
		return nil
	})
	return r, err
}

// liveRevoked counts the revoked licences that a list must still carry.
func liveRevoked(txn *badger.Txn, now time.Time) (int, error) {
	total := 0
	err := kv.Scan(txn, prefixRevoked, func(k string, v []byte) error {
		if parseRevoked(txn, k[len(prefixRevoked):], v).inForce(now) {
			total++
		}
		return nil
	})
	return total, err
}

// revokedAt is when the entry's licence was revoked.
func (e revokedEntry) revokedAt(txn *badger.Txn, id string) time.Time {
	if e.At != nil {
		return *e.At
	}
	act := new(Activation)
	if ok, _ := getJSON(txn, prefixAct+id, act); ok && act.Revoked != nil {
		return *act.Revoked
	}
	return time.Time{}
}

// dropRevocation takes licence id, revoked by a reinstall, off the
// revocation lists to make room: it stays marked revoked in the ledger,
// with the time it left the list.
func dropRevocation(txn *badger.Txn, id string, now time.Time) error {
	act := new(Activation)
	if ok, err := getJSON(txn, prefixAct+id, act); err != nil {
		return err
	} else if ok {
		act.RevocationDropped = &now
		if err := setJSON(txn, prefixAct+id, act); err != nil {
			return err
		}
	}
	if err := txn.Delete([]byte(prefixRevoked + id)); err != nil {
		return err
	}
	return txn.Set([]byte(keyRevDirty), []byte("1"))
}

// MaxAutoRevokedPerKey bounds the licences of one product key that moved
// reinstalls may put on the revocation list per AutoRevokedWindow;
// RevocationReserve is the room that automatic revocations leave on the
// list for the operator's own. When the automatic room is full, the
// oldest automatic entry leaves the list once it is AutoRevokedMinAge
// old, so that no customer can fill the list that every customer's hosts
// need for longer than that.
const (
	MaxAutoRevokedPerKey = 10
	RevocationReserve    = 200
	AutoRevokedWindow    = 365 * 24 * time.Hour
	AutoRevokedMinAge    = 90 * 24 * time.Hour
)

// markRevoked revokes act: recorded in the activation and in the index
// revoked/<license_id> that revocation lists are made from, within the
// bound of one list (format.MaxRevoked licences not yet expired).
func markRevoked(txn *badger.Txn, act *Activation, reason string, now time.Time, auto bool) error {
	n, err := liveRevoked(txn, now)
	if err != nil {
		return err
	}
	if n >= format.MaxRevoked {
		return refuse(ErrTooManyRevoked, fmt.Sprintf("%d licences are revoked and not yet expired, the most one list carries; revoke product keys instead (issuer keys revoke), which stops them from activating more", n))
	}
	entry := revokedEntry{Reason: reason, ProductKey: act.ProductKey, Auto: auto, At: &now}
	pk := new(ProductKey)
	if ok, err := getJSON(txn, prefixPK+act.ProductKey, pk); err != nil {
		return err
	} else if ok && pk.Expires != nil {
		entry.NotAfter = pk.Expires // the licences of the key end then
	}
	act.Revoked, act.RevokeReason = &now, reason
	if err := setJSON(txn, prefixAct+string(act.LicenseID), act); err != nil {
		return err
	}
	if err := setJSON(txn, prefixRevoked+string(act.LicenseID), entry); err != nil {
		return err
	}
	return txn.Set([]byte(keyRevDirty), []byte("1"))
}

// Revocations signs the list of every revoked licence not yet expired.
// Its serial grows whenever a revocation was added since the last list;
// asking again without a change gives the same list.
func (d *Desk) Revocations() ([]byte, uint64, error) {
	if d.signer == nil {
		return nil, 0, fmt.Errorf("the desk is locked: Unlock it first")
	}
	now := d.cfg.now()
	var msg []byte
	var serial uint64
	err := d.db.Update(func(txn *badger.Txn) error {
		v, err := kv.Get(txn, keyRevSerial)
		if err != nil {
			return err
		}
		serial, _ = strconv.ParseUint(string(v), 10, 64)
		dirty, err := kv.Get(txn, keyRevDirty)
		if err != nil {
			return err
		}
		if serial > 0 && dirty == nil {
			// Nothing changed since the last list: the same list again,
			// unless it is in an older format (a new one is signed then).
			last, err := kv.Get(txn, keyRevList)
			if err != nil {
				return err
			}
			if last != nil && !bytes.Contains(last, []byte(`"format":"airlock/revocations/1"`)) {
				msg = last
				return nil
			}
		}
		serial++
		list := &format.Revocations{Serial: serial, Issued: format.NewTime(now), Revoked: []format.ID{}}
		err = kv.Scan(txn, prefixRevoked, func(key string, v []byte) error {
			if parseRevoked(txn, key[len(prefixRevoked):], v).inForce(now) {
				list.Revoked = append(list.Revoked, format.ID(key[len(prefixRevoked):]))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(list.Revoked) > format.MaxRevoked {
			return fmt.Errorf("%w: %d revoked licences not yet expired do not fit one list (at most %d)", ErrTooManyRevoked, len(list.Revoked), format.MaxRevoked)
		}
		slices.Sort(list.Revoked)
		if msg, err = format.Sign(d.signer, list, now); err != nil {
			return err
		}
		if err := txn.Set([]byte(keyRevSerial), []byte(strconv.FormatUint(serial, 10))); err != nil {
			return err
		}
		if err := txn.Set([]byte(keyRevList), msg); err != nil {
			return err
		}
		return txn.Delete([]byte(keyRevDirty))
	})
	if err != nil {
		return nil, 0, err
	}
	return format.Armor(msg, format.KindRevocations), serial, nil
}
