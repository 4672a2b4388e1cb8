package activator

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-license/airlock/format"
)

// The way back from a damaged store (issue 12): a backup restores the host
// key and every licence, on this machine; the restored store is the same
// store, so it is not active on another machine.
func TestBackupRestore(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.importUntil(s, format.NewTime(t0.AddDate(1, 0, 0)))
	want, _ := s.Status()
	s.Close()
	before := dirDigest(t, e.cfg.Dir)
	var backup bytes.Buffer
	if err := Backup(e.cfg, &backup); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(before, dirDigest(t, e.cfg.Dir)) {
		t.Fatal("backup changed the store's files")
	}

	// Never over a store.
	if err := Restore(e.cfg, bytes.NewReader(backup.Bytes())); err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("restore over the store: %v", err)
	}
	if !maps.Equal(before, dirDigest(t, e.cfg.Dir)) {
		t.Fatal("a refused restore changed the store's files")
	}

	// A cut or altered backup is refused before anything is written.
	b := backup.Bytes()
	cfg := e.cfg
	cfg.Dir = filepath.Join(t.TempDir(), "restored")
	for name, bad := range map[string][]byte{
		"cut":          b[:len(b)-10],
		"altered":      flipByte(b, len(b)-20),
		"longer":       append(append([]byte(nil), b...), 'x'),
		"not a backup": []byte("hello\n"),
		"empty":        {},
		"wrong digest": []byte(strings.Replace(string(b), "sha256 ", "sha256 0", 1)),
	} {
		if err := Restore(cfg, bytes.NewReader(bad)); !errors.Is(err, ErrBadBackup) {
			t.Errorf("%s backup: %v", name, err)
		}
		if _, err := os.Stat(cfg.Dir); !os.IsNotExist(err) {
			t.Fatalf("%s backup left %s behind", name, cfg.Dir)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(cfg.Dir)); len(entries) != 0 {
		t.Fatalf("refused restores left %d files beside the store", len(entries))
	}

	// The store lost, and restored: the same licence, active.
	os.RemoveAll(e.cfg.Dir)
	if err := Restore(e.cfg, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	s = e.store()
	got, err := s.Status()
	if err != nil || !got.Active() || got.Licenses[0].LicenseID != want.Licenses[0].LicenseID {
		t.Fatalf("restored: %+v %v", got, err)
	}
	s.Close()

	// On another machine the restored store is not active.
	other := *e
	other.host = map[string]string{"machine-id": "m-2", "mac": "52:54:00:99:99:99", "root-disk": "ef53:99"}
	other.cfg.fingerprint = other.fingerprint
	other.cfg.Dir = filepath.Join(t.TempDir(), "elsewhere")
	if err := Restore(other.cfg, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if st := other.readOnlyStatus(); st.Active() || !strings.Contains(strings.Join(st.Problems, " "), "another machine") {
		t.Fatalf("restored on another machine: %+v", st)
	}
}

// wrongDigest changes the first digit of a backup's digest.
func wrongDigest(b []byte) []byte {
	c := append([]byte(nil), b...)
	i := bytes.Index(c, []byte("sha256 ")) + len("sha256 ")
	if c[i] == '0' {
		c[i] = '1'
	} else {
		c[i] = '0'
	}
	return c
}
