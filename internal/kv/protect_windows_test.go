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

// These run on Windows only: the SDDL itself is tested on every OS in
// protect_test.go. Under Wine the lock test runs; the ACL tests are
// skipped, because Wine 8 accepts SetNamedSecurityInfo and keeps nothing
// (measured: GetNamedSecurityInfo then shows the DACL it derives from the
// Unix mode, with Everyone allowed to read, and the mode is unchanged).

// underWine reports whether the process runs under Wine (its ntdll
// exports wine_get_version).
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

func skipUnderWine(t *testing.T) {
	if underWine() {
		t.Skip("Wine does not keep the DACLs it is given (see the comment above)")
	}
}

// scratchDir is t.TempDir without its failure to clean up under Wine 8
// (Go's RemoveAll there fails with "Invalid function"): removing is best
// effort.
func scratchDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "airlock-kv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

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
	skipUnderWine(t)
	user, err := processUserSID()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(scratchDir(t), "store")
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
	skipUnderWine(t)
	p := filepath.Join(scratchDir(t), "vendor.sec.asc")
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
	dir := filepath.Join(scratchDir(t), "store")
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
