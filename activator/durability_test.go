package activator

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
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

func sameDigest(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
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
			if !sameDigest(before, dirDigest(t, e.cfg.Dir)) {
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
