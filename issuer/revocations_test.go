package issuer

import (
	"errors"
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
	for i := range DefaultReinstalls {
		c.Add(time.Minute)
		if s, err := d.Sign(newHost(t, "m-a", "mac-a", "disk-a").request(t, key, "9.1.0", c.Now())); err != nil || !s.Reinstall {
			t.Fatalf("reinstall %d from a new store: %+v %v", i, s, err)
		}
	}
	c.Add(time.Minute)
	req := newHost(t, "m-a", "mac-a", "disk-a").request(t, key, "9.1.0", c.Now())
	_, err := d.Sign(req)
	if !errors.Is(err, ErrReinstallLimit) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("a fourth reinstall from a new store: %v", err)
	}
	forced, err := d.SignWith(req, SignOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := d.Keys()
	if keys[0].RecentReinstalls != 4 || keys[0].ReinstallLimit() != DefaultReinstalls {
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
	c.Add(ReinstallPeriod)
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
	for _, want := range []string{"signed 10m0s after this desk's time", "the host's clock is ahead, or this desk's behind", "sign it again in 5m"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the message does not say %q: %v", want, err)
		}
	}
	if _, err := d.Sign(newHost(t, "m2", "mac2", "disk2").request(t, key, "9.1.0", c.Now().Add(-10*time.Minute))); err != nil {
		t.Fatalf("host 10 minutes slow: %v", err)
	}
}
