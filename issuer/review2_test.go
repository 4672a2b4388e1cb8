package issuer

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
)

// Findings of the second review of the desk; each test fails on the code
// reviewed.

// unprivilegedView is how the licensed product, running as a service
// account, sees a host with raw identifiers ids: the SMBIOS ones exist but
// are unreadable (mode 0400).
func unprivilegedView(ids map[string]string) *activator.HostFingerprint {
	h := &activator.HostFingerprint{Product: "astera"}
	for n, v := range ids {
		c := activator.ComponentStatus{Name: n, State: activator.Found, Hash: format.HashComponent("astera", v)}
		if format.RootOnly(n) {
			c = activator.ComponentStatus{Name: n, State: activator.Unverifiable, Reason: "root only"}
		}
		h.Components = append(h.Components, c)
	}
	return h
}

func licenceFP(t *testing.T, s *Signed) format.Fingerprint {
	t.Helper()
	u, err := format.DecodeUnverified(s.Response)
	if err != nil {
		t.Fatal(err)
	}
	return u.Payload.(*format.Response).Fingerprint
}

// A clone of a VM (disk and store copied: the same host key) asks with the
// original's SMBIOS UUID, bind-mounted over product_uuid for the request
// only, and its own MAC. The desk took it for a free reinstall from the
// same store: nothing revoked, no transfer counted, while the clone's
// licence holds for the unprivileged product on the clone and the
// original's on the original; repeated, one activation ran any number of
// machines. Now only the same store with the same identifiers is free:
// any other reinstall revokes the licence it replaces and counts as a
// transfer, so the clones are bounded by the key's transfer limit and
// each leaves the licence before it on the revocation list.
func TestSameStoreReinstallWithOtherIdentifiersIsATransfer(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{}) // 1 activation, DefaultTransfers
	origIDs := map[string]string{"machine-id": "m-a", "mac": "mac-a", "root-disk": "disk-a", "dmi-product-uuid": "uuid-a", "disk-serial": "sn-a"}
	orig := &host{key: newHost(t).key, ids: origIDs}
	first, err := d.Sign(orig.request(t, key, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// The same store on the same identifiers (an upgrade, a lost
	// response): free.
	again, err := d.Sign(orig.request(t, key, "9.1.0", c.Now()))
	if err != nil || !again.Reinstall {
		t.Fatalf("same store, same identifiers: %+v %v", again, err)
	}
	if keys, _ := d.Keys(); keys[0].RecentTransfers != 0 || len(revokedIn(t, d)) != 0 {
		t.Fatalf("a reinstall from the same store on the same identifiers cost a transfer (%d) or a revocation (%v)", keys[0].RecentTransfers, revokedIn(t, d))
	}
	licences := []*Signed{first, again}
	machines := []map[string]string{origIDs, origIDs}
	for i := range DefaultTransfers + 1 {
		real := map[string]string{"machine-id": "m-a", "mac": fmt.Sprint("mac-clone", i), "root-disk": "disk-a", "dmi-product-uuid": fmt.Sprint("uuid-clone", i), "disk-serial": "sn-a"}
		atRequest := map[string]string{}
		for k, v := range real {
			atRequest[k] = v
		}
		atRequest["dmi-product-uuid"] = "uuid-a" // bind mount, request only
		clone := &host{key: orig.key, ids: atRequest}
		s, err := d.Sign(clone.request(t, key, "9.1.0", c.Now()))
		if i == DefaultTransfers {
			if !errors.Is(err, ErrTransferLimit) {
				t.Fatalf("clone %d, past the transfer limit: %v", i, err)
			}
			break
		}
		if err != nil || !s.Reinstall {
			t.Fatalf("clone %d: %+v %v", i, s, err)
		}
		licences = append(licences, s)
		machines = append(machines, real)
	}
	revoked := revokedIn(t, d)
	running := 0
	for i, s := range licences {
		if slices.Contains(revoked, s.LicenseID) || i == 0 {
			continue // revoked, or (the first) replaced at the same store on the same machine
		}
		if activator.MatchHost(licenceFP(t, s), unprivilegedView(machines[i])).OK() {
			running++
		}
	}
	keys, _ := d.Keys()
	if running != 1 || keys[0].RecentTransfers != DefaultTransfers {
		t.Fatalf("%d unrevoked licences hold on their machines (want 1); %d transfers counted (want %d); revoked %v", running, keys[0].RecentTransfers, DefaultTransfers, revoked)
	}
}

// A licence the operator revoked keeps its activation "so that the same
// host cannot fill it again by asking"; the host signed a deactivation
// receipt for it, the desk freed it, and the same machine got a fresh
// licence. Now the receipt is refused, unless the operator forces it.
func TestRevokedLicenceNotFreedByItsReceipt(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	a := newHost(t, "m-a", "mac-a", "disk-a")
	s, err := d.Sign(a.request(t, key, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Revoke(s.LicenseID, "chargeback"); err != nil {
		t.Fatal(err)
	}
	receipt := a.receipt(t, s, c.Now())
	if _, err := d.Deactivate(receipt); !errors.Is(err, ErrLicenseRevoked) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("the receipt of a revoked licence: %v", err)
	}
	if s2, err := d.Sign(a.request(t, key, "9.1.0", c.Now())); !errors.Is(err, ErrLicenseRevoked) {
		t.Fatalf("the revoked machine asks again: %+v %v", s2, err)
	}
	if _, err := d.DeactivateWith(receipt, true); err != nil {
		t.Fatalf("the operator frees it: %v", err)
	}
	if keys, _ := d.Keys(); keys[0].Used != 0 {
		t.Fatalf("forced: %d in use", keys[0].Used)
	}
}

// A reinstall forced past a nearly full list was signed with the old
// licence unrevoked, and the ledger said neither that --force was used nor
// that the old licence stayed valid.
func TestForcedPastFullListRecorded(t *testing.T) {
	d, c, key, first := activatedBeforeFullList(t)
	s, err := d.SignWith(newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now()), SignOptions{Force: true})
	if err != nil || s.Unrevoked != first.LicenseID {
		t.Fatalf("forced: %+v %v", s, err)
	}
	l, _ := d.Ledger()
	found := false
	for _, a := range l.Activations {
		if a.LicenseID == s.LicenseID {
			found = true
			if !a.Forced || !a.LeftUnrevoked {
				t.Fatalf("the ledger records the forced reinstall %s as forced %v, old licence unrevoked %v", a.LicenseID, a.Forced, a.LeftUnrevoked)
			}
		}
	}
	var csv bytes.Buffer
	if err := l.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !found || !strings.Contains(csv.String(), "stays valid on a copy of the old store") {
		t.Fatalf("the CSV ledger does not say the old licence stays valid:\n%s", csv.String())
	}
}

// Automatic revocation entries of a perpetual key never left the list, so
// MaxAutoRevokedPerKey was a lifetime budget: a key that reinstalled from
// new stores 10 times within its transfer limit was refused every later
// reinstall, years later. Now it counts per AutoRevokedWindow.
func TestAutoRevocationsPerKeyAreARate(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Activations: 500})
	if _, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now())); err != nil {
		t.Fatal(err)
	}
	for i := range MaxAutoRevokedPerKey {
		c.Add(11 * 24 * time.Hour) // within 3 per 30 days
		s, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now()))
		if err != nil || !s.Reinstall {
			t.Fatalf("reinstall %d: %v", i, err)
		}
	}
	if _, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now())); !errors.Is(err, ErrTransferLimit) {
		t.Fatalf("the 11th within a year: %v", err)
	}
	c.Add(AutoRevokedWindow)
	if _, err := d.Sign(newHost(t, "m", "mac", "disk").request(t, key, "9.1.0", c.Now())); err != nil {
		t.Fatalf("a year after the last transfer, a 500-activation key's reinstall from a new store: %v", err)
	}
}

// One customer holding many perpetual keys could fill the automatic room
// of the list (MaxRevoked-RevocationReserve) for good, and every other
// customer's reinstall from a new store was refused forever, with advice
// ("revoke product keys to make room") that made no room. Now the oldest
// automatic entry leaves the list once AutoRevokedMinAge old, the ledger
// says so, and the refusal before that names the day.
func TestFullAutoRoomMakesRoomWithAge(t *testing.T) {
	d, c := newDesk(t)
	victim := oneKey(t, d, KeyOptions{})
	if _, err := d.Sign(newHost(t, "v", "vmac", "vdisk").request(t, victim, "9.1.0", c.Now())); err != nil {
		t.Fatal(err)
	}
	abuser := oneKey(t, d, KeyOptions{})
	fillRevoked(t, d, format.MaxRevoked-RevocationReserve, abuser, true, 3)
	req := newHost(t, "v", "vmac", "vdisk").request(t, victim, "9.1.0", c.Now())
	_, err := d.Sign(req)
	day := c.Now().Add(AutoRevokedMinAge).Format("2006-01-02")
	if !errors.Is(err, ErrTooManyRevoked) || strings.Contains(err.Error(), "revoke product keys") || !strings.Contains(err.Error(), day) {
		t.Fatalf("a reinstall into a list full of recent automatic entries: %v", err)
	}
	c.Add(AutoRevokedMinAge)
	s, err := d.Sign(newHost(t, "v", "vmac", "vdisk").request(t, victim, "9.1.0", c.Now()))
	if err != nil || s.Unrevoked != "" {
		t.Fatalf("%s later: %+v %v", AutoRevokedMinAge, s, err)
	}
	if n := len(revokedIn(t, d)); n != format.MaxRevoked-RevocationReserve {
		t.Fatalf("%d on the list, want %d (one out, one in)", n, format.MaxRevoked-RevocationReserve)
	}
}

// The same, from real reinstalls: the licence that leaves the list is the
// oldest a reinstall replaced, and the ledger says so.
func TestRevocationDroppedInLedger(t *testing.T) {
	d, c := newDesk(t)
	fillRevoked(t, d, format.MaxRevoked-RevocationReserve-1, "OTHER", false, 4) // the operator's own: never dropped
	a := oneKey(t, d, KeyOptions{})
	first, err := d.Sign(newHost(t, "a", "amac", "adisk").request(t, a, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sign(newHost(t, "a", "amac", "adisk").request(t, a, "9.1.0", c.Now())); err != nil { // first goes on the list: now full
		t.Fatal(err)
	}
	c.Add(AutoRevokedMinAge + time.Hour)
	b := oneKey(t, d, KeyOptions{})
	if _, err := d.Sign(newHost(t, "b", "bmac", "bdisk").request(t, b, "9.1.0", c.Now())); err != nil {
		t.Fatal(err)
	}
	s, err := d.Sign(newHost(t, "b", "bmac", "bdisk").request(t, b, "9.1.0", c.Now()))
	if err != nil || s.Unrevoked != "" {
		t.Fatalf("%+v %v", s, err)
	}
	if slices.Contains(revokedIn(t, d), first.LicenseID) {
		t.Fatalf("%s, the oldest licence replaced by a reinstall, is still on the full list", first.LicenseID)
	}
	l, _ := d.Ledger()
	var csv bytes.Buffer
	if err := l.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), ",revocation-dropped,"+a) || !strings.Contains(csv.String(), string(first.LicenseID)) {
		t.Fatalf("the ledger does not say that %s left the list:\n%s", first.LicenseID, csv.String())
	}
}
