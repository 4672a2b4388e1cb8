package activator

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirDigest maps every file under dir to its mode and SHA-256.
func dirDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if n := d.Name(); n == viewFileName || n == "SESSION" {
			// A reader that read the store whole may leave a read view
			// (and the writers' lock file) beside it; neither is a record.
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		out[rel] = fi.Mode().String() + " " + string(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A read command on a store whose MANIFEST is damaged fell back to a
// writer's open, Badger started afresh and the host key and licences were
// gone, with status saying "inactive". Now every command refuses the
// store as damaged, naming the MANIFEST, and leaves every file as it was.
func TestDamagedManifestNeverWiped(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{})
	for range 5 {
		if _, err := s.Status(); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for _, cut := range []int64{10, 0, 7} {
		m := filepath.Join(e.cfg.Dir, "MANIFEST")
		orig, _ := os.ReadFile(m)
		if err := os.Truncate(m, cut); err != nil {
			t.Fatal(err)
		}
		before := dirDigest(t, e.cfg.Dir)
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), "MANIFEST") {
				t.Errorf("MANIFEST cut to %d bytes: %s: %v", cut, what, err)
			}
			if !maps.Equal(before, dirDigest(t, e.cfg.Dir)) {
				t.Fatalf("MANIFEST cut to %d bytes: %s changed the store's files", cut, what)
			}
		}
		_, err := OpenStoreReadOnly(e.cfg)
		check("read-only open", err)
		l, err := Open(e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		snap := l.Snapshot()
		l.Close()
		if snap.Active() || len(snap.Problems) == 0 {
			t.Errorf("the product on a damaged store: %+v", snap)
		} else {
			check("the product's Open", fmt.Errorf("%w: %s", ErrStoreDamaged, snap.Problems[0]))
		}
		_, err = OpenStore(e.cfg, false)
		check("open for writing", err)
		_, err = OpenStore(e.cfg, true)
		check("open for writing, create", err)
		os.WriteFile(m, orig, 0o600)
	}
	s2, err := OpenStoreReadOnly(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if st, err := s2.Status(); err != nil || !st.Active() {
		t.Fatalf("restored MANIFEST: %+v %v", st, err)
	}
}

// Every kind of damage, and every way to open: read commands leave every
// file byte-identical and either read the store whole or refuse it as
// damaged; a writer's open refuses it the same way, or keeps everything
// it held (the licence still active).
func TestDamageTable(t *testing.T) {
	other := newEnv(t)
	os2 := other.store()
	other.request(os2)
	os2.Close()
	otherFile := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(other.cfg.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tables := func(dir string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
		return m
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"flipped byte in a table", func(t *testing.T, dir string) {
			p := tables(dir)[0]
			b, _ := os.ReadFile(p)
			b[len(b)/3] ^= 0x40
			os.WriteFile(p, b, 0o600)
		}},
		{"table cut in half", func(t *testing.T, dir string) {
			p := tables(dir)[0]
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()/2)
		}},
		{"a table missing", func(t *testing.T, dir string) { os.Remove(tables(dir)[0]) }},
		{"value logs missing", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
			for _, p := range m {
				os.Remove(p)
			}
		}},
		{"MANIFEST of another store", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "MANIFEST"), otherFile("MANIFEST"), 0o600)
		}},
		{"a table of another store", func(t *testing.T, dir string) {
			os.WriteFile(tables(dir)[0], otherFile(filepath.Base(tables(other.cfg.Dir)[0])), 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.store()
			e.mustImport(s, e.respond(e.request(s).Binary, nil), ImportOptions{})
			s.Close()
			tc.damage(t, e.cfg.Dir)
			before := dirDigest(t, e.cfg.Dir)
			readOK := func(what string, active bool, err error) {
				t.Helper()
				if !maps.Equal(before, dirDigest(t, e.cfg.Dir)) {
					t.Fatalf("%s changed the store's files", what)
				}
				if err == nil && !active {
					t.Errorf("%s: read as inactive with no error: a damaged store passed for an empty one", what)
				}
				if err != nil && !errors.Is(err, ErrStoreDamaged) {
					t.Errorf("%s: %v", what, err)
				}
			}
			if r, err := OpenStoreReadOnly(e.cfg); err != nil {
				readOK("read-only open", false, err)
			} else {
				st, err := r.Status()
				r.Close()
				readOK("status", err == nil && st.Active(), err)
			}
			l, err := Open(e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			snap := l.Snapshot()
			l.Close()
			if !snap.Active() {
				readOK("the product's Open", false, fmt.Errorf("%w: %v", ErrStoreDamaged, snap.Problems))
			} else {
				readOK("the product's Open", true, nil)
			}
			w, err := OpenStore(e.cfg, false)
			if err != nil {
				readOK("open for writing", false, err)
				return
			}
			st, err := w.Status()
			w.Close()
			if err != nil || !st.Active() {
				t.Errorf("a writer opened the damaged store and lost the licence: %+v %v", st, err)
			}
		})
	}
}
