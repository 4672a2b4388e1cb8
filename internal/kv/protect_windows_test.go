//go:build windows

package kv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"golang.org/x/sys/windows"
)

// These run on Windows only (and under Wine, whose ACLs are its own
// approximation): the SDDL itself is tested on every OS in protect_test.go.

// daclOf returns path's DACL in SDDL and whether it is protected.
func daclOf(t *testing.T, path string) (string, bool) {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	control, _, err := sd.Control()
	if err != nil {
		t.Fatal(err)
	}
	return sd.String(), control&windows.SE_DACL_PROTECTED != 0
}

func TestProtectNewStore(t *testing.T) {
	user, err := processUserSID()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "store")
	db, err := Open(dir, true, time.Second, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	sddl, protected := daclOf(t, dir)
	if !protected {
		t.Errorf("store directory's DACL is not protected: %s", sddl)
	}
	for _, ace := range []string{"(A;OICI;FA;;;SY)", "(A;OICI;FA;;;BA)"} {
		if !strings.Contains(sddl, ace) {
			t.Errorf("store directory's DACL %s lacks %s", sddl, ace)
		}
	}
	if user != sidLocalSystem && user != sidAdministrators && !strings.Contains(sddl, user+")") {
		t.Errorf("store directory's DACL %s lacks this account (%s)", sddl, user)
	}
	if strings.Contains(sddl, ";;;WD)") || strings.Contains(sddl, ";;;BU)") || strings.Contains(sddl, ";;;AU)") {
		t.Errorf("store directory's DACL %s lets other users in", sddl)
	}
	// Badger's files inherit it.
	sddl, protected = daclOf(t, filepath.Join(dir, "MANIFEST"))
	if protected || !strings.Contains(sddl, "(A;ID;FA;;;SY)") || strings.Contains(sddl, ";;;BU)") {
		t.Errorf("MANIFEST's DACL %s (protected %v) is not the inherited one", sddl, protected)
	}
}

func TestWriteSecretFileProtected(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vendor.sec.asc")
	if err := WriteSecretFile(p, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	sddl, protected := daclOf(t, p)
	if !protected || !strings.Contains(sddl, "(A;;FA;;;SY)") || !strings.Contains(sddl, "(A;;FA;;;BA)") || strings.Contains(sddl, ";ID;") {
		t.Errorf("secret file's DACL %s (protected %v)", sddl, protected)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "secret" {
		t.Errorf("read back: %q, %v", b, err)
	}
}

func TestLockDirWindows(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	db, err := Open(dir, true, time.Second, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Badger holds the store: the lock is not to be had.
	if unlock, err := lockDir(dir); unlock != nil || err != nil {
		t.Errorf("lockDir while Badger has the store: %v, %v", unlock != nil, err)
		if unlock != nil {
			unlock()
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockDir(dir)
	if unlock == nil || err != nil {
		t.Fatalf("lockDir of a closed store: %v, %v", unlock != nil, err)
	}
	if again, err := lockDir(dir); again != nil || err != nil {
		t.Errorf("lockDir twice: %v, %v", again != nil, err)
	}
	// Badger cannot open it while the lock is held, and says so as for
	// another Badger.
	if b, err := badger.Open(badgerOptions(dir, nil)); err == nil {
		b.Close()
		t.Error("Badger opened a store whose lock is held")
	} else if !isLocked(err) {
		t.Errorf("Badger's refusal is not seen as a lock: %v", err)
	}
	unlock()
	db, err = Open(dir, false, time.Second, nil, "test")
	if err != nil {
		t.Fatalf("open after unlock: %v", err)
	}
	db.Close()
}
