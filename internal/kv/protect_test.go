package kv

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestProtectedDACL(t *testing.T) {
	const service = "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003" // NT SERVICE\TrustedInstaller's form
	for _, tc := range []struct {
		user string
		dir  bool
		want string
	}{
		{service, true, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;" + service + ")"},
		{service, false, "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;" + service + ")"},
		{"S-1-5-21-1004336348-1177238915-682003330-1001", true, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-21-1004336348-1177238915-682003330-1001)"},
		// A service running as LocalSystem, or a token whose user is the
		// Administrators group: no entry twice.
		{"S-1-5-18", true, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"},
		{"S-1-5-32-544", false, "D:P(A;;FA;;;SY)(A;;FA;;;BA)"},
		// LocalService and NetworkService are accounts like any other.
		{"S-1-5-19", true, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-19)"},
	} {
		got, err := protectedDACL(tc.user, tc.dir)
		if err != nil || got != tc.want {
			t.Errorf("protectedDACL(%s, %v) = %q, %v\nwant %q", tc.user, tc.dir, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "SY", "WD", "S-1-5", "S-1-5-21-1)(A;OICI;FA;;;WD", "S-1-5-21-1 ", "s-1-5-18", "S-1-5-21-1\x00",
		"S-1-5-", "S-1--5", "S-1-5--1", "S-1-1234567890123456-1", "S-1-5-12345678901", "S-1-5" + strings.Repeat("-1", 16), "S-1-+5-1"} {
		if got, err := protectedDACL(bad, true); err == nil {
			t.Errorf("protectedDACL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestIsLocked(t *testing.T) {
	for _, msg := range []string{
		`Cannot acquire directory lock on "/var/lib/airlock".  Another process is using this Badger database.: resource temporarily unavailable`,
		`Cannot create lock file "C:\\ProgramData\\airlock\\LOCK".  Another process is using this Badger database: The process cannot access the file because it is being used by another process.`,
	} {
		if !isLocked(errors.New(msg)) {
			t.Errorf("not seen as locked: %s", msg)
		}
	}
	if isLocked(errors.New("file does not exist")) {
		t.Error("any error seen as locked")
	}
}

func TestWriteSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vendor.sec.asc.tmp")
	// A file left by an interrupted write, readable by all.
	if err := os.WriteFile(p, []byte("old and longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecretFile(p, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "secret" {
		t.Errorf("read back %q, %v", b, err)
	}
	if runtime.GOOS != "windows" { // see protect_windows_test.go
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
		}
	}
}
