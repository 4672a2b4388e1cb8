package testutil

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// OtherMachineScript runs inside fresh mount and network namespaces. A
// sysfs mounted from the new network namespace lists only that namespace's
// interfaces (its lo), so the host's NICs disappear; the bind mount
// replaces /etc/machine-id. Both mounts vanish with the namespace. Run it
// as: unshare -m -n sh -c OtherMachineScript sh MOUNT MACHINE_ID_FILE PROG ARGS...
const OtherMachineScript = `set -e
mount=$1 id=$2
shift 2
"$mount" -t sysfs sysfs /sys
"$mount" --bind "$id" /etc/machine-id
exec "$@"`

// OtherMachine runs argv as if on a second machine: in new mount and
// network namespaces (unshare -m -n) where /sys is a sysfs of the new
// network namespace, so /sys/class/net holds only lo and no physical NIC,
// and /etc/machine-id reads machineID. The root filesystem and DMI data
// (not namespaced by the kernel) are the host's, as on a cloned VM. env is
// the program's whole environment (nil means the current one). It returns
// what the program wrote and its exit code.
//
// It needs root (or CAP_SYS_ADMIN) and the util-linux unshare and mount
// programs. Where they are missing or the namespaces are not permitted (an
// unprivileged user, a restrictive container) the test is skipped, but it
// fails when the environment variable CI is "true", so that CI cannot turn
// these tests into silent skips.
func OtherMachine(t testing.TB, machineID string, argv []string, env []string) (stdout, stderr []byte, exitCode int) {
	t.Helper()
	if len(argv) == 0 {
		t.Fatalf("OtherMachine: empty argv")
	}
	unshare, mount, sh := lookOrSkip(t, "unshare"), lookOrSkip(t, "mount"), lookOrSkip(t, "sh")
	idFile := filepath.Join(t.TempDir(), "machine-id")
	if err := os.WriteFile(idFile, []byte(machineID+"\n"), 0o444); err != nil {
		t.Fatalf("OtherMachine: write machine-id: %v", err)
	}
	run := func(argv, env []string) ([]byte, []byte, int, error) {
		args := append([]string{"-m", "-n", sh, "-c", OtherMachineScript, "sh", mount, idFile}, argv...)
		cmd := exec.Command(unshare, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.Bytes(), errb.Bytes(), ee.ExitCode(), nil
		}
		return out.Bytes(), errb.Bytes(), 0, err
	}
	// A first run that does nothing tells a namespace or mount refused
	// (skip) from a failure of the program under test (its result).
	_, probeErr, code, err := run([]string{sh, "-c", "exit 0"}, nil)
	if err != nil || code != 0 {
		skipOrFail(t, "OtherMachine: cannot simulate a second machine here (unshare -m -n with a sysfs mount and a bind mount of /etc/machine-id; needs root): exit %d, %v: %s", code, err, bytes.TrimSpace(probeErr))
	}
	stdout, stderr, exitCode, err = run(argv, env)
	if err != nil {
		t.Fatalf("OtherMachine: run %s: %v", argv[0], err)
	}
	return stdout, stderr, exitCode
}

func lookOrSkip(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, "%s not found in PATH (on Debian or Ubuntu: apt-get install util-linux mount): %v", name, err)
	}
	return path
}

// skipOrFail skips the test, or fails it when CI is "true".
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (required in CI)", args...)
	}
	t.Skipf(format+"; skipping", args...)
}

// CanSimulateMachine reports whether OtherMachine can work here: root, and
// the namespaces and mounts permitted.
func CanSimulateMachine() bool {
	unshare, err1 := exec.LookPath("unshare")
	mount, err2 := exec.LookPath("mount")
	if err1 != nil || err2 != nil || os.Geteuid() != 0 {
		return false
	}
	dir, err := os.MkdirTemp("", "probe")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	id := filepath.Join(dir, "machine-id")
	os.WriteFile(id, []byte("00000000000000000000000000000000\n"), 0o444)
	return exec.Command(unshare, "-m", "-n", "sh", "-c", OtherMachineScript, "sh", mount, id, "true").Run() == nil
}
