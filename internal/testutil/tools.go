// Package testutil holds helpers shared by the project's tests, such as
// finding the external programs (GnuPG, Sequoia, zbar) that interoperability
// tests run.
package testutil

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// debianPackages names the Debian package that installs each external
// program the tests use.
var debianPackages = map[string]string{
	"gpg":     "gnupg",
	"gpgconf": "gpgconf",
	"sq":      "sq",
	"zbarimg": "zbar-tools",
}

// RequireTool returns the path of the program name found in PATH. When the
// program is missing, the test is skipped on a developer's machine but fails
// when the environment variable CI is "true", so that a CI image that lacks
// a tool cannot silently turn interoperability tests into skips. The message
// names the Debian package that installs the program.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	hint := ""
	if pkg, ok := debianPackages[name]; ok {
		hint = " (on Debian or Ubuntu: apt-get install " + pkg + ")"
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI but was not found in PATH%s: %v", name, hint, err)
	}
	t.Skipf("%s not found in PATH%s; skipping", name, hint)
	return ""
}

// GnuPGHome returns a fresh, empty GnuPG home directory (mode 0700) for one
// test. Its path is short, under the system's temporary directory rather
// than t.TempDir, because gpg-agent's socket path must fit in about 100
// characters. When the test ends, every GnuPG daemon started for the
// directory (gpg-agent, and dirmngr if any) is stopped and the directory is
// removed, so no agent outlives the test.
func GnuPGHome(t testing.TB) string {
	t.Helper()
	gpgconf := RequireTool(t, "gpgconf")
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatalf("create GnuPG home: %v", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("create GnuPG home: %v", err)
	}
	t.Cleanup(func() {
		cmd := exec.Command(gpgconf, "--homedir", dir, "--kill", "all")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stop GnuPG daemons for %s: %v\n%s", dir, err, out)
		}
		// A daemon that is shutting down may still remove its socket while
		// the directory is being deleted; try again briefly.
		for i := 0; ; i++ {
			err := os.RemoveAll(dir)
			if err == nil {
				return
			}
			if i == 20 {
				t.Errorf("remove GnuPG home: %v", err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return dir
}
