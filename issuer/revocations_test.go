package issuer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
)

// revokedIn returns the ids of a fresh revocation list.
func revokedIn(t *testing.T, d *Desk) []format.ID {
	t.Helper()
	b, _, err := d.Revocations()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := d.keySet()
	if err != nil {
		t.Fatal(err)
	}
	a, err := format.Verify(b, format.VerifyOptions{Keys: keys, Kinds: []format.Kind{format.KindRevocations}, Now: d.cfg.now()})
	if err != nil {
		t.Fatal(err)
	}
	return a.Payload.(*format.Revocations).Revoked
}

// One customer cannot fill the revocation list: reinstalls from the same
// store cost no entry, reinstalls from new stores are limited per key and
// period (past it only with Force, recorded), and entries leave the list
// once their licence has expired.
func TestRevocationScaling(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})

	// The same store asks again and again: every answer is a reinstall
	// that supersedes the last, and none costs a revocation entry.
	a := newHost(t, "m-a", "mac-a", "disk-a")
	for i := range 50 {
		c.Add(time.Minute)
		s, err := d.Sign(a.request(t, key, "9.1.0", c.Now()))
		if err != nil || (i > 0 && !s.Reinstall) {
			t.Fatalf("request %d from the same store: %+v %v", i, s, err)
		}
	}
	if ids := revokedIn(t, d); len(ids) != 0 {
		t.Fatalf("reinstalls from the same store put %d licences on the list", len(ids))
	}

	// Reinstalls from new stores (the same machine, a new host key each
	// time): three in 30 days, then only with Force.
	for i := range DefaultTransfers {
		c.Add(time.Minute)
		if s, err := d.Sign(newHost(t, "m-a", "mac-a", "disk-a").request(t, key, "9.1.0", c.Now())); err != nil || !s.Reinstall {
			t.Fatalf("reinstall %d from a new store: %+v %v", i, s, err)
		}
	}
	c.Add(time.Minute)
	req := newHost(t, "m-a", "mac-a", "disk-a").request(t, key, "9.1.0", c.Now())
	_, err := d.Sign(req)
	if !errors.Is(err, ErrTransferLimit) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("a fourth reinstall from a new store: %v", err)
	}
	forced, err := d.SignWith(req, SignOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := d.Keys()
	if keys[0].RecentTransfers != 4 || keys[0].TransferLimit() != DefaultTransfers {
		t.Fatalf("keys list: %+v", keys[0])
	}
	l, _ := d.Ledger()
	for _, act := range l.Activations {
		if act.LicenseID == forced.LicenseID && !act.Forced {
			t.Fatal("the ledger does not record the forced reinstall")
		}
	}
	if ids := revokedIn(t, d); len(ids) != 4 {
		t.Fatalf("four reinstalls from new stores: %d entries", len(ids))
	}
	// A period later the key may be reinstalled again.
	c.Add(TransferPeriod)
	if _, err := d.Sign(newHost(t, "m-a", "mac-a", "disk-a").request(t, key, "9.1.0", c.Now())); err != nil {
		t.Fatalf("a reinstall a period later: %v", err)
	}

	// Entries leave the list once their licence has expired.
	end := c.Now().AddDate(0, 1, 0)
	trial := oneKey(t, d, KeyOptions{Expires: &end})
	s, err := d.Sign(newHost(t, "m-t", "mac-t", "disk-t").request(t, trial, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Revoke(s.LicenseID, "refunded"); err != nil {
		t.Fatal(err)
	}
	if ids := revokedIn(t, d); !contains(ids, s.LicenseID) {
		t.Fatal("the revoked trial is not on the list")
	}
	c.Add(40 * 24 * time.Hour)
	other, _ := d.Sign(newHost(t, "m-o", "mac-o", "disk-o").request(t, oneKey(t, d, KeyOptions{}), "9.1.0", c.Now()))
	if err := d.Revoke(other.LicenseID, "refunded"); err != nil {
		t.Fatal(err)
	}
	if ids := revokedIn(t, d); contains(ids, s.LicenseID) || !contains(ids, other.LicenseID) {
		t.Fatalf("after the trial expired: %v", ids)
	}
}

func contains(ids []format.ID, id format.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// At the documented maximum the list is still signed and fits; past it a
// revocation is refused with what to do instead.
func TestRevocationsFull(t *testing.T) {
	d, c := newDesk(t)
	s, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, oneKey(t, d, KeyOptions{}), "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	err = d.db.Update(func(txn *badger.Txn) error {
		for i := range format.MaxRevoked {
			var b [16]byte
			b[0], b[1], b[15] = byte(i>>8), byte(i), 0xaa
			id, _ := format.NewID(strings.NewReader(string(b[:])))
			if err := setJSON(txn, prefixRevoked+string(id), revokedEntry{Reason: strings.Repeat("r", format.MaxTextBytes)}); err != nil {
				return err
			}
		}
		return txn.Set([]byte(keyRevDirty), []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := revokedIn(t, d); len(ids) != format.MaxRevoked {
		t.Fatalf("a full list holds %d", len(ids))
	}
	if err := d.Revoke(s.LicenseID, "one more"); !errors.Is(err, ErrTooManyRevoked) || !strings.Contains(err.Error(), "issuer keys revoke") {
		t.Fatalf("one more: %v", err)
	}
}

// TestClockAheadRequest: a request from a host whose clock is 10 minutes
// fast is refused saying that the host's clock is ahead (not "behind");
// one from a host 10 minutes slow is signed (the host then meets the
// response in its future: activator's TestClockDirections).
func TestClockAheadRequest(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Activations: 2})
	_, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now().Add(10*time.Minute)))
	if !errors.Is(err, ErrClockAhead) || !errors.Is(err, format.ErrClockBehind) {
		t.Fatalf("host 10 minutes fast: %v", err)
	}
	for _, want := range []string{"signed 10m0s after this desk's time", "the host's clock is ahead, or this desk's behind", "sign it again in 5m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the message does not say %q: %v", want, err)
		}
	}
	if _, err := d.Sign(newHost(t, "m2", "mac2", "disk2").request(t, key, "9.1.0", c.Now().Add(-10*time.Minute))); err != nil {
		t.Fatalf("host 10 minutes slow: %v", err)
	}
}

// activatedBeforeFullList returns a desk with one key activated once,
// whose revocation list the operator's own revocations then filled up to
// the reserve: a reinstall of that activation must be forced.
func activatedBeforeFullList(t *testing.T) (*Desk, *clock, string, *Signed) {
	t.Helper()
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	first, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	fillRevoked(t, d, format.MaxRevoked-RevocationReserve, "OTHER-KEY", false, 2)
	return d, c, key, first
}

// fillRevoked writes n live index entries (as if revoked), of product key
// key and automatic when auto.
func fillRevoked(t *testing.T, d *Desk, n int, key string, auto bool, tag byte) {
	t.Helper()
	at := d.cfg.now()
	err := d.db.Update(func(txn *badger.Txn) error {
		for i := range n {
			var b [16]byte
			b[0], b[1], b[15] = byte(i>>8), byte(i), tag
			id, _ := format.NewID(strings.NewReader(string(b[:])))
			if err := setJSON(txn, prefixRevoked+string(id), revokedEntry{Reason: "x", ProductKey: key, Auto: auto, At: &at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// No customer can fill the list every customer's hosts need: one key's
// reinstalls keep at most MaxAutoRevokedPerKey licences on it, and
// reinstalls leave RevocationReserve entries for the operator's own
// revocations; --force signs past either, and says when the old licence
// could not be revoked. (Found in review: a key sold with many reinstalls,
// or many keys over the years, filled the list for everyone.)
func TestRevocationRoomPerKeyAndReserve(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Transfers: MaxTransfers})
	if _, err := d.CreateKeys(KeyOptions{Product: "astera", Version: 9, Clients: 1, Activations: 1, Count: 1, Transfers: MaxTransfers + 1}); err == nil {
		t.Fatal("a key sold with more reinstalls than MaxTransfers")
	}
	if _, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now())); err != nil {
		t.Fatal(err)
	}
	fillRevoked(t, d, MaxAutoRevokedPerKey, key, true, 1)
	req := newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now())
	if _, err := d.Sign(req); !errors.Is(err, ErrTransferLimit) || !strings.Contains(err.Error(), "replaced by moved reinstalls") {
		t.Fatalf("one key past its room on the list: %v", err)
	}
	if s, err := d.SignWith(req, SignOptions{Force: true}); err != nil || s.Unrevoked != "" {
		t.Fatalf("forced: %+v %v", s, err)
	}

	// The operator's own revocations fill the list up to the reserve:
	// reinstalls stop there, the operator does not.
	d2, c2, key2, first := activatedBeforeFullList(t)
	req2 := newHost(t, "m", "mac", "disk").request(t, key2, "9.1.0", c2.Now())
	if _, err := d2.Sign(req2); !errors.Is(err, ErrTooManyRevoked) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("a reinstall into the reserve: %v", err)
	}
	s, err := d2.SignWith(req2, SignOptions{Force: true})
	if err != nil || s.Unrevoked != first.LicenseID {
		t.Fatalf("forced into the reserve: %+v %v", s, err)
	}
	other, _ := d2.Sign(newHost(t, "m2", "mac2", "disk2").request(t, oneKey(t, d2, KeyOptions{}), "9.1.0", c2.Now()))
	if err := d2.Revoke(other.LicenseID, "refunded"); err != nil {
		t.Fatalf("the operator revokes within the reserve: %v", err)
	}
}

// A ledger entry written before entries recorded the end of validity (the
// reason alone) leaves the list when its key's licences expire; a list
// cached in the version 1 format is signed again in version 2.
func TestLegacyRevocationEntries(t *testing.T) {
	d, c := newDesk(t)
	end := c.Now().AddDate(0, 1, 0)
	s, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, oneKey(t, d, KeyOptions{Expires: &end}), "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	err = d.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte(prefixRevoked+string(s.LicenseID)), []byte("refunded")); err != nil {
			return err
		}
		return txn.Set([]byte(keyRevDirty), []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := revokedIn(t, d); !contains(ids, s.LicenseID) {
		t.Fatal("a legacy entry is not on the list")
	}
	c.Add(40 * 24 * time.Hour)
	d.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyRevDirty), []byte("1")) })
	if ids := revokedIn(t, d); contains(ids, s.LicenseID) {
		t.Fatal("a legacy entry of an expired licence stays on the list")
	}
	// A cached list in the old format is not handed out again.
	v1 := []byte(`{"format":"airlock/revocations/1","serial":7,"issued":"2026-06-01T00:00:00Z","revoked":[]}`)
	msg, err := d.signer.SignMessage(v1, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	d.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyRevList), msg) })
	b, serial, err := d.Revocations()
	if a, _ := format.DecodeUnverified(b); err != nil || serial != 3 || a == nil || a.Payload.(*format.Revocations).Serial != 3 {
		t.Fatalf("after a cached version 1 list: serial %d, %v", serial, err)
	}
}

// Deactivations count as transfers with reinstalls from new stores: a key
// moved from machine to machine by deactivating (while a backup of each
// old store may live on) is bounded like a reinstalled one. (Found in
// review: deactivation was an unmetered way around the reinstall limit.)
func TestDeactivationsAreTransfers(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Transfers: 2})
	var last *Signed
	var lastHost *host
	for i := range 3 {
		h := newHost(t, fmt.Sprint("m", i), fmt.Sprint("mac", i), fmt.Sprint("disk", i))
		s, err := d.Sign(h.request(t, key, "9.1.0", c.Now()))
		if err != nil {
			t.Fatalf("machine %d: %v", i, err)
		}
		last, lastHost = s, h
		_, err = d.Deactivate(h.receipt(t, s, c.Now()))
		if i < 2 && err != nil {
			t.Fatalf("deactivation %d: %v", i, err)
		}
		if i == 2 && !errors.Is(err, ErrTransferLimit) {
			t.Fatalf("a third move in 30 days on a key sold with two: %v", err)
		}
	}
	if r, err := d.DeactivateWith(lastHost.receipt(t, last, c.Now()), true); err != nil || r.AlreadyFreed {
		t.Fatalf("forced: %+v %v", r, err)
	}
	l, _ := d.Ledger()
	var csv strings.Builder
	l.WriteCSV(&csv)
	if !strings.Contains(csv.String(), ",deactivation,") || !strings.Contains(csv.String(), "forced past the transfer limit") {
		t.Fatalf("the ledger does not show the forced deactivation:\n%s", csv.String())
	}
}

// The wait the clock message suggests is rounded up: signing again after
// it works. (Found in review: 5m29s ahead said "in 0s".)
func TestClockAheadWaitRoundedUp(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	req := newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now().Add(5*time.Minute+29*time.Second))
	_, err := d.Sign(req)
	if !errors.Is(err, ErrClockAhead) || !strings.Contains(err.Error(), "sign it again in 1m0s") {
		t.Fatalf("5m29s ahead: %v", err)
	}
	c.Add(time.Minute)
	if _, err := d.Sign(req); err != nil {
		t.Fatalf("signed again after the wait it gave: %v", err)
	}
}
