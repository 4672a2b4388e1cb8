package activator

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

const fpProduct = "astera"

// Environment of the helper mode: the test binary re-executed (as nobody,
// or on a simulated second machine) collects a fingerprint and prints it.
const (
	helperEnv   = "AIRLOCK_FINGERPRINT_HELPER" // "real" or "fake"
	sourcesEnv  = "AIRLOCK_FINGERPRINT_SOURCES"
	helperMark  = "AIRLOCK-FINGERPRINT: "
	nobodyID    = "65534"
	testMAC     = "52:54:00:12:34:56"
	testUUID    = "4c4c4544-0042-3510-8051-b2c04f4e4d32"
	testMachine = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// TestFingerprintHelperProcess is not a test: it does nothing unless the
// helper environment variable is set by one of the tests below, which run
// the test binary again to collect a fingerprint in another process.
func TestFingerprintHelperProcess(t *testing.T) {
	var h *HostFingerprint
	switch os.Getenv(helperEnv) {
	case "":
		return
	case "real":
		h = CollectFingerprint(fpProduct)
	case "fake":
		var f hostSources
		if err := json.Unmarshal([]byte(os.Getenv(sourcesEnv)), &f); err != nil {
			t.Fatal(err)
		}
		h = collect(fpProduct, f)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", helperMark, b)
}

// helperResult extracts the fingerprint a helper process printed.
func helperResult(t *testing.T, stdout, stderr []byte) *HostFingerprint {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), helperMark); ok {
			var h HostFingerprint
			if err := json.Unmarshal([]byte(line), &h); err != nil {
				t.Fatal(err)
			}
			return &h
		}
	}
	t.Fatalf("helper printed no fingerprint\nstdout: %s\nstderr: %s", stdout, stderr)
	return nil
}

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (required in CI)", args...)
	}
	t.Skipf(format+"; skipping", args...)
}

// sharedDir returns a new directory that every user may traverse (a
// t.TempDir is not, its parents being 0700), for a child running as nobody.
func sharedDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "airlock-fp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// asNobody runs this test binary in helper mode as user nobody (65534)
// through setpriv and returns the fingerprint it collected.
func asNobody(t *testing.T, env ...string) *HostFingerprint {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "running as nobody needs root (setpriv --reuid), this test runs as uid %d", os.Geteuid())
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		skipOrFail(t, "setpriv not found (on Debian: apt-get install util-linux): %v", err)
	}
	drop := []string{"--reuid=" + nobodyID, "--regid=" + nobodyID, "--clear-groups", "--"}
	if out, err := exec.Command(setpriv, append(drop, "true")...).CombinedOutput(); err != nil {
		skipOrFail(t, "setpriv cannot switch to uid %s here: %v: %s", nobodyID, err, bytes.TrimSpace(out))
	}
	// go test builds the binary in a 0700 directory; nobody runs a copy.
	dir := sharedDir(t)
	bin := filepath.Join(dir, "activator.test")
	copyFile(t, mustExecutable(t), bin, 0o755)
	cmd := exec.Command(setpriv, append(drop, bin, "-test.run=^TestFingerprintHelperProcess$", "-test.count=1")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper as nobody: %v\nstdout: %s\nstderr: %s", err, stdout.Bytes(), stderr.Bytes())
	}
	return helperResult(t, stdout.Bytes(), stderr.Bytes())
}

func mustExecutable(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// tree builds a fake sysfs and /etc under root.
type tree struct {
	t          *testing.T
	root       string
	sysfsMagic uint32 // see xen
}

func newTree(t *testing.T, root string) *tree {
	tr := &tree{t: t, root: root}
	tr.mkdir("sys/class/net")
	tr.mkdir("sys/devices/virtual/net")
	tr.mkdir("etc")
	return tr
}

func (tr *tree) path(rel string) string { return filepath.Join(tr.root, rel) }

func (tr *tree) mkdir(rel string) {
	if err := os.MkdirAll(tr.path(rel), 0o755); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *tree) write(rel, content string, mode os.FileMode) {
	tr.mkdir(filepath.Dir(rel))
	if err := os.WriteFile(tr.path(rel), []byte(content), mode); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.Chmod(tr.path(rel), mode); err != nil { // umask
		tr.t.Fatal(err)
	}
}

// nic adds /sys/class/net/<name> as sysfs lays it out: a link to the
// interface's directory under devices/, which holds address and
// addr_assign_type and, for a NIC with hardware behind it, a device link.
// device is "" (no device link), or a directory under sys/devices.
func (tr *tree) nic(name, device, mac, assignType string) {
	ifDir := "sys/devices/virtual/net/" + name
	if device != "" {
		ifDir = "sys/devices/" + device + "/net/" + name
		tr.mkdir("sys/devices/" + device)
	}
	tr.write(ifDir+"/address", mac+"\n", 0o444)
	if assignType != "" {
		tr.write(ifDir+"/addr_assign_type", assignType+"\n", 0o444)
	}
	if device != "" {
		if err := os.Symlink(tr.path("sys/devices/"+device), tr.path(ifDir+"/device")); err != nil {
			tr.t.Fatal(err)
		}
	}
	if err := os.Symlink(tr.path(ifDir), tr.path("sys/class/net/"+name)); err != nil {
		tr.t.Fatal(err)
	}
}

// blockdev adds a block device as sysfs lays it out: its directory under
// sys/devices with files (name: content), and the links
// sys/dev/block/<majmin> and sys/class/block/<name> to it.
func (tr *tree) blockdev(path, majmin string, files map[string]string) {
	dir := "sys/devices/" + path
	tr.mkdir(dir)
	for name, content := range files {
		tr.write(dir+"/"+name, content, 0o444)
	}
	for _, link := range []string{"sys/dev/block/" + majmin, "sys/class/block/" + filepath.Base(path)} {
		tr.mkdir(filepath.Dir(link))
		if err := os.Symlink(tr.path(dir), tr.path(link)); err != nil {
			tr.t.Fatal(err)
		}
	}
}

// slave makes the block device under sys/devices/<lower> a slave of the
// one at sys/devices/<upper> (device mapper, md).
func (tr *tree) slave(upper, lower string) {
	tr.mkdir("sys/devices/" + upper + "/slaves")
	if err := os.Symlink(tr.path("sys/devices/"+lower), tr.path("sys/devices/"+upper+"/slaves/"+filepath.Base(lower))); err != nil {
		tr.t.Fatal(err)
	}
}

// xen makes the tree a Xen guest with VM id uuid: sys/hypervisor holds
// uuid and type "xen", the tree's sys is mounted as sysfs in its
// mountinfo, and the filesystem the tree is on stands in for sysfs.
func (tr *tree) xen(uuid string) {
	tr.write("sys/hypervisor/uuid", uuid+"\n", 0o444)
	tr.write("sys/hypervisor/type", "xen\n", 0o444)
	tr.appendMountInfo("22 1 0:21 / " + tr.path("sys") + " rw,nosuid - sysfs sysfs rw")
	typ, _, err := statFS(tr.root)
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.sysfsMagic = typ
}

// appendMountInfo adds a line to the tree's proc/self/mountinfo.
func (tr *tree) appendMountInfo(line string) {
	old, _ := os.ReadFile(tr.path("proc/self/mountinfo"))
	tr.write("proc/self/mountinfo", string(old)+line+"\n", 0o444)
}

func (tr *tree) sources() hostSources {
	return hostSources{
		MachineIDPaths:  []string{tr.path("etc/machine-id"), tr.path("var/lib/dbus/machine-id")},
		DMIDir:          tr.path("sys/class/dmi/id"),
		NetDir:          tr.path("sys/class/net"),
		HypervisorUUID:  tr.path("sys/hypervisor/uuid"),
		SysfsMagic:      tr.sysfsMagic,
		StatfsPath:      "/",
		SysDir:          tr.path("sys"),
		RootDev:         "8:1",
		MountInfo:       tr.path("proc/self/mountinfo"),
		OperatorIDPaths: []string{tr.path("run/secrets/airlock-operator-id"), tr.path("etc/airlock/operator-id")},
		BtrfsDir:        tr.path("sys/fs/btrfs"),
		ByUUIDDir:       tr.path("dev/disk/by-uuid"),
	}
}

func component(t *testing.T, h *HostFingerprint, name string) ComponentStatus {
	t.Helper()
	for _, c := range h.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no component %q in %+v", name, h.Components)
	return ComponentStatus{}
}

func wantFound(t *testing.T, h *HostFingerprint, name, raw string) {
	t.Helper()
	c := component(t, h, name)
	if c.State != Found || c.Reason != "" {
		t.Fatalf("%s: state %v (%s), want found", name, c.State, c.Reason)
	}
	if raw != "" && c.Hash != format.HashComponent(h.Product, raw) {
		t.Fatalf("%s: hash %s is not the HMAC of the expected raw value", name, c.Hash)
	}
}

func wantState(t *testing.T, h *HostFingerprint, name string, state ComponentState, reason string) {
	t.Helper()
	c := component(t, h, name)
	if c.State != state || c.Hash != "" || !strings.Contains(c.Reason, reason) || strings.Contains(c.Reason, "\n") {
		t.Fatalf("%s: got %v %q (hash %q), want %v with a one-line reason containing %q", name, c.State, c.Reason, c.Hash, state, reason)
	}
}

func TestFingerprintComponentState(t *testing.T) {
	for s, want := range map[ComponentState]string{Found: "found", Missing: "missing", Unverifiable: "unverifiable", 0: "ComponentState(0)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", int(s), s.String(), want)
		}
	}
}

// TestFingerprintFakeHost checks every collection rule on a fake tree, and
// that no raw value is kept in the result.
func TestFingerprintFakeHost(t *testing.T) {
	tr := newTree(t, t.TempDir())
	tr.write("etc/machine-id", "  "+testMachine+"\n", 0o444)
	tr.write("sys/class/dmi/id/product_uuid", strings.ToUpper(testUUID)+"\n", 0o400)
	tr.nic("lo", "", "00:00:00:00:00:00", "0")
	tr.nic("eth1", "pci0000:00/0000:00:04.0", "52:54:00:AB:CD:EF", "0") // uppercase in sysfs: lowercased
	tr.nic("eth0", "pci0000:00/0000:00:03.0/virtio2", testMAC, "0")
	tr.nic("wlan0", "pci0000:00/0000:00:05.0", "02:11:22:33:44:55", "3") // set by user space
	tr.nic("wlan1", "pci0000:00/0000:00:06.0", "06:11:22:33:44:55", "1") // random
	tr.nic("eth2", "pci0000:00/0000:00:07.0", "00:00:00:00:00:00", "0")  // no MAC
	tr.nic("eth3", "pci0000:00/0000:00:08.0", "52:54:00:00:00:08", "")   // no addr_assign_type (old kernel): kept
	tr.nic("ifb0", "", "32:30:04:e1:68:3a", "1")
	tr.nic("br0", "", "52:54:00:99:99:99", "0") // bridge, veth, tun: no device link
	// An interface directory outside devices/ whose device link resolves
	// into devices/virtual is virtual too.
	tr.write("sys/class/net/odd0/address", "52:54:00:77:77:77\n", 0o444)
	tr.mkdir("sys/devices/virtual/odd")
	if err := os.Symlink(tr.path("sys/devices/virtual/odd"), tr.path("sys/class/net/odd0/device")); err != nil {
		t.Fatal(err)
	}
	tr.write("sys/class/dmi/id/board_serial", "  BRD-0042-XY\n", 0o400)
	tr.write("sys/class/dmi/id/chassis_serial", "CHS-7781\n", 0o400)
	tr.xen("a6f0e8d2-1111-2222-3333-444455556666")
	tr.blockdev("pci0000:00/0000:00:02.0/virtio1/block/vda", "253:0", map[string]string{"serial": "VIRT-DISK-0001\n"})
	tr.blockdev("pci0000:00/0000:00:02.0/virtio1/block/vda/vda1", "8:1", map[string]string{"partition": "1\n"})
	tr.write("etc/airlock/operator-id", "0123456789abcdef0123456789abcdef\n", 0o444)
	h := collect(fpProduct, tr.sources())

	if h.Product != fpProduct || len(h.Components) != 9 {
		t.Fatalf("got %+v", h)
	}
	for i, name := range []string{format.ComponentMachineID, format.ComponentDMIProduct, format.ComponentDMIBoardSerial, format.ComponentDMIChassisSerial,
		format.ComponentHypervisorUUID, format.ComponentMAC, format.ComponentRootDisk, format.ComponentDiskSerial, format.ComponentOperatorID} {
		if h.Components[i].Name != name {
			t.Errorf("component %d is %q, want %q", i, h.Components[i].Name, name)
		}
	}
	wantFound(t, h, format.ComponentMachineID, testMachine)
	if os.Geteuid() == 0 {
		wantFound(t, h, format.ComponentDMIProduct, testUUID)
	}
	wantFound(t, h, format.ComponentMAC, "52:54:00:00:00:08,52:54:00:12:34:56,52:54:00:ab:cd:ef")
	if os.Geteuid() == 0 {
		wantFound(t, h, format.ComponentDMIBoardSerial, "BRD-0042-XY")
		wantFound(t, h, format.ComponentDMIChassisSerial, "CHS-7781")
	}
	wantFound(t, h, format.ComponentHypervisorUUID, "a6f0e8d2-1111-2222-3333-444455556666")
	wantFound(t, h, format.ComponentDiskSerial, "VIRT-DISK-0001")
	wantFound(t, h, format.ComponentOperatorID, "0123456789abcdef0123456789abcdef")
	fp := h.Fingerprint()
	if fp.Threshold != 0 || len(fp.Components) != len(h.Components)-len(h.Unverifiable()) {
		t.Errorf("Fingerprint() = %+v", fp)
	}
	dump := fmt.Sprintf("%+v %#v", h, h)
	for _, raw := range []string{testMachine, testUUID, strings.ToUpper(testUUID), testMAC, "52:54:00:ab:cd:ef", "BRD-0042-XY", "CHS-7781", "VIRT-DISK-0001", "0123456789abcdef0123456789abcdef"} {
		if strings.Contains(strings.ToLower(dump), strings.ToLower(raw)) {
			t.Errorf("raw value %s kept in the result", raw)
		}
	}
}

func TestFingerprintMachineID(t *testing.T) {
	for _, tc := range []struct {
		name, etc, dbus string // "" means the file does not exist
		state           ComponentState
		raw, reason     string
	}{
		{"etc", testMachine + "\n", "ffff", Found, testMachine, ""},
		{"dbus fallback", "", "\t" + testMachine + "\n", Found, testMachine, ""},
		{"empty is not replaced by the fallback", "\n", testMachine, Missing, "", "is empty"},
		{"uninitialized", "uninitialized\n", testMachine, Missing, "", `"uninitialized"`},
		{"none", "", "", Missing, "", "not present"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTree(t, t.TempDir())
			if tc.etc != "" {
				tr.write("etc/machine-id", tc.etc, 0o444)
			}
			if tc.dbus != "" {
				tr.write("var/lib/dbus/machine-id", tc.dbus, 0o444)
			}
			h := collect(fpProduct, tr.sources())
			if tc.state == Found {
				wantFound(t, h, format.ComponentMachineID, tc.raw)
			} else {
				wantState(t, h, format.ComponentMachineID, tc.state, tc.reason)
			}
		})
	}
}

func TestFingerprintDMI(t *testing.T) {
	for _, tc := range []struct{ name, value, reason string }{
		{"zeros", "00000000-0000-0000-0000-000000000000", "placeholder"},
		{"ones", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "placeholder"},
		{"oem", "03000200-0400-0500-0006-000700080009", "placeholder"},
		{"oem swapped", "00020003-0004-0005-0006-000700080009", "placeholder"},
		{"not a uuid", "Not Settable", "does not hold a UUID"},
		{"empty", "\n", "does not hold a UUID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTree(t, t.TempDir())
			tr.write("sys/class/dmi/id/product_uuid", tc.value+"\n", 0o444)
			wantState(t, collect(fpProduct, tr.sources()), format.ComponentDMIProduct, Missing, tc.reason)
		})
	}
	t.Run("no dmi", func(t *testing.T) {
		tr := newTree(t, t.TempDir())
		wantState(t, collect(fpProduct, tr.sources()), format.ComponentDMIProduct, Missing, "no DMI on this machine")
	})
	t.Run("no product_uuid", func(t *testing.T) {
		tr := newTree(t, t.TempDir())
		tr.mkdir("sys/class/dmi/id")
		wantState(t, collect(fpProduct, tr.sources()), format.ComponentDMIProduct, Missing, "product_uuid not present")
	})
	t.Run("valid", func(t *testing.T) {
		tr := newTree(t, t.TempDir())
		tr.write("sys/class/dmi/id/product_uuid", testUUID+"\n", 0o444)
		wantFound(t, collect(fpProduct, tr.sources()), format.ComponentDMIProduct, testUUID)
	})
}

func TestFingerprintNoPhysicalNIC(t *testing.T) {
	tr := newTree(t, t.TempDir())
	tr.nic("lo", "", "00:00:00:00:00:00", "0")
	tr.nic("ifb0", "", "32:30:04:e1:68:3a", "1")
	tr.nic("veth1", "", "52:54:00:99:99:99", "3")
	tr.nic("eth0", "pci0000:00/0000:00:03.0", "06:00:00:00:00:01", "1")
	h := collect(fpProduct, tr.sources())
	wantState(t, h, format.ComponentMAC, Missing, "no physical network interface with a fixed MAC address (skipped: eth0 random MAC, ifb0 virtual, lo virtual, veth1 virtual)")

	tr = newTree(t, t.TempDir())
	os.Remove(tr.path("sys/class/net"))
	wantState(t, collect(fpProduct, tr.sources()), format.ComponentMAC, Missing, "not present")
}

func TestFingerprintRootDisk(t *testing.T) {
	for _, tc := range []struct {
		typ         uint32
		fsid        [2]int32
		raw, reason string
	}{
		{0xef53, [2]int32{0x01234567, -0x76543211}, "ef53:0123456789abcdef", ""}, // ext4; f_fsid words are signed
		{0x9123683e, [2]int32{1, 2}, "9123683e:0000000100000002", ""},            // btrfs
		{0xef53, [2]int32{0, 0}, "", "f_fsid is zero"},
		{0x01021994, [2]int32{1, 2}, "", "tmpfs"},
		{0x794c7630, [2]int32{1, 2}, "", "overlayfs"},
		{0x73717368, [2]int32{1, 2}, "", "squashfs"},
	} {
		raw, reason := rootFSValue(tc.typ, tc.fsid)
		if raw != tc.raw || !strings.Contains(reason, tc.reason) || (tc.reason == "") != (reason == "") {
			t.Errorf("rootFSValue(%#x, %v) = %q, %q; want %q, %q", tc.typ, tc.fsid, raw, reason, tc.raw, tc.reason)
		}
	}
	tr := newTree(t, t.TempDir())
	s := tr.sources()
	s.StatfsPath = tr.path("nonexistent")
	wantState(t, collect(fpProduct, s), format.ComponentRootDisk, Missing, "nonexistent not present")
	if typ, _, err := statFS("/dev/shm"); err == nil && typ == 0x01021994 {
		s.StatfsPath = "/dev/shm"
		wantState(t, collect(fpProduct, s), format.ComponentRootDisk, Missing, "tmpfs")
	}
}

// TestFingerprintMatchHost checks the arithmetic of MatchHost: recorded
// components unverifiable here drop out of Total and Needed, with the floor.
func TestFingerprintMatchHost(t *testing.T) {
	const (
		mid  = format.ComponentMachineID
		dmi  = format.ComponentDMIProduct
		mac  = format.ComponentMAC
		disk = format.ComponentRootDisk
	)
	hash := func(s string) string { return format.HashComponent(fpProduct, s) }
	recorded := func(threshold int, names ...string) format.Fingerprint {
		fp := format.Fingerprint{Components: map[string]string{}, Threshold: threshold}
		for _, n := range names {
			fp.Components[n] = hash(n)
		}
		return fp
	}
	// host: each name is found with the recorded value, "~name" is found
	// with another value, "?name" is unverifiable; absent names are missing.
	host := func(spec ...string) *HostFingerprint {
		h := &HostFingerprint{Product: fpProduct}
		for _, s := range spec {
			switch {
			case strings.HasPrefix(s, "~"):
				h.Components = append(h.Components, ComponentStatus{Name: s[1:], Hash: hash("other"), State: Found})
			case strings.HasPrefix(s, "?"):
				h.Components = append(h.Components, ComponentStatus{Name: s[1:], State: Unverifiable, Reason: "permission denied"})
			default:
				h.Components = append(h.Components, ComponentStatus{Name: s, Hash: hash(s), State: Found})
			}
		}
		return h
	}
	for _, tc := range []struct {
		name                   string
		recorded               format.Fingerprint
		host                   *HostFingerprint
		matched, needed, total int
		ok                     bool
		changed                []string
	}{
		{"all verifiable", recorded(0, mid, dmi, mac, disk), host(mid, dmi, mac, disk), 4, 3, 4, true, nil},
		{"root-only dmi left out, the rest must meet the threshold", recorded(0, mid, dmi, mac, disk), host(mid, "?"+dmi, mac, disk), 3, 3, 3, true, nil},
		{"dmi left out, nic replaced: the service needs a new licence", recorded(0, mid, dmi, mac, disk), host(mid, "?"+dmi, "~"+mac, disk), 2, 3, 3, false, []string{mac}},
		{"dmi left out, another machine", recorded(0, mid, dmi, mac, disk), host("~"+mid, "?"+dmi, mac), 1, 3, 3, false, []string{mid, disk}},
		{"dmi left out, cloned VM (same disk, new MAC)", recorded(0, mid, dmi, mac, disk), host(mid, "?"+dmi, "~"+mac, disk), 2, 3, 3, false, []string{mac}},
		{"floor: 2 remain, both needed", recorded(2, mid, dmi, mac), host(mid, "?"+dmi, "~"+mac), 1, 2, 2, false, []string{mac}},
		{"floor: 2 remain, both match", recorded(2, mid, dmi, mac), host(mid, "?"+dmi, mac), 2, 2, 2, true, nil},
		{"only root-only components are left out", recorded(0, mid, dmi, mac, disk), host("?"+mid, "?"+dmi, mac, disk), 2, 3, 3, false, []string{mid}},
		{"an unreadable machine-id counts as changed", recorded(0, mid, mac, disk), host("?"+mid, "~"+mac, disk), 1, 2, 3, false, []string{mac, mid}},
		{"one remains", recorded(1, mid, dmi), host(mid, "?"+dmi), 1, 1, 1, true, nil},
		{"one remains, changed", recorded(1, mid, dmi), host("~"+mid, "?"+dmi), 0, 1, 1, false, []string{mid}},
		{"nothing verifiable", recorded(1, dmi), host("?"+dmi, mid), 0, 1, 0, false, nil},
		{"strict threshold capped at what is left", recorded(4, mid, dmi, mac, disk), host(mid, "?"+dmi, mac, disk), 3, 3, 3, true, nil},
		{"never above the recorded threshold", recorded(2, mid, dmi, mac, disk, "extra"), host(mid, "?"+dmi), 1, 2, 4, false, []string{"extra", mac, disk}},
		{"unverifiable but not recorded", recorded(0, mid, mac, disk), host("~"+mid, "?"+dmi, mac), 1, 2, 3, false, []string{mid, disk}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := MatchHost(tc.recorded, tc.host)
			if r.Matched != tc.matched || r.Needed != tc.needed || r.Total != tc.total || r.OK() != tc.ok || !slices.Equal(r.Changed, tc.changed) {
				t.Fatalf("got %+v ok=%v, want matched %d needed %d total %d ok=%v changed %v", r, r.OK(), tc.matched, tc.needed, tc.total, tc.ok, tc.changed)
			}
			var hm *format.HostMismatchError
			if err := r.Err(); tc.ok != (err == nil) || (!tc.ok && !errors.As(err, &hm)) {
				t.Fatalf("Err() = %v", err)
			}
		})
	}
}

// TestFingerprintUnreadableAsNobody reads a root-only (0400) DMI file, and
// then also a root-only machine-id, from a child running as nobody: they
// are unverifiable there, not missing, and the root-recorded fingerprint
// still matches under MatchHost.
func TestFingerprintUnreadableAsNobody(t *testing.T) {
	tr := newTree(t, sharedDir(t))
	tr.write("etc/machine-id", testMachine+"\n", 0o444)
	tr.write("sys/class/dmi/id/product_uuid", testUUID+"\n", 0o400)
	tr.nic("eth0", "pci0000:00/0000:00:03.0", testMAC, "0")
	s := tr.sources()
	src, _ := json.Marshal(s)
	env := []string{helperEnv + "=fake", sourcesEnv + "=" + string(src)}

	asRoot := collect(fpProduct, s)
	if os.Geteuid() == 0 {
		wantFound(t, asRoot, format.ComponentDMIProduct, testUUID)
	}
	nobody := asNobody(t, env...)
	wantState(t, nobody, format.ComponentDMIProduct, Unverifiable, "readable only by root")
	for _, name := range []string{format.ComponentMachineID, format.ComponentMAC, format.ComponentRootDisk} {
		if a, b := component(t, asRoot, name), component(t, nobody, name); a.State != Found || a != b {
			t.Errorf("%s: root %+v, nobody %+v", name, a, b)
		}
	}
	if got := nobody.Unverifiable(); !slices.Equal(got, []string{format.ComponentDMIProduct}) {
		t.Errorf("Unverifiable() = %v", got)
	}
	recorded := asRoot.Fingerprint()
	recorded.Threshold = format.DefaultThreshold(len(recorded.Components))
	if r := MatchHost(recorded, nobody); !r.OK() || r.Matched != 3 || r.Needed != 3 || r.Total != 3 {
		t.Errorf("MatchHost(root's, nobody's) = %+v", r)
	}
	if r := format.Match(recorded, nobody.Fingerprint()); !slices.Equal(r.Changed, []string{format.ComponentDMIProduct}) {
		t.Errorf("format.Match would count the DMI UUID as changed: %+v", r)
	}

	tr.write("etc/machine-id", testMachine+"\n", 0o400)
	nobody = asNobody(t, env...)
	wantState(t, nobody, format.ComponentMachineID, Unverifiable, "permission denied")
	// Only the root-only DMI UUID is left out; an unreadable machine-id
	// counts as changed, so making files unreadable cannot lower the bar.
	if r := MatchHost(recorded, nobody); r.OK() || r.Matched != 2 || r.Needed != 3 || r.Total != 3 || !slices.Equal(r.Changed, []string{format.ComponentMachineID}) {
		t.Errorf("MatchHost with machine-id and DMI unverifiable = %+v", r)
	}
}

// TestFingerprintThisMachine collects the real sources and checks each
// found component against a value read independently.
func TestFingerprintThisMachine(t *testing.T) {
	h := CollectFingerprint(fpProduct)
	for _, c := range h.Components {
		t.Logf("%-16s %-12v %s%s", c.Name, c.State, c.Hash, c.Reason)
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		wantFound(t, h, format.ComponentMachineID, string(bytes.TrimSpace(b)))
	}
	if _, err := os.Stat("/sys/class/dmi"); errors.Is(err, os.ErrNotExist) {
		wantState(t, h, format.ComponentDMIProduct, Missing, "no DMI on this machine")
	}
	// The NICs by another signal than the collector's: the target of the
	// /sys/class/net link rather than the device link.
	var macs []string
	entries, _ := os.ReadDir("/sys/class/net")
	for _, e := range entries {
		target, _ := os.Readlink("/sys/class/net/" + e.Name())
		kind, _ := os.ReadFile("/sys/class/net/" + e.Name() + "/addr_assign_type")
		addr, _ := os.ReadFile("/sys/class/net/" + e.Name() + "/address")
		a := strings.ToLower(strings.TrimSpace(string(addr)))
		if !strings.Contains(target, "/devices/virtual/") && string(kind) != "1\n" && string(kind) != "3\n" && strings.Trim(a, "0:") != "" {
			macs = append(macs, a)
		}
	}
	if len(macs) > 0 {
		slices.Sort(macs)
		wantFound(t, h, format.ComponentMAC, strings.Join(macs, ","))
	}
	// The root filesystem as stat(1) reports it.
	if out, err := exec.Command("stat", "-f", "-c", "%t %i", "/").Output(); err == nil {
		var typ, fsid uint64
		if _, err := fmt.Sscanf(string(out), "%x %x", &typ, &fsid); err != nil {
			t.Fatal(err)
		}
		if _, unstable := unstableFS[uint32(typ)]; !unstable && fsid != 0 {
			wantFound(t, h, format.ComponentRootDisk, fmt.Sprintf("%x:%016x", typ, fsid))
		}
	}
	found := h.Fingerprint().Components
	t.Logf("found %d components; this VM should show machine-id, mac and root-disk", len(found))
}

// TestFingerprintRootAndNobodyAgree collects the real fingerprint as root
// and as nobody: the service account's must match what `activator
// request` (root) records.
func TestFingerprintRootAndNobodyAgree(t *testing.T) {
	asRoot := CollectFingerprint(fpProduct)
	nobody := asNobody(t, helperEnv+"=real")
	for _, c := range nobody.Components {
		t.Logf("as nobody: %-16s %-12v %s%s", c.Name, c.State, c.Hash, c.Reason)
	}
	for _, c := range asRoot.Components {
		n := component(t, nobody, c.Name)
		switch {
		case c.State == Found && n.State == Found && c.Hash != n.Hash:
			t.Errorf("%s differs between root and nobody", c.Name)
		case c.State == Found && n.State == Missing:
			t.Errorf("%s found by root but missing for nobody (%s); it must be unverifiable or found", c.Name, n.Reason)
		}
	}
	recorded := asRoot.Fingerprint()
	recorded.Threshold = format.DefaultThreshold(len(recorded.Components))
	r := MatchHost(recorded, nobody)
	if !r.OK() || r.Matched != r.Total || len(r.Changed) != 0 {
		t.Fatalf("root's fingerprint does not match nobody's: %+v", r)
	}
	t.Logf("MatchHost(root, nobody) = %+v; unverifiable as nobody: %v", r, nobody.Unverifiable())
}

// TestFingerprintOtherMachine runs the collector on a simulated second
// machine (another machine-id, no physical NIC, the same root filesystem):
// this machine's fingerprint must not match there.
func TestFingerprintOtherMachine(t *testing.T) {
	here := CollectFingerprint(fpProduct)
	id := make([]byte, 16)
	rand.Read(id)
	otherID := hex.EncodeToString(id)
	env := append(os.Environ(), helperEnv+"=real")
	stdout, stderr, code := testutil.OtherMachine(t, otherID,
		[]string{mustExecutable(t), "-test.run=^TestFingerprintHelperProcess$", "-test.count=1"}, env)
	if code != 0 {
		t.Fatalf("helper on the other machine: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	there := helperResult(t, stdout, stderr)
	for _, c := range there.Components {
		t.Logf("other machine: %-16s %-12v %s%s", c.Name, c.State, c.Hash, c.Reason)
	}
	wantFound(t, there, format.ComponentMachineID, otherID)
	wantState(t, there, format.ComponentMAC, Missing, "lo virtual")
	recorded := here.Fingerprint()
	recorded.Threshold = format.DefaultThreshold(len(recorded.Components))
	r := MatchHost(recorded, there)
	if r.OK() || !errors.Is(r.Err(), format.ErrHostMismatch) {
		t.Fatalf("this machine's fingerprint matches the other machine: %+v", r)
	}
	for _, name := range []string{format.ComponentMachineID, format.ComponentMAC} {
		if _, ok := recorded.Components[name]; ok && !slices.Contains(r.Changed, name) {
			t.Errorf("%s not reported as changed: %+v", name, r)
		}
	}
	t.Logf("MatchHost(this machine, other machine) = %+v", r)
}

func TestFingerprintDMISerials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the serials are root-only (0400); their parsing needs root to read the fake files")
	}
	for _, tc := range []struct {
		board, chassis string
		boardState     ComponentState
		chassisState   ComponentState
		reason         string
	}{
		{"To be filled by O.E.M.", "Default string", Missing, Missing, "placeholder"},
		{"None", "0", Missing, Missing, "placeholder"},
		{"..........", "XXXXXXXX", Missing, Missing, "placeholder"},
		{"PF2ABC12", "PF2ABC12", Found, Missing, "the board serial again"},
		{"PF2ABC12", "CZ1234567", Found, Found, ""},
	} {
		tr := newTree(t, t.TempDir())
		tr.write("sys/class/dmi/id/board_serial", tc.board+"\n", 0o400)
		tr.write("sys/class/dmi/id/chassis_serial", tc.chassis+"\n", 0o400)
		h := collect(fpProduct, tr.sources())
		if c := component(t, h, format.ComponentDMIBoardSerial); c.State != tc.boardState {
			t.Errorf("board %q: %v %s", tc.board, c.State, c.Reason)
		}
		if tc.chassisState == Found {
			wantFound(t, h, format.ComponentDMIChassisSerial, tc.chassis)
		} else {
			wantState(t, h, format.ComponentDMIChassisSerial, Missing, tc.reason)
		}
	}
}

func TestFingerprintHypervisorUUID(t *testing.T) {
	tr := newTree(t, t.TempDir())
	tr.xen(testUUID)
	wantFound(t, collect(fpProduct, tr.sources()), format.ComponentHypervisorUUID, testUUID)
	// The same id as the SMBIOS UUID (a Xen HVM guest): counted once, as
	// the copy every user can read, so that root and a service account
	// record the same components. (Found in review: root dropped the
	// world-readable copy, a service account the root-only one.)
	if os.Geteuid() == 0 {
		tr.write("sys/class/dmi/id/product_uuid", testUUID+"\n", 0o400)
		h := collect(fpProduct, tr.sources())
		wantFound(t, h, format.ComponentHypervisorUUID, testUUID)
		wantState(t, h, format.ComponentDMIProduct, Missing, "the same id as hypervisor-uuid")
	}
	tr.write("sys/hypervisor/uuid", "00000000-0000-0000-0000-000000000000\n", 0o444)
	wantState(t, collect(fpProduct, tr.sources()), format.ComponentHypervisorUUID, Missing, "does not hold a VM id")
}

// /sys/hypervisor/uuid was taken from whatever file was at that path. On
// KVM or bare metal /sys/hypervisor is an empty directory; root mounts a
// tmpfs over it at boot (from the disk's own fstab) holding the machine's
// own SMBIOS UUID. The collector then dropped the SMBIOS UUID as "the same
// id as hypervisor-uuid" and recorded a world-readable, machine-bound
// identifier that was a file on the disk: a clone of the disk with a new
// SMBIOS UUID and MAC kept the licence, rated strong. (Found in review.)
func TestFingerprintHypervisorUUIDOnlyFromXen(t *testing.T) {
	machine := func(uuid, mac string, fake func(tr *tree)) *HostFingerprint {
		tr := newTree(t, t.TempDir())
		tr.write("etc/machine-id", testMachine+"\n", 0o444)
		tr.write("sys/class/dmi/id/product_uuid", uuid+"\n", 0o400)
		tr.nic("eth0", "pci0000:00/0000:00:03.0", mac, "0")
		tr.blockdev("pci0000:00/0000:00:04.0/block/vda", "8:0", map[string]string{"serial": "DISK-SERIAL-1"})
		tr.blockdev("pci0000:00/0000:00:04.0/block/vda/vda1", "8:1", map[string]string{"partition": "1"})
		fake(tr)
		return collect(fpProduct, tr.sources())
	}
	for _, tc := range []struct {
		name, reason string
		fake         func(tr *tree)
	}{
		{"a file on another filesystem (tmpfs from fstab)", "is not sysfs", func(tr *tree) {
			tr.write("sys/hypervisor/uuid", testUUID+"\n", 0o444)
			tr.write("sys/hypervisor/type", "xen\n", 0o444)
		}},
		{"no type file", "does not say xen", func(tr *tree) {
			tr.xen(testUUID)
			os.Remove(tr.path("sys/hypervisor/type"))
		}},
		{"a bind mount of a sysfs file", "something is mounted over", func(tr *tree) {
			tr.xen(testUUID)
			tr.appendMountInfo("40 22 0:21 /devices/virtual/dmi/id/product_uuid " + tr.path("sys/hypervisor/uuid") + " ro - sysfs sysfs rw")
		}},
		{"a tmpfs over the directory", "something is mounted over", func(tr *tree) {
			tr.xen(testUUID)
			tr.appendMountInfo("41 22 0:50 / " + tr.path("sys/hypervisor") + " rw - tmpfs tmpfs rw")
		}},
	} {
		orig := machine(testUUID, testMAC, tc.fake)
		wantState(t, orig, format.ComponentHypervisorUUID, Missing, tc.reason)
		if os.Geteuid() != 0 {
			continue
		}
		fp := orig.Fingerprint()
		fp.Threshold = format.IssueThreshold(fp)
		clone := machine("9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "52:54:00:aa:bb:cc", tc.fake)
		if m := MatchHost(fp, clone); m.OK() {
			t.Errorf("%s: a disk clone with a new SMBIOS UUID and MAC keeps the licence (%d of %d)", tc.name, m.Matched, m.Needed)
		}
	}
}

func TestFingerprintDiskSerial(t *testing.T) {
	for _, tc := range []struct {
		name   string
		build  func(tr *tree)
		state  ComponentState
		raw    string
		reason string
	}{
		{"virtio partition", func(tr *tree) {
			tr.blockdev("pci0000:00/virtio1/block/vda", "253:0", map[string]string{"serial": "VD-1\n"})
			tr.blockdev("pci0000:00/virtio1/block/vda/vda1", "8:1", map[string]string{"partition": "1\n"})
		}, Found, "VD-1", ""},
		{"nvme namespace", func(tr *tree) {
			tr.blockdev("pci0000:00/nvme/nvme0/nvme0n1", "259:0", map[string]string{"wwid": "eui.0025388b91b1f0a1\n", "device/serial": "S4EWNX0N123456 \n"})
			tr.blockdev("pci0000:00/nvme/nvme0/nvme0n1/nvme0n1p2", "8:1", map[string]string{"partition": "2\n"})
		}, Found, "S4EWNX0N123456", ""},
		{"scsi unit serial page", func(tr *tree) {
			tr.blockdev("pci0000:00/ata1/host0/target0:0:0/0:0:0:0/block/sda", "8:1", map[string]string{"device/vpd_pg80": "\x00\x80\x00\x0cWD-WCC4E1234567"})
		}, Found, "WD-WCC4E1234567", ""},
		{"lvm on two disks", func(tr *tree) {
			tr.blockdev("virtual/block/dm-0", "8:1", nil)
			tr.blockdev("pci0000:00/virtio1/block/vda", "253:0", map[string]string{"serial": "VD-B\n"})
			tr.blockdev("pci0000:00/virtio1/block/vda/vda2", "253:2", map[string]string{"partition": "2\n"})
			tr.blockdev("pci0000:00/virtio2/block/vdb", "253:16", map[string]string{"serial": "VD-A\n"})
			tr.slave("virtual/block/dm-0", "pci0000:00/virtio1/block/vda/vda2")
			tr.slave("virtual/block/dm-0", "pci0000:00/virtio2/block/vdb")
		}, Found, "VD-A,VD-B", ""},
		{"no serial", func(tr *tree) {
			tr.blockdev("virtual/block/loop0", "8:1", map[string]string{"serial": "\n"})
		}, Missing, "", "(loop0) reports no serial number"},
		{"no device", func(tr *tree) {}, Missing, "", "not present"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTree(t, t.TempDir())
			tc.build(tr)
			h := collect(fpProduct, tr.sources())
			if tc.state == Found {
				wantFound(t, h, format.ComponentDiskSerial, tc.raw)
			} else {
				wantState(t, h, format.ComponentDiskSerial, tc.state, tc.reason)
			}
		})
	}
	// A root with no block device (a container's overlay).
	tr := newTree(t, t.TempDir())
	tr.write("proc/self/mountinfo", "27 1 0:44 / / rw,relatime - overlay overlay rw,lowerdir=/x\n", 0o444)
	dev, reason := rootDevice(hostSources{StatfsPath: "/proc", MountInfo: tr.path("proc/self/mountinfo")})
	if dev != "" || !strings.Contains(reason, "(overlay) is not on a block device") {
		t.Errorf("overlay root: %q %q", dev, reason)
	}
}

func TestFingerprintOperatorID(t *testing.T) {
	tr := newTree(t, t.TempDir())
	wantState(t, collect(fpProduct, tr.sources()), format.ComponentOperatorID, Missing, "no operator id")
	tr.write("etc/airlock/operator-id", "short\n", 0o444)
	wantState(t, collect(fpProduct, tr.sources()), format.ComponentOperatorID, Missing, "at least 16 random")
	tr.write("run/secrets/airlock-operator-id", "k8s-secret-0123456789abcdef\n", 0o444)
	wantFound(t, collect(fpProduct, tr.sources()), format.ComponentOperatorID, "k8s-secret-0123456789abcdef")
}

func TestFingerprintPlaceholders(t *testing.T) {
	tr := newTree(t, t.TempDir())
	if os.Geteuid() == 0 {
		tr.write("sys/class/dmi/id/product_uuid", "12345678-1234-5678-90AB-CDDEEFAABBCC\n", 0o400)
		wantState(t, collect(fpProduct, tr.sources()), format.ComponentDMIProduct, Missing, "placeholder")
	}
	tr.blockdev("pci0000:00/ata1/block/sda", "8:1", map[string]string{"device/serial": "QM00001\n"})
	wantState(t, collect(fpProduct, tr.sources()), format.ComponentDiskSerial, Missing, "reports no serial number")
}

// A slave link that points back at its device is followed once.
func TestFingerprintDiskLoop(t *testing.T) {
	tr := newTree(t, t.TempDir())
	tr.blockdev("virtual/block/dm-0", "8:1", nil)
	tr.slave("virtual/block/dm-0", "virtual/block/dm-0")
	c := component(t, collect(fpProduct, tr.sources()), format.ComponentDiskSerial)
	if c.State != Missing || len(c.Reason) > 200 {
		t.Fatalf("a loop of slaves: %v %q", c.State, c.Reason)
	}
}

// The transient machine-id that systemd mounts over a read-only /etc at
// every boot is not an identifier.
func TestFingerprintTransientMachineID(t *testing.T) {
	tr := newTree(t, t.TempDir())
	tr.write("etc/machine-id", testMachine+"\n", 0o444)
	mi := "30 25 0:27 /machine-id " + tr.path("etc/machine-id") + " ro,relatime - tmpfs tmpfs rw\n"
	tr.write("proc/self/mountinfo", mi, 0o444)
	wantState(t, collect(fpProduct, tr.sources()), format.ComponentMachineID, Missing, "transient")
	// A bind mount of a file from a disk (as the simulated machines of
	// these tests do) is not that.
	tr.write("proc/self/mountinfo", "30 25 254:0 /tmp/x/machine-id "+tr.path("etc/machine-id")+" rw - ext4 /dev/vda rw\n", 0o444)
	wantFound(t, collect(fpProduct, tr.sources()), format.ComponentMachineID, testMachine)
}

// A btrfs root is identified by its filesystem UUID, which a snapshot
// rollback (another subvolume, another f_fsid) does not change.
func TestFingerprintBtrfsUUID(t *testing.T) {
	tr := newTree(t, t.TempDir())
	tr.write("proc/self/mountinfo", "27 1 0:33 /@/.snapshots/5/snapshot / rw - btrfs /dev/sda2 rw\n", 0o444)
	tr.mkdir("sys/fs/btrfs/features")
	tr.mkdir("sys/fs/btrfs/5b0c2a43-8f1e-4c21-9f5e-2a6a4f7d2e10/devices/sda2")
	s := tr.sources()
	raw, state, reason := btrfsUUID(s)
	if state != Found || raw != "9123683e:5b0c2a43-8f1e-4c21-9f5e-2a6a4f7d2e10" {
		t.Fatalf("btrfs: %q %v %s", raw, state, reason)
	}
	tr.write("proc/self/mountinfo", "27 1 0:33 / / rw - btrfs /dev/sdb1 rw\n", 0o444)
	if _, state, reason := btrfsUUID(s); state != Missing || !strings.Contains(reason, "UUID was not found") {
		t.Fatalf("btrfs on an unknown device: %v %s", state, reason)
	}
}

// The permanent address of this machine's NICs, where the driver reports
// one, is a MAC address (the collector then ignores the current one).
func TestPermanentAddressThisMachine(t *testing.T) {
	entries, _ := os.ReadDir("/sys/class/net")
	for _, e := range entries {
		a, _ := permanentAddress(e.Name())
		if a != "" && len(a) != 17 {
			t.Errorf("%s: permanent address %q", e.Name(), a)
		}
	}
	if a, err := permanentAddress("no-such-interface0"); a != "" || err == nil {
		t.Errorf("an interface that does not exist: %q, %v", a, err)
	}
}

// A NIC's permanent address counts, whatever software set it to now; a
// USB NIC does not count at all.
func TestFingerprintPermanentMAC(t *testing.T) {
	tr := newTree(t, t.TempDir())
	tr.nic("wlan0", "pci0000:00/0000:00:05.0", "0a:11:22:33:44:55", "3") // randomised by NetworkManager
	tr.nic("eth9", "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0", "52:54:00:00:00:09", "0")
	s := tr.sources()
	s.PermAddr = func(iface string) (string, error) {
		if iface == "wlan0" {
			return "F0:DE:F1:00:11:22", nil
		}
		return "", nil
	}
	wantFound(t, collect(fpProduct, s), format.ComponentMAC, "f0:de:f1:00:11:22")
}

// An XFS root (whose f_fsid is the device number, the same on other
// machines) is identified by its filesystem UUID from /dev/disk/by-uuid.
func TestFingerprintXFSUUID(t *testing.T) {
	var dev string
	var rdev uint64
	for _, d := range []string{"/dev/loop0", "/dev/vda", "/dev/sda", "/dev/nvme0n1"} {
		if r, ok := blockDevice(d); ok {
			dev, rdev = d, r
			break
		}
	}
	if dev == "" {
		t.Skip("no block device node to point a fake /dev/disk/by-uuid at")
	}
	tr := newTree(t, t.TempDir())
	tr.mkdir("dev/disk/by-uuid")
	const uuid = "0b1e2c3d-4e5f-4061-8273-a4b5c6d7e8f9"
	if err := os.Symlink(dev, tr.path("dev/disk/by-uuid/"+uuid)); err != nil {
		t.Fatal(err)
	}
	s := tr.sources()
	s.ByUUIDDir = tr.path("dev/disk/by-uuid")
	s.RootDev = fmt.Sprintf("%d:%d", devMajor(rdev), devMinor(rdev))
	if raw, state, reason := uuidByDevice(s, xfsMagic, "XFS"); state != Found || raw != "58465342:"+uuid {
		t.Fatalf("XFS: %q %v %s", raw, state, reason)
	}
	s.RootDev = "1:99999"
	if _, state, reason := uuidByDevice(s, xfsMagic, "XFS"); state != Missing || !strings.Contains(reason, "UUID was not found") {
		t.Fatalf("another device: %v %s", state, reason)
	}
}

// The permanent MAC comes from an ioctl that runs in the process's network
// namespace, while /sys/class/net lists the namespace sysfs was mounted
// in. A product in another namespace (PrivateNetwork=, a container sharing
// the host's /sys) or one that may not open AF_INET sockets saw every
// ioctl fail and silently skipped a NIC whose MAC software had set, while
// root counted its permanent address: root and the service recorded
// different mac components. Now the failure is told apart from "none",
// and the component says why it cannot be read. (Found in review.)
func TestFingerprintPermanentMACNotAskable(t *testing.T) {
	if os.Getenv("AIRLOCK_PERMADDR_HELPER") != "" {
		entries, _ := os.ReadDir("/sys/class/net")
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join("/sys/class/net", e.Name(), "device")); err != nil {
				continue
			}
			a, err := permanentAddress(e.Name())
			fmt.Printf("PERMADDR %s %q %v\n", e.Name(), a, err != nil)
		}
		return
	}
	tr := newTree(t, t.TempDir())
	tr.nic("bond-slave0", "pci0000:00/0000:00:03.0", "02:00:00:00:00:01", "3")
	tr.nic("eth1", "pci0000:00/0000:00:04.0", "52:54:00:00:00:02", "0")
	s := tr.sources()
	s.PermAddr = func(string) (string, error) { return "", errors.New("no such device") }
	c := component(t, collect(fpProduct, s), format.ComponentMAC)
	if c.State != Missing || !strings.Contains(c.Reason, "bond-slave0") || !strings.Contains(c.Reason, "network namespace") {
		t.Fatalf("a NIC with a software-set MAC whose permanent address cannot be asked for: %v %q", c.State, c.Reason)
	}
	// A driver without a permanent address (no error): the NIC is skipped
	// as before, and the fixed one counts.
	s.PermAddr = func(string) (string, error) { return "", nil }
	wantFound(t, collect(fpProduct, s), format.ComponentMAC, "52:54:00:00:00:02")

	// The real ioctl, from a new network namespace with this one's /sys.
	exe, _ := os.Executable()
	cmd := exec.Command("unshare", "-n", exe, "-test.run=^TestFingerprintPermanentMACNotAskable$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AIRLOCK_PERMADDR_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("unshare -n not permitted here (%v): the namespace case is checked with a fake ioctl only", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "PERMADDR" && f[3] != "true" {
			t.Errorf("in another network namespace, %s's permanent address was read as %s without an error", f[1], f[2])
		}
	}
}

// A btrfs root on device mapper (LVM, LUKS) whose /dev/mapper link the
// process cannot see (PrivateDevices=yes, a container's /dev) is found by
// its dm name in sysfs: root and the service agree. (Found in review.)
func TestFingerprintBtrfsOnDeviceMapperWithoutDev(t *testing.T) {
	if _, err := os.Stat("/dev/mapper/fedora-root"); err == nil {
		t.Skip("this machine has the device")
	}
	tr := newTree(t, t.TempDir())
	tr.write("proc/self/mountinfo", "27 1 0:33 /root / rw - btrfs /dev/mapper/fedora-root rw\n", 0o444)
	tr.mkdir("sys/fs/btrfs/5b0c2a43-8f1e-4c21-9f5e-2a6a4f7d2e10/devices/dm-0")
	tr.write("sys/block/dm-0/dm/name", "fedora-root\n", 0o444)
	raw, state, reason := btrfsUUID(tr.sources())
	if state != Found || !strings.HasSuffix(raw, "5b0c2a43-8f1e-4c21-9f5e-2a6a4f7d2e10") {
		t.Fatalf("btrfs root on dm-0, no /dev/mapper link: %q %v %s", raw, state, reason)
	}
	tr.write("sys/block/dm-0/dm/name", "other-root\n", 0o444)
	if _, state, _ := btrfsUUID(tr.sources()); state == Found {
		t.Fatal("another dm device's filesystem taken for the root's")
	}
}
