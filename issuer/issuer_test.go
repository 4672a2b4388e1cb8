package issuer

import (
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
)

var t0 = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newDesk(t testing.TB) (*Desk, *clock) {
	c := &clock{t: t0}
	d, err := OpenDesk(Config{Dir: filepath.Join(t.TempDir(), "desk"), Now: c.Now}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Init(InitOptions{Name: "Vendor Licensing", Email: "lic@example.com", Passphrase: []byte("pw")}); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock([]byte("pw")); err != nil {
		t.Fatal(err)
	}
	return d, c
}

// host simulates a host: a host key and machine identifiers.
type host struct {
	key *format.PrivateKey
	ids map[string]string
}

func newHost(t testing.TB, ids ...string) *host {
	k, err := format.GenerateKey(format.KeyOptions{Name: "host", Now: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	h := &host{key: k, ids: map[string]string{}}
	// Three identifiers (machine-id, mac, root-disk), or five with the
	// SMBIOS UUID and the disk serial.
	for i, n := range []string{"machine-id", "mac", "root-disk", "dmi-product-uuid", "disk-serial"}[:len(ids)] {
		h.ids[n] = ids[i]
	}
	return h
}

func (h *host) request(t testing.TB, productKey, version string, at time.Time) []byte {
	id, _ := format.NewID(rand.Reader)
	fp := format.Fingerprint{Components: map[string]string{}}
	for n, v := range h.ids {
		fp.Components[n] = format.HashComponent("astera", v)
	}
	msg, err := format.Sign(h.key, &format.Request{RequestID: id, Created: format.NewTime(at), Product: "astera", ProductVersion: version,
		ProductKey: productKey, Licensee: format.Licensee{Name: "Ada Admin", Organization: "Example Bank"}, Fingerprint: fp,
		HostKey: format.HostKeyField(h.key.Public())}, at)
	if err != nil {
		t.Fatal(err)
	}
	return format.Armor(msg, format.KindRequest)
}

func (h *host) receipt(t testing.TB, s *Signed, at time.Time) []byte {
	a, err := format.DecodeUnverified(s.Response)
	if err != nil {
		t.Fatal(err)
	}
	r := a.Payload.(*format.Response)
	msg, err := format.Sign(h.key, &format.Deactivation{LicenseID: r.LicenseID, RequestID: r.RequestID, HostKeyFingerprint: h.key.Fingerprint(), Deactivated: format.NewTime(at)}, at)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func oneKey(t testing.TB, d *Desk, o KeyOptions) string {
	if o.Product == "" {
		o.Product, o.Version, o.Features, o.Clients = "astera", 9, []string{"dataflow", "workflow"}, 2
	}
	o.Activations, o.Count = max(o.Activations, 1), 1
	ks, err := d.CreateKeys(o)
	if err != nil {
		t.Fatal(err)
	}
	return ks[0].Key
}

func TestSignAndCount(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Activations: 1})
	a := newHost(t, "m-a", "mac-a", "disk-a")
	b := newHost(t, "m-b", "mac-b", "disk-b")

	reqA := a.request(t, key, "9.1.0", c.Now())
	s1, err := d.Sign(reqA)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Used != 1 || s1.Allowed != 1 || s1.Reissued || s1.Reinstall {
		t.Fatalf("first: %+v", s1)
	}
	// The same request again: the same licence, not counted.
	s2, err := d.Sign(reqA)
	if err != nil || !s2.Reissued || s2.LicenseID != s1.LicenseID || !bytes.Equal(s2.Response, s1.Response) {
		t.Fatalf("same request: %+v %v", s2, err)
	}
	// Another host: no activation left; the error says where they are.
	_, err = d.Sign(b.request(t, key, "9.1.0", c.Now()))
	if !errors.Is(err, ErrActivationLimit) || !strings.Contains(err.Error(), string(s1.LicenseID)) {
		t.Fatalf("second host: %v", err)
	}
	// A reinstall on host A (its store lost: a new host key, same machine).
	c.Add(time.Hour)
	a2 := newHost(t, "m-a", "mac-a", "disk-a")
	s3, err := d.Sign(a2.request(t, key, "9.1.0", c.Now()))
	if err != nil || !s3.Reinstall || s3.Used != 1 {
		t.Fatalf("reinstall: %+v %v", s3, err)
	}
	// Host A deactivates the new licence: B may activate.
	fr, err := d.Deactivate(a2.receipt(t, s3, c.Now()))
	if err != nil || fr.AlreadyFreed {
		t.Fatalf("deactivate: %+v %v", fr, err)
	}
	again, err := d.Deactivate(a2.receipt(t, s3, c.Now()))
	if err != nil || !again.AlreadyFreed {
		t.Fatalf("second receipt: %+v %v", again, err)
	}
	if _, err := d.Sign(b.request(t, key, "9.1.0", c.Now())); err != nil {
		t.Fatalf("after deactivation: %v", err)
	}
}

func TestSignRefusals(t *testing.T) {
	d, c := newDesk(t)
	key9 := oneKey(t, d, KeyOptions{})
	key7 := oneKey(t, d, KeyOptions{Product: "astera", Version: 7, Features: []string{"dataflow"}, Clients: 1})
	exp := t0.Add(24 * time.Hour)
	keyExp := oneKey(t, d, KeyOptions{Product: "astera", Version: 9, Clients: 1, Expires: &exp})
	h := newHost(t, "m", "mac", "disk")
	unsold, _ := format.NewProductKey(rand.Reader)

	cases := []struct {
		name string
		req  func() []byte
		want error
		text string
	}{
		{"version 7 key for 9.1", func() []byte { return h.request(t, key7, "9.1.0", c.Now()) }, ErrWrongVersion, "activates astera version 7, not version 9.1.0"},
		{"unsold key", func() []byte { return h.request(t, unsold.String(), "9.1.0", c.Now()) }, ErrUnknownProductKey, "never sold"},
		{"altered request", func() []byte {
			a, _ := format.DecodeUnverified(h.request(t, key9, "9.1.0", c.Now()))
			return bytes.Replace(a.Binary, []byte("Ada Admin"), []byte("Eve Admin"), 1)
		}, format.ErrBadSignature, ""},
		{"expired key", func() []byte { c.Add(48 * time.Hour); return h.request(t, keyExp, "9.1.0", c.Now()) }, ErrProductKeyExpired, "expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := d.Ledger()
			_, err := d.Sign(tc.req())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("want %v (%q), got %v", tc.want, tc.text, err)
			}
			after, _ := d.Ledger()
			if len(after.Activations) != len(before.Activations) {
				t.Fatal("a refused request changed the ledger")
			}
		})
	}
}

func TestWrongPassphrase(t *testing.T) {
	d, _ := newDesk(t)
	d.signer = nil
	if err := d.Unlock([]byte("nope")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := d.Init(InitOptions{Name: "x", Passphrase: []byte("y")}); !errors.Is(err, ErrAlreadyInit) {
		t.Fatalf("second init: %v", err)
	}
}

func TestRotationKeepsLedger(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Activations: 2})
	s1, err := d.Sign(newHost(t, "1", "1", "1").request(t, key, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := d.VendorKeys(false)
	if _, err := d.Init(InitOptions{Name: "Vendor 2027", Passphrase: []byte("pw2"), Rotate: true, CurrentPassphrase: []byte("wrong")}); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("rotation without the current passphrase: %v", err)
	}
	if _, err := d.Init(InitOptions{Name: "Vendor 2027", Passphrase: []byte("pw2"), Rotate: true, CurrentPassphrase: []byte("pw")}); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock([]byte("pw2")); err != nil {
		t.Fatal(err)
	}
	all, _ := d.VendorKeys(true)
	cur, _ := d.VendorKeys(false)
	if len(all) != 2 || cur[0].Fingerprint() == old[0].Fingerprint() {
		t.Fatalf("keys after rotation: %d", len(all))
	}
	s2, err := d.Sign(newHost(t, "2", "2", "2").request(t, key, "9.1.0", c.Now()))
	if err != nil || s2.Used != 2 {
		t.Fatalf("after rotation: %+v %v", s2, err)
	}
	in, err := d.Inspect(s1.Response)
	if err != nil || !in.Valid {
		t.Fatalf("old response after rotation: %+v %v", in, err)
	}
}

func TestRevocationsSerial(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	s, _ := d.Sign(newHost(t, "1", "1", "1").request(t, key, "9.1.0", c.Now()))
	_, s1, err := d.Revocations()
	if err != nil || s1 != 1 {
		t.Fatalf("first list: %d %v", s1, err)
	}
	if _, again, _ := d.Revocations(); again != 1 {
		t.Fatalf("no change, serial %d", again)
	}
	if err := d.Revoke(s.LicenseID, "refunded"); err != nil {
		t.Fatal(err)
	}
	list, s2, err := d.Revocations()
	if err != nil || s2 != 2 {
		t.Fatalf("after revoke: %d %v", s2, err)
	}
	keys, _ := d.keySet()
	a, err := format.Verify(list, format.VerifyOptions{Keys: keys, Kinds: []format.Kind{format.KindRevocations}, Now: c.Now()})
	if err != nil || !a.Payload.(*format.Revocations).Contains(s.LicenseID) {
		t.Fatalf("list: %v", err)
	}
	if err := d.Revoke("AAAAAAAAAAAAAAAAAAAAAAAAAA", ""); !errors.Is(err, ErrUnknownLicense) {
		t.Fatalf("unknown licence: %v", err)
	}
}

func TestLedgerCSV(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	h := newHost(t, "1", "1", "1")
	if _, err := d.Sign(h.request(t, key, "9.1.0", c.Now())); err != nil {
		t.Fatal(err)
	}
	l, err := d.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := l.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][1] != "key" || rows[2][1] != "activation" || rows[2][6] != "Ada Admin" {
		t.Fatalf("csv: %v %q", err, rows)
	}
	if cellSafe("=HYPERLINK(1)") != "'=HYPERLINK(1)" || cellSafe("Ada") != "Ada" || cellSafe("x;=1+1") != "'x;=1+1" || cellSafe("a;b") != "a;b" {
		t.Fatal("formula cells are not neutralised")
	}
}

func BenchmarkSign(b *testing.B) {
	d, c := newDesk(b)
	key := oneKey(b, d, KeyOptions{Activations: 1_000_000})
	reqs := make([][]byte, 0, 1024)
	for i := 0; i < 1024; i++ {
		reqs = append(reqs, newHost(b, strings.Repeat("m", i+1), strings.Repeat("a", i+1), strings.Repeat("d", i+1)).request(b, key, "9.1.0", c.Now()))
	}
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i >= len(reqs) {
			b.StopTimer()
			reqs = append(reqs, newHost(b, strings.Repeat("n", i+1), strings.Repeat("b", i+1), strings.Repeat("e", i+1)).request(b, key, "9.1.0", c.Now()))
			b.StartTimer()
		}
		if _, err := d.Sign(reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSignAll(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Activations: 2})
	reqs := [][]byte{
		newHost(t, "1", "1", "1").request(t, key, "9.1.0", c.Now()),
		[]byte("not a request"),
		newHost(t, "2", "2", "2").request(t, key, "9.1.0", c.Now()),
		newHost(t, "3", "3", "3").request(t, key, "9.1.0", c.Now()),
	}
	res, err := d.SignAll([]string{"a", "b", "c", "d"}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[1].Err == nil || res[2].Err != nil || !errors.Is(res[3].Err, ErrActivationLimit) {
		t.Fatalf("batch: %+v", res)
	}
	l, _ := d.Ledger()
	if len(l.Activations) != 2 {
		t.Fatalf("ledger holds %d activations", len(l.Activations))
	}
}

// BenchmarkSignBatch signs 100 requests in one call, as `issuer sign
// DIR/*.req -o out/` does.
func BenchmarkSignBatch(b *testing.B) {
	d, c := newDesk(b)
	key := oneKey(b, d, KeyOptions{Activations: 1_000_000})
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		b.StopTimer()
		names := make([]string, 100)
		reqs := make([][]byte, 100)
		for i := range reqs {
			id := strings.Repeat("x", n+1) + strings.Repeat("y", i+1)
			reqs[i] = newHost(b, id, id+"m", id+"d").request(b, key, "9.1.0", c.Now())
		}
		b.StartTimer()
		res, err := d.SignAll(names, reqs)
		if err != nil || res[99].Err != nil {
			b.Fatal(err)
		}
	}
}

// Regressions found in review.

// A copied store (the same host key) on another machine is a new host.
func TestCopiedHostKeyIsNotAReinstall(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	a := newHost(t, "m-a", "mac-a", "disk-a")
	if _, err := d.Sign(a.request(t, key, "9.1.0", c.Now())); err != nil {
		t.Fatal(err)
	}
	b := newHost(t, "m-b", "mac-b", "disk-b")
	b.key = a.key // the store was copied
	if _, err := d.Sign(b.request(t, key, "9.1.0", c.Now())); !errors.Is(err, ErrActivationLimit) {
		t.Fatalf("copied host key on another machine: %v", err)
	}
}

// A chain of reinstalls cannot walk a licence to another machine one
// identifier at a time: each is compared with the first activation.
func TestReinstallCannotDrift(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	steps := [][]string{{"m-a", "mac-a", "disk-a", "uuid-a", "sn-a"}, {"m-a", "mac-b", "disk-a", "uuid-a", "sn-a"}, {"m-a", "mac-b", "disk-a", "uuid-b", "sn-a"}}
	for i, ids := range steps {
		_, err := d.Sign(newHost(t, ids...).request(t, key, "9.1.0", c.Now()))
		if i < 2 && err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i == 2 && !errors.Is(err, ErrActivationLimit) {
			t.Fatalf("two identifiers away from the first activation: %v", err)
		}
	}
}

// Revoking a licence does not free its activation, and the host gets no
// new licence by asking again.
func TestRevokedStaysRevoked(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	a := newHost(t, "m-a", "mac-a", "disk-a")
	req := a.request(t, key, "9.1.0", c.Now())
	s, err := d.Sign(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Revoke(s.LicenseID, "refunded"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sign(req); !errors.Is(err, ErrLicenseRevoked) {
		t.Fatalf("the same request again: %v", err)
	}
	if _, err := d.Sign(a.request(t, key, "9.1.0", c.Now())); !errors.Is(err, ErrLicenseRevoked) {
		t.Fatalf("a new request from the same machine: %v", err)
	}
	if _, err := d.Sign(newHost(t, "m-b", "mac-b", "disk-b").request(t, key, "9.1.0", c.Now())); !errors.Is(err, ErrActivationLimit) {
		t.Fatalf("another machine: %v", err)
	}
	if err := d.RevokeKey(key, "refunded"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sign(newHost(t, "m-c", "mac-c", "disk-c").request(t, key, "9.1.0", c.Now())); !errors.Is(err, ErrProductKeyRevoked) {
		t.Fatalf("revoked product key: %v", err)
	}
}

// A reinstall puts the replaced licence on the next revocation list, and a
// receipt for it frees nothing.
func TestReplacedLicence(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	a := newHost(t, "m-a", "mac-a", "disk-a")
	s1, _ := d.Sign(a.request(t, key, "9.1.0", c.Now()))
	a2 := newHost(t, "m-a", "mac-a", "disk-a")
	s2, err := d.Sign(a2.request(t, key, "9.1.0", c.Now()))
	if err != nil || !s2.Reinstall {
		t.Fatalf("reinstall: %v", err)
	}
	list, _, err := d.Revocations()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := format.DecodeUnverified(list)
	if !u.Payload.(*format.Revocations).Contains(s1.LicenseID) {
		t.Fatal("the replaced licence is not revoked")
	}
	r, err := d.Deactivate(a.receipt(t, s1, c.Now()))
	if err != nil || r.SupersededBy != s2.LicenseID || r.AlreadyFreed {
		t.Fatalf("receipt of the replaced licence: %+v %v", r, err)
	}
	if keys, _ := d.Keys(); keys[0].Used != 1 {
		t.Fatalf("used %d", keys[0].Used)
	}
	// Nothing changed since: the same list, byte for byte.
	l1, s, _ := d.Revocations()
	l2, s2n, _ := d.Revocations()
	if s != s2n || !bytes.Equal(l1, l2) {
		t.Fatal("the same serial with other content")
	}
}

// Large batches span several transactions.
func TestLargeBatch(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Activations: 100})
	var names []string
	var reqs [][]byte
	for i := 0; i < 60; i++ {
		id := strings.Repeat("x", i+1)
		h := newHost(t, id, id+"m", id+"d")
		reqs = append(reqs, h.request(t, key, "9.1.0", c.Now()))
		names = append(names, id)
	}
	res, err := d.SignAll(names, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	keys, err := d.CreateKeys(KeyOptions{Product: "astera", Version: 9, Clients: 1, Activations: 1, Count: 1000})
	if err != nil || len(keys) != 1000 {
		t.Fatalf("1000 keys: %d %v", len(keys), err)
	}
}

// The adversarial suite, vendor side: each refusal leaves the ledger as it
// was.
func TestDeskRefusalsLeaveLedger(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Activations: 3})
	otherKey := oneKey(t, d, KeyOptions{Product: "other-product", Version: 9, Clients: 1, Activations: 1})
	a := newHost(t, "m-a", "mac-a", "disk-a")
	sa, err := d.Sign(a.request(t, key, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	b := newHost(t, "m-b", "mac-b", "disk-b")
	forged := func() []byte {
		// B's request carrying A's host key but signed by B's.
		id, _ := format.NewID(rand.Reader)
		fp := format.Fingerprint{Components: map[string]string{"machine-id": format.HashComponent("astera", "m-b")}}
		body, _ := format.EncodePayload(&format.Request{RequestID: id, Created: format.NewTime(c.Now()), Product: "astera", ProductVersion: "9.1.0",
			ProductKey: key, Licensee: format.Licensee{Name: "Eve", Organization: "X"}, Fingerprint: fp, HostKey: format.HostKeyField(a.key.Public())})
		msg, _ := b.key.SignMessage(body, c.Now())
		return msg
	}
	// B's receipt for A's licence.
	foreignReceipt := func() []byte {
		r, _ := format.DecodeUnverified(sa.Response)
		resp := r.Payload.(*format.Response)
		msg, _ := format.Sign(b.key, &format.Deactivation{LicenseID: resp.LicenseID, RequestID: resp.RequestID, HostKeyFingerprint: b.key.Fingerprint(), Deactivated: format.NewTime(c.Now())}, c.Now())
		return msg
	}
	cases := []struct {
		name string
		do   func() error
		want error
	}{
		{"forged host signature", func() error { _, err := d.Sign(forged()); return err }, format.ErrUnknownSigner},
		{"product key of another product", func() error { _, err := d.Sign(b.request(t, otherKey, "9.1.0", c.Now())); return err }, ErrWrongProduct},
		{"receipt for another host's licence", func() error { _, err := d.Deactivate(foreignReceipt()); return err }, format.ErrUnknownSigner},
	}
	for _, tc := range cases {
		before, _ := d.Ledger()
		if err := tc.do(); !errors.Is(err, tc.want) {
			t.Errorf("%s: want %v, got %v", tc.name, tc.want, err)
		}
		after, _ := d.Ledger()
		bj, _ := json.Marshal(before)
		aj, _ := json.Marshal(after)
		if !bytes.Equal(bj, aj) {
			t.Errorf("%s changed the ledger", tc.name)
		}
	}
}

// A reinstall is a request from a machine where the licence it replaces
// would still hold (its own threshold against the first activation): a
// replaced NIC on a machine with the SMBIOS UUID is one; a clone of the
// disk with a new MAC and UUID is a new activation; on a machine with
// three identifiers (a threshold of all three) a replaced NIC is a new
// activation too, until the old licence's receipt frees it.
func TestReinstallRule(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	first, err := d.Sign(newHost(t, "m-a", "mac-a", "disk-a", "uuid-a", "sn-a").request(t, key, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if b := first.Binding(t); b.Weak || b.Threshold != 4 {
		t.Fatalf("binding of five identifiers: %+v", b)
	}
	if s, err := d.Sign(newHost(t, "m-a", "mac-new", "disk-a", "uuid-a", "sn-a").request(t, key, "9.1.0", c.Now())); err != nil || !s.Reinstall {
		t.Fatalf("a replaced NIC: %+v %v", s, err)
	}
	if _, err := d.Sign(newHost(t, "m-a", "mac-clone", "disk-a", "uuid-clone", "sn-a").request(t, key, "9.1.0", c.Now())); !errors.Is(err, ErrActivationLimit) {
		t.Fatalf("a disk clone with a new MAC and UUID: %v", err)
	}

	key3 := oneKey(t, d, KeyOptions{})
	a := newHost(t, "m-a", "mac-a", "disk-a")
	s1, err := d.Sign(a.request(t, key3, "9.1.0", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	nic := newHost(t, "m-a", "mac-new", "disk-a")
	if _, err := d.Sign(nic.request(t, key3, "9.1.0", c.Now())); !errors.Is(err, ErrActivationLimit) {
		t.Fatalf("a replaced NIC on a machine with three identifiers: %v", err)
	}
	if _, err := d.Deactivate(a.receipt(t, s1, c.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sign(nic.request(t, key3, "9.1.0", c.Now())); err != nil {
		t.Fatalf("after the old licence's receipt: %v", err)
	}
}

// Binding returns the binding the ledger recorded for s.
func (s *Signed) Binding(t *testing.T) format.Binding {
	a, err := format.DecodeUnverified(s.Response)
	if err != nil {
		t.Fatal(err)
	}
	r := a.Payload.(*format.Response)
	b := r.Fingerprint.Binding()
	if r.Fingerprint.Threshold < b.Threshold {
		t.Fatalf("issued threshold %d, below the rule's %d", r.Fingerprint.Threshold, b.Threshold)
	}
	b.Threshold = r.Fingerprint.Threshold
	return b
}

// A weak request (one identifier, or none that stays with the machine) is
// refused unless the operator or the product key allows it; the ledger
// records what allowed it.
func TestWeakBinding(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{Activations: 5})
	weak := &host{key: newHost(t, "x", "x", "x").key, ids: map[string]string{"machine-id": "m-only"}}
	diskOnly := &host{key: newHost(t, "x", "x", "x").key, ids: map[string]string{"machine-id": "m-d", "root-disk": "d", "disk-serial": "s"}}
	for _, h := range []*host{weak, diskOnly} {
		_, err := d.Sign(h.request(t, key, "9.1.0", c.Now()))
		if !errors.Is(err, ErrWeakBinding) || !strings.Contains(err.Error(), "--allow-weak-binding") {
			t.Fatalf("weak request: %v", err)
		}
	}
	if _, err := d.Sign(weak.request(t, key, "9.1.0", c.Now())); !strings.Contains(err.Error(), "only 1 machine identifier(s) (machine-id)") {
		t.Fatalf("the refusal names the identifiers: %v", err)
	}
	s, err := d.SignWith(weak.request(t, key, "9.1.0", c.Now()), SignOptions{AllowWeakBinding: true})
	if err != nil {
		t.Fatal(err)
	}
	containers := oneKey(t, d, KeyOptions{AllowWeakBinding: true})
	s2, err := d.Sign(diskOnly.request(t, containers, "9.1.0", c.Now()))
	if err != nil {
		t.Fatalf("a key sold for containers: %v", err)
	}
	l, err := d.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	by := map[format.ID]Activation{}
	for _, a := range l.Activations {
		by[a.LicenseID] = a
	}
	if a := by[s.LicenseID]; !a.Binding.Weak || a.WeakAllowed != "sign --allow-weak-binding" || a.Binding.Threshold != 1 {
		t.Fatalf("ledger, allowed by the operator: %+v", a)
	}
	if a := by[s2.LicenseID]; !a.Binding.Weak || a.WeakAllowed != "product key" || a.Binding.Threshold != 3 {
		t.Fatalf("ledger, allowed by the key: %+v", a)
	}
	var csv strings.Builder
	l.WriteCSV(&csv)
	if !strings.Contains(csv.String(), "weak (allowed by sign --allow-weak-binding): only 1 machine identifier(s) (machine-id)") {
		t.Fatalf("CSV:\n%s", csv.String())
	}
}

// A machine that passes as a reinstall by faking one identifier (a clone
// of the disk, with the original's SMBIOS UUID bind-mounted over its own,
// and its own MAC) gets a licence that does not hold on its real
// identifiers: a reinstall's licence is no more tolerant than its first
// activation still allows. (Found in review: free reinstalls from a copied
// store spread one activation over any number of clones.)
func TestReinstallNoMoreTolerantThanOrigin(t *testing.T) {
	d, c := newDesk(t)
	key := oneKey(t, d, KeyOptions{})
	a := newHost(t, "m-a", "mac-a", "disk-a", "uuid-a", "sn-a")
	if _, err := d.Sign(a.request(t, key, "9.1.0", c.Now())); err != nil {
		t.Fatal(err)
	}
	// The clone (same store, so the same host key) asks with its own MAC
	// and the original's UUID.
	clone := &host{key: a.key, ids: map[string]string{"machine-id": "m-a", "mac": "mac-b", "root-disk": "disk-a", "dmi-product-uuid": "uuid-a", "disk-serial": "sn-a"}}
	s, err := d.Sign(clone.request(t, key, "9.1.0", c.Now()))
	if err != nil || !s.Reinstall {
		t.Fatalf("one identifier changed: a reinstall: %+v %v", s, err)
	}
	if b := s.Binding(t); b.Threshold != 5 {
		t.Fatalf("the reinstall's licence tolerates %d changes, the origin had 0 left", 5-b.Threshold)
	}
	aResp, _ := format.DecodeUnverified(s.Response)
	rec := aResp.Payload.(*format.Response).Fingerprint
	real := format.Fingerprint{Components: map[string]string{}}
	for n, v := range map[string]string{"machine-id": "m-a", "mac": "mac-b", "root-disk": "disk-a", "dmi-product-uuid": "uuid-b", "disk-serial": "sn-a"} {
		real.Components[n] = format.HashComponent("astera", v)
	}
	if format.Match(rec, real).OK() {
		t.Fatal("the clone's licence holds on its real identifiers")
	}
	// A reinstall that changed nothing keeps the tolerance.
	same, err := d.Sign(newHost(t, "m-a", "mac-a", "disk-a", "uuid-a", "sn-a").request(t, key, "9.1.0", c.Now()))
	if err != nil || same.Binding(t).Threshold != 4 {
		t.Fatalf("a reinstall on the unchanged machine: %+v %v", same, err)
	}
}
