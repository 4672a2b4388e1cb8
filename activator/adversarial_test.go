package activator

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// The adversarial suite of the host side (SECURITY.md): a host admin with
// root edits the store, garbles its files, plays with the clock.

// activeEnv returns an environment with an active, time-limited licence.
func activeEnv(t *testing.T) (*env, *Snapshot) {
	e := newEnv(t)
	s := e.store()
	end := format.NewTime(t0.AddDate(0, 1, 0))
	e.importUntil(s, end)
	st, err := s.Status()
	if err != nil || !st.Active() {
		t.Fatalf("setup: %v %+v", err, st)
	}
	s.Close()
	return e, st
}

// widens reports how got grants more than base, or "".
func widens(base, got *Snapshot) string {
	if !got.Active() {
		return ""
	}
	if !base.Active() {
		return "active where the original is not"
	}
	allowed := map[string]bool{}
	for _, f := range base.Features {
		allowed[f] = true
	}
	for _, f := range got.Features {
		if !allowed[f] {
			return "feature " + f
		}
	}
	if got.Clients > base.Clients {
		return "more clients"
	}
	bEnd, gEnd := base.Licenses[0].NotAfter, got.Licenses[0].NotAfter
	if bEnd != nil && (gEnd == nil || gEnd.After(*bEnd)) {
		return "a later expiry"
	}
	return ""
}

func copyDir(t *testing.T, from string) string {
	to := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return to
}

func storeKeys(t *testing.T, dir string) []string {
	d, err := kv.Open(dir, false, time.Second, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var keys []string
	d.View(func(txn *badger.Txn) error {
		return kv.ScanKeys(txn, "", func(k string) error { keys = append(keys, k); return nil })
	})
	return keys
}

// TestStoreEditsNeverWiden edits every value in the store, one at a time,
// in every way (delete, garbage, one flipped byte, cut in half, replaced
// by another stored value), and checks that the licence is never wider
// than the vendor signed: at most locked.
func TestStoreEditsNeverWiden(t *testing.T) {
	e, base := activeEnv(t)
	keys := storeKeys(t, e.cfg.Dir)
	if len(keys) < 6 {
		t.Fatalf("only %d keys in the store: %v", len(keys), keys)
	}
	edits := map[string]func(v []byte, other []byte) []byte{
		"delete":       nil,
		"garbage":      func(v, _ []byte) []byte { return []byte("garbage") },
		"flip a byte":  func(v, _ []byte) []byte { c := bytes.Clone(v); c[len(c)/2] ^= 0x20; return c },
		"cut in half":  func(v, _ []byte) []byte { return v[:len(v)/2] },
		"other value":  func(_, other []byte) []byte { return other },
		"zero maxtime": func(v, _ []byte) []byte { return []byte("0") },
	}
	n := 0
	for _, key := range keys {
		for name, edit := range edits {
			dir := copyDir(t, e.cfg.Dir)
			d, err := kv.Open(dir, false, time.Second, nil, "test")
			if err != nil {
				t.Fatal(err)
			}
			err = d.Update(func(txn *badger.Txn) error {
				item, err := txn.Get([]byte(key))
				if err != nil {
					return err
				}
				v, _ := item.ValueCopy(nil)
				if edit == nil {
					return txn.Delete([]byte(key))
				}
				// "other value": the value of another key in the store.
				other := []byte("x")
				for _, k := range keys {
					if k != key {
						if it, err := txn.Get([]byte(k)); err == nil {
							other, _ = it.ValueCopy(nil)
							break
						}
					}
				}
				if len(v) == 0 {
					v = []byte{0}
				}
				return txn.Set([]byte(key), edit(v, other))
			})
			d.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", name, key, err)
			}
			cfg := e.cfg
			cfg.Dir = dir
			s, err := OpenStore(cfg, false)
			if err != nil {
				continue // refusing to open at all is locked, not wider
			}
			st, err := s.Status()
			s.Close()
			n++
			if err == nil {
				if w := widens(base, st); w != "" {
					t.Errorf("%s of %q widens the licence: %s", name, key, w)
				}
			}
		}
	}
	// Most edits leave a store that opens: the check above must have run.
	if n < len(keys)*len(edits)/2 {
		t.Fatalf("only %d of %d edited stores opened; the check hardly ran", n, len(keys)*len(edits))
	}
	t.Logf("%d edited stores checked (%d keys)", n, len(keys))
}

// TestForeignResponsePlanted: a licence the vendor signed for another
// store, planted as this store's active licence, is locked.
func TestForeignResponsePlanted(t *testing.T) {
	e, _ := activeEnv(t)
	other := newEnv(t)
	os2 := other.store()
	req := other.request(os2)
	foreign := other.respond(req.Binary, func(r *format.Response) {
		r.Features = []string{"dataflow", "subflow", "workflow"}
		r.Limits.Clients = 50
	})
	a, _ := format.DecodeUnverified(foreign)
	id := a.Payload.(*format.Response).LicenseID
	d, err := kv.Open(e.cfg.Dir, false, time.Second, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	d.Update(func(txn *badger.Txn) error {
		txn.Set([]byte(prefixResponse+string(id)), a.Binary)
		return txn.Set([]byte(importKey(1<<40, id)), nil)
	})
	d.Close()
	s := e.store()
	st, _ := s.Status()
	if st.Active() || !strings.Contains(strings.Join(st.Problems, " "), "another host key") {
		t.Fatalf("planted foreign licence: %+v", st)
	}
}

// TestGarbledFiles truncates or garbles each file of the store: status
// reports a problem, never unlocks, never crashes.
func TestGarbledFiles(t *testing.T) {
	e, base := activeEnv(t)
	entries, _ := os.ReadDir(e.cfg.Dir)
	for _, ent := range entries {
		for _, mode := range []string{"truncate", "garble", "remove"} {
			dir := copyDir(t, e.cfg.Dir)
			p := filepath.Join(dir, ent.Name())
			b, _ := os.ReadFile(p)
			switch mode {
			case "truncate":
				os.WriteFile(p, b[:len(b)/2], 0o600)
			case "garble":
				for i := len(b) / 3; i < len(b) && i < len(b)/3+64; i++ {
					b[i] ^= 0xff
				}
				os.WriteFile(p, b, 0o600)
			case "remove":
				os.Remove(p)
			}
			cfg := e.cfg
			cfg.Dir = dir
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s %s: panic: %v", mode, ent.Name(), r)
					}
				}()
				s, err := OpenStore(cfg, false)
				if err != nil {
					return // refused: locked, with a message
				}
				defer s.Close()
				st, err := s.Status()
				if err == nil {
					if w := widens(base, st); w != "" {
						t.Errorf("%s %s widens: %s", mode, ent.Name(), w)
					}
				}
			}()
		}
	}
}

// TestBackupRestoredAfterDeactivation asserts the documented residual
// risk: a store copied while active and restored after a deactivation is
// active again (the vendor has freed the activation; SECURITY.md).
func TestBackupRestoredAfterDeactivation(t *testing.T) {
	e, _ := activeEnv(t)
	backup := copyDir(t, e.cfg.Dir)
	s := e.store()
	if _, _, err := s.Deactivate(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg := e.cfg
	cfg.Dir = backup
	s2, err := OpenStore(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if st, _ := s2.Status(); !st.Active() {
		t.Fatalf("the residual risk changed: a restored backup is %s; update SECURITY.md", st.State)
	}
}

// TestExpiryBoundary: valid up to the second before not_after, expired at it.
func TestExpiryBoundary(t *testing.T) {
	e, _ := activeEnv(t)
	s := e.store()
	end := t0.AddDate(0, 1, 0)
	e.clock.Set(end.Add(-time.Second))
	if st, _ := s.Status(); st.State != StateActive {
		t.Fatalf("a second before not_after: %s", st.State)
	}
	e.clock.Set(end)
	if st, _ := s.Status(); st.State != StateExpired {
		t.Fatalf("at not_after: %s", st.State)
	}
}

// TestFutureResponse: a response signed beyond the skew after the host's
// trusted time is refused, saying the clock is behind.
func TestFutureResponse(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	req := e.request(s)
	e.clock.Set(t0.Add(3 * time.Hour)) // the vendor's clock
	resp := e.respond(req.Binary, nil)
	e.clock.Set(t0) // the host's
	_, err := s.Import(resp, ImportOptions{})
	if !errors.Is(err, format.ErrClockBehind) || !errors.Is(err, ErrClockBehind) || !strings.Contains(err.Error(), "signed 3h0m0s after this host's time") || !strings.Contains(err.Error(), "this host's clock is behind") {
		t.Fatalf("response from the future: %v", err)
	}
}

// TestVendorKeyExpiryByTrustedTime: a vendor key that expired is judged by
// the trusted time; setting the wall clock back does not revive it.
func TestVendorKeyExpiryByTrustedTime(t *testing.T) {
	e := newEnv(t)
	k, err := format.GenerateKey(format.KeyOptions{Name: "short-lived vendor", Now: t0.Add(-time.Hour), Lifetime: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e.vendor = k
	e.cfg.VendorKeys = format.NewKeySet(k.Public())
	s := e.store()
	req := e.request(s)
	// format.Sign refuses expiring keys; sign the message directly, as a
	// careless signer could.
	a, r, _ := format.VerifyRequest(req.Binary, t0)
	id, _ := format.NewID(strings.NewReader(strings.Repeat("k", 16)))
	fp := r.Fingerprint
	fp.Threshold = format.DefaultThreshold(len(fp.Components))
	body, _ := format.EncodePayload(&format.Response{LicenseID: id, RequestID: r.RequestID, RequestDigest: a.Digest, Issued: format.NewTime(t0),
		Product: "astera", Versions: []int{9}, Licensee: r.Licensee, HostKeyFingerprint: a.Signer.Fingerprint(), Fingerprint: fp,
		Features: []string{"workflow"}, Limits: format.Limits{Clients: 1}})
	msg, err := k.SignMessage(body, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(msg, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(72 * time.Hour)) // past the key's expiry
	if st, _ := s.Status(); st.Active() {
		t.Fatal("active under an expired vendor key")
	}
	e.clock.Set(t0.Add(time.Hour)) // wound back: the trusted time stays later
	if st, _ := s.Status(); st.Active() {
		t.Fatalf("the clock set back revived an expired vendor key: %+v", st)
	}
}

// TestImportBitFlips imports single-bit flips of a response through the
// host (a sample of every bit position's byte): each is refused and the
// store is unchanged. format's TestVerifyEveryBitFlip covers every bit.
func TestImportBitFlips(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	req := e.request(s)
	a, _ := format.DecodeUnverified(e.respond(req.Binary, nil))
	before := storeDump(t, s)
	for i := 0; i < len(a.Binary)*8; i += 13 {
		b := bytes.Clone(a.Binary)
		b[i/8] ^= 1 << (i % 8)
		if _, err := s.Import(b, ImportOptions{}); err == nil {
			t.Fatalf("bit %d flipped: imported", i)
		}
	}
	if storeDump(t, s) != before {
		t.Fatal("refused imports changed the store")
	}
}

// FuzzImport: whatever the input, an import either refuses without
// changing the store, or is a valid artifact.
func FuzzImport(f *testing.F) {
	e := newEnv(f)
	s, err := OpenStore(e.cfg, true)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	req := e.request(s)
	f.Add(e.respond(req.Binary, nil))
	f.Add(req.Binary)
	f.Add([]byte(req.QRText))
	f.Fuzz(func(t *testing.T, in []byte) {
		st, _ := s.state()
		before := len(st.responses)
		if _, err := s.Import(in, ImportOptions{}); err == nil {
			return
		}
		st, _ = s.state()
		if len(st.responses) != before {
			t.Fatal("a refused import stored a response")
		}
	})
}
