package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/airlock-license/airlock/internal/testutil"
)

// runAs says how a row's command runs.
type runAs int

const (
	asSelf          runAs = iota
	asOtherUser           // as nobody (uid 65534), which needs root
	asReadOnlyMount       // with the store bind-mounted read-only, in a mount namespace of its own
)

// prepareRun returns cmd changed to run as the row says, or skips the row
// where this machine cannot (not root; in CI it must).
func prepareRun(t *testing.T, as runAs, h *msgHost, cmd *exec.Cmd) *exec.Cmd {
	if os.Geteuid() != 0 || (as == asReadOnlyMount && !testutil.CanSimulateMachine()) {
		if os.Getenv("CI") == "true" {
			t.Fatal("this row needs root (and unshare -m) in CI")
		}
		t.Skip("needs root (and unshare -m)")
	}
	switch as {
	case asOtherUser:
		// nobody must reach the program and the row's files, not the store.
		for d := h.dir; d != filepath.Dir(os.TempDir()) && d != "/"; d = filepath.Dir(d) {
			if d == os.TempDir() {
				break
			}
			os.Chmod(d, 0o755)
		}
		os.Chmod(filepath.Dir(h.e.bin), 0o755)
		filepath.Walk(h.dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() && filepath.Dir(p) == h.dir {
				os.Chmod(p, 0o644)
			}
			return nil
		})
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	case asReadOnlyMount:
		script := `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"`
		ro := exec.Command("unshare", append([]string{"-m", "sh", "-c", script, "sh", h.store, cmd.Path}, cmd.Args[1:]...)...)
		ro.Env, ro.Dir = cmd.Env, cmd.Dir
		return ro
	}
	return cmd
}
