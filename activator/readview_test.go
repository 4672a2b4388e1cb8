package activator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The read view (readview.go): readers use it only while Badger's files
// are the ones it was written beside, and judge what it holds as they
// judge the store.

// readViaView evaluates the store from its read view alone, as readStore
// does first: ok is false where readStore would read Badger.
func readViaView(t *testing.T, e *env) (*Snapshot, bool) {
	t.Helper()
	v, ok := readView(e.cfg.Dir)
	if !ok {
		return nil, false
	}
	st, err := loadState(viewRecords{v}, e.cfg.Dir, false)
	if err != nil {
		t.Fatal(err)
	}
	done := st.withFetch(viewRecords{v})
	snap := evaluate(&e.cfg, st, e.cfg.host())
	done()
	if st.fetchErr != nil {
		return nil, false
	}
	return snap, true
}

func viewBytes(t *testing.T, e *env) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.cfg.Dir, viewFileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadViewAfterWriters: every writer leaves a view that answers as the
// store does, so readers need not open Badger.
func TestReadViewAfterWriters(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	req := e.request(s)
	s.Close()
	if snap, ok := readViaView(t, e); !ok || snap.Active() {
		t.Fatalf("after a request: view used %v, %+v", ok, snap)
	}
	s = e.store()
	e.mustImport(s, e.respond(req.Binary, nil), ImportOptions{})
	s.Close()
	snap, ok := readViaView(t, e)
	if !ok || !snap.Active() || !snap.Enabled("workflow") {
		t.Fatalf("after an import: view used %v, %+v", ok, snap)
	}
	// What the view answers is what Badger answers.
	r, err := OpenStoreReadOnly(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.Status()
	r.Close()
	if err != nil || want.State != snap.State || strings.Join(want.Features, ",") != strings.Join(snap.Features, ",") {
		t.Fatalf("Badger says %+v (%v), the view %+v", want, err, snap)
	}
	s = e.store()
	if _, _, err := s.Deactivate(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if snap, ok := readViaView(t, e); !ok || snap.Active() {
		t.Fatalf("after a deactivation: view used %v, %+v", ok, snap)
	}
}

// TestReadViewStale: a view left from before a change (a writer killed
// between its commit and its view, or an old view put back) no longer
// matches Badger's files: readers read Badger, and see the change.
func TestReadViewStale(t *testing.T) {
	e, _ := activated(t)
	old := viewBytes(t, e)
	s := e.store()
	if _, _, err := s.Deactivate(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(e.cfg.Dir, viewFileName), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := readViaView(t, e); ok {
		t.Fatal("a view from before the deactivation was used")
	}
	snap, err := ReadStatus(e.cfg)
	if err != nil || snap.Active() {
		t.Fatalf("ReadStatus after a deactivation, with the old view back: %+v, %v", snap, err)
	}
	// That read left a current view.
	if snap, ok := readViaView(t, e); !ok || snap.Active() {
		t.Fatalf("after the reader's read: view used %v, %+v", ok, snap)
	}
}

// TestReadViewDamaged: a view cut short, altered without its checksum, of
// another version or too large is not used.
func TestReadViewDamaged(t *testing.T) {
	e, _ := activated(t)
	good := viewBytes(t, e)
	path := filepath.Join(e.cfg.Dir, viewFileName)
	for name, b := range map[string][]byte{
		"cut":       good[:len(good)/2],
		"flipped":   append(append([]byte{}, good[:len(good)-10]...), append([]byte{good[len(good)-10] ^ 1}, good[len(good)-9:]...)...),
		"version":   bytes.Replace(good, []byte(viewVersion), []byte("airlock-view/2"), 1),
		"empty":     {},
		"no header": good[bytes.IndexByte(good, '\n')+1:],
		"too large": append(good, bytes.Repeat([]byte(" "), maxViewSize)...),
	} {
		os.WriteFile(path, b, 0o600)
		if _, ok := readViaView(t, e); ok {
			t.Errorf("%s: the view was used", name)
		}
		if snap, err := ReadStatus(e.cfg); err != nil || !snap.Active() {
			t.Errorf("%s: ReadStatus %+v, %v", name, snap, err)
		}
	}
}

// rewriteView edits the view's records and writes it back with a valid
// checksum and the current file list: what an admin can do.
func rewriteView(t *testing.T, e *env, edit func(v *viewData)) {
	t.Helper()
	b := viewBytes(t, e)
	_, body, _ := bytes.Cut(b, []byte("\n"))
	v := new(viewData)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatal(err)
	}
	edit(v)
	body, _ = json.Marshal(v)
	sum := sha256.Sum256(body)
	out := append([]byte(viewVersion+" "+hex.EncodeToString(sum[:])+"\n"), body...)
	if err := os.WriteFile(filepath.Join(e.cfg.Dir, viewFileName), out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReadViewEdited: the view is judged as the store is. A licence of
// another host put into it, or one whose signed bytes were changed, does
// not verify for this host; the view is no way around the checks.
func TestReadViewEdited(t *testing.T) {
	other := newEnv(t)
	other.host = map[string]string{"machine-id": "m-2", "mac": "52:54:00:65:43:21", "root-disk": "ef53:7766554433221100"}
	os2 := other.store()
	foreign := other.respond(other.request(os2).Binary, nil)
	os2.Close()
	for name, edit := range map[string]func([]byte) []byte{
		"another host's licence": func([]byte) []byte { return foreign },
		"a changed byte":         func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 1; return b },
	} {
		t.Run(name, func(t *testing.T) {
			e, _ := activated(t)
			rewriteView(t, e, func(v *viewData) {
				for k, val := range v.Gets {
					if strings.HasPrefix(k, prefixResponse) && val.Present {
						val.Value = edit(val.Value)
						v.Gets[k] = val
					}
				}
			})
			snap, ok := readViaView(t, e)
			if !ok {
				t.Fatal("the edited view was not read (the test must reach the checks)")
			}
			if snap.Active() {
				t.Fatalf("an edited view unlocked features: %+v", snap)
			}
			if s, err := ReadStatus(e.cfg); err != nil || s.Active() {
				t.Fatalf("ReadStatus: %+v, %v", s, err)
			}
		})
	}
}

// TestReadViewCopiedStore: a store copied with its view and its files'
// times to another machine reads from the view there, and is not active.
func TestReadViewCopiedStore(t *testing.T) {
	e, _ := activated(t)
	to := filepath.Join(t.TempDir(), "copy")
	copyStore(t, e.cfg.Dir, to)
	entries, _ := os.ReadDir(e.cfg.Dir)
	for _, en := range entries {
		fi, _ := en.Info()
		os.Chtimes(filepath.Join(to, en.Name()), time.Now(), fi.ModTime())
	}
	c := *e
	c.cfg.Dir = to
	c.host = map[string]string{"machine-id": "m-1", "mac": "52:54:00:99:99:99", "root-disk": "ef53:9999999999999999"}
	c.cfg.fingerprint = c.fingerprint
	snap, ok := readViaView(t, &c)
	if !ok {
		t.Fatal("the copied view was not used (the test must reach the binding check)")
	}
	if snap.Active() {
		t.Fatalf("a store copied with its view is active on another machine: %+v", snap)
	}
}

// TestReadViewMissingRecord: an evaluation that asks for a record the view
// does not hold reads Badger.
func TestReadViewMissingRecord(t *testing.T) {
	e, _ := activated(t)
	rewriteView(t, e, func(v *viewData) {
		for k := range v.Gets {
			if strings.HasPrefix(k, prefixResponse) {
				delete(v.Gets, k)
			}
		}
	})
	if _, ok := readViaView(t, e); ok {
		t.Fatal("a view without the licence's response answered")
	}
	if snap, err := ReadStatus(e.cfg); err != nil || !snap.Active() {
		t.Fatalf("ReadStatus: %+v, %v", snap, err)
	}
}

// TestReadViewNoStore: without a store, ReadStatus says so and writes
// nothing.
func TestReadViewNoStore(t *testing.T) {
	e := newEnv(t)
	e.cfg.Dir = filepath.Join(t.TempDir(), "none")
	if _, err := ReadStatus(e.cfg); !errors.Is(err, ErrNoStore) {
		t.Fatalf("ReadStatus without a store: %v", err)
	}
	if _, err := os.Stat(e.cfg.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadStatus created %s", e.cfg.Dir)
	}
}
