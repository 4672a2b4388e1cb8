package testutil

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// Machine is a simulated machine for tests that must show which copies and
// clones of a host a licence survives. Every run is in new mount and
// network namespaces (no physical NIC; sysfs of the new namespace) with
// MachineID as /etc/machine-id. Root says what the root filesystem is:
//
//   - "" (the host's): a clone of this machine's disk, or this machine
//     with its NIC replaced, when MachineID is the host's own;
//   - a disk image made by [NewDisk]: another machine with its own disk
//     (a fresh ext4 filesystem on a loop device, whose disk reports no
//     serial number), through chroot, with /usr and /dev of the host;
//   - "tmpfs": a container, whose root is on no disk at all.
//
// OperatorID, when set, is provisioned at /run/secrets/airlock-operator-id
// (not with the host's root). Dirs are host directories that the program
// needs, visible at the same paths inside.
type Machine struct {
	MachineID  string
	Root       string
	OperatorID string
	Dirs       []string
}

// chrootScript builds a root on a loop-mounted image or a tmpfs, with the
// host's /usr and /dev, a machine-id, an operator id and the test's
// directories, and runs the program in it. Arguments: mount root image
// kind machine-id operator-id dirs(colon-separated) prog args...
const chrootScript = `set -e
mount=$1 r=$2 img=$3 kind=$4 id=$5 op=$6 dirs=$7
shift 7
mkdir -p "$r"
if [ "$kind" = disk ]; then "$mount" -o loop "$img" "$r"; else "$mount" -t tmpfs tmpfs "$r"; fi
for d in bin lib lib64 sbin; do
	if [ -L "/$d" ]; then ln -sfn "$(readlink "/$d")" "$r/$d"
	elif [ -d "/$d" ]; then mkdir -p "$r/$d"; "$mount" --rbind "/$d" "$r/$d"; fi
done
mkdir -p "$r/usr" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/run/secrets"
"$mount" --rbind /usr "$r/usr"
"$mount" --rbind /dev "$r/dev"
"$mount" -t proc proc "$r/proc"
"$mount" -t sysfs sysfs "$r/sys"
printf '%s\n' "$id" > "$r/etc/machine-id"
rm -f "$r/run/secrets/airlock-operator-id"
[ -z "$op" ] || printf '%s\n' "$op" > "$r/run/secrets/airlock-operator-id"
IFS=:
for d in $dirs; do mkdir -p "$r$d"; "$mount" --bind "$d" "$r$d"; done
unset IFS
exec chroot "$r" "$@"`

// NewDisk makes the disk image of a simulated machine (a 16 MiB ext4
// filesystem with a fresh UUID); runs of one Machine with the same image
// see the same root filesystem.
func NewDisk(t testing.TB) string {
	t.Helper()
	mkfs := lookOrSkip(t, "mkfs.ext4")
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	return img
}

// HostMachineID returns this machine's /etc/machine-id, for a simulated
// machine that copied it.
func HostMachineID(t testing.TB) string {
	b, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		t.Fatalf("read /etc/machine-id: %v", err)
	}
	return string(bytes.TrimSpace(b))
}

// Run runs argv on the simulated machine, with env as its whole
// environment (nil: the current one), and returns what it wrote and its
// exit code. It skips (fails in CI) where namespaces, mounts or loop
// devices are not permitted.
func (m Machine) Run(t testing.TB, argv, env []string) (stdout, stderr []byte, exitCode int) {
	t.Helper()
	if m.Root == "" {
		if m.OperatorID != "" {
			t.Fatalf("Machine: an operator id needs a root of its own")
		}
		return OtherMachine(t, m.MachineID, argv, env)
	}
	unshare, mount, sh := lookOrSkip(t, "unshare"), lookOrSkip(t, "mount"), lookOrSkip(t, "sh")
	lookOrSkip(t, "chroot")
	kind, img := "tmpfs", ""
	if m.Root != "tmpfs" {
		kind, img = "disk", m.Root
	}
	root := filepath.Join(t.TempDir(), "root")
	run := func(argv []string) ([]byte, []byte, int, error) {
		args := append([]string{"-m", "-n", sh, "-c", chrootScript, "sh", mount, root, img, kind, m.MachineID, m.OperatorID, strings.Join(m.Dirs, ":")}, argv...)
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
	_, probeErr, code, err := run([]string{"/bin/sh", "-c", "exit 0"})
	if err != nil || code != 0 {
		skipOrFail(t, "Machine: cannot simulate a machine with its own root here (unshare -m -n, a loop or tmpfs mount and chroot; needs root): exit %d, %v: %s", code, err, bytes.TrimSpace(probeErr))
	}
	stdout, stderr, exitCode, err = run(argv)
	if err != nil {
		t.Fatalf("Machine: run %s: %v", argv[0], err)
	}
	return stdout, stderr, exitCode
}
