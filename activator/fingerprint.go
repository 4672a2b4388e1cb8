package activator

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/airlock-license/airlock/format"
)

// ComponentState says what the collector learnt about one fingerprint
// component on this host.
type ComponentState int

const (
	// Found means the source was read and holds a usable identifier.
	Found ComponentState = iota + 1
	// Missing means the host has no usable value: the source does not exist
	// or holds a placeholder. A missing component is omitted, never faked.
	Missing
	// Unverifiable means the source exists but this process may not read it
	// (permission denied), typically the root-only DMI files read by a
	// service account. See [MatchHost] for how such a component is judged.
	Unverifiable
)

// String returns "found", "missing" or "unverifiable".
func (s ComponentState) String() string {
	switch s {
	case Found:
		return "found"
	case Missing:
		return "missing"
	case Unverifiable:
		return "unverifiable"
	}
	return fmt.Sprintf("ComponentState(%d)", int(s))
}

// ComponentStatus is one component of a [HostFingerprint]. It holds the
// hashed value only: raw identifiers are never stored, printed or logged.
type ComponentStatus struct {
	Name   string         `json:"name"`             // a component name such as [format.ComponentMachineID]
	Hash   string         `json:"hash,omitempty"`   // [format.HashComponent] of the raw value; empty unless State is Found
	State  ComponentState `json:"state"`            // found, missing or unverifiable
	Reason string         `json:"reason,omitempty"` // one line saying why the component is missing or unverifiable; empty when found
}

// MarshalText implements [encoding.TextMarshaler]: "found", "missing" or
// "unverifiable".
func (s ComponentState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (s *ComponentState) UnmarshalText(b []byte) error {
	for _, v := range []ComponentState{Found, Missing, Unverifiable} {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown component state %q", b)
}

// HostFingerprint is what [CollectFingerprint] learnt about this host for
// one product: every known component, found or not, in a fixed order.
// Requests carry [HostFingerprint.Fingerprint]; licences are checked with
// [MatchHost]; `activator fingerprint` prints the whole list.
type HostFingerprint struct {
	Product    string            `json:"product"`
	Components []ComponentStatus `json:"components"`
}

// Fingerprint returns the found components as a [format.Fingerprint]
// (without a threshold), as a request carries them.
func (h *HostFingerprint) Fingerprint() format.Fingerprint {
	fp := format.Fingerprint{Components: map[string]string{}}
	for _, c := range h.Components {
		if c.State == Found {
			fp.Components[c.Name] = c.Hash
		}
	}
	return fp
}

// Binding says how firmly a licence issued now would bind to this host
// (see [format.Fingerprint.Binding]).
func (h *HostFingerprint) Binding() format.Binding { return h.Fingerprint().Binding() }

// Advice lists, one line each, what the admin can do to bind a licence
// more firmly to this host, for a weak binding: read the identifiers this
// user may not, give the machine identifiers it lacks, or provision an
// operator id in a container.
func (h *HostFingerprint) Advice() []string {
	state := map[string]ComponentState{}
	for _, c := range h.Components {
		state[c.Name] = c.State
	}
	var out []string
	for _, c := range h.Components {
		if c.State == Unverifiable && rootOnly(c.Name) {
			out = append(out, "run it as root: it then reads the SMBIOS identifiers (dmi-*) that this user may not")
			break
		}
	}
	if state[format.ComponentMAC] == Missing {
		out = append(out, "give the machine a network interface with a fixed MAC address (physical or virtio; it needs no connection)")
	}
	if state[format.ComponentDiskSerial] == Missing && state[format.ComponentRootDisk] == Found {
		out = append(out, "give the root disk a serial number (for a VM, in its disk definition)")
	}
	if state[format.ComponentOperatorID] == Missing {
		out = append(out, "in a container, provision an operator id: a secret of 16 or more random characters at /run/secrets/airlock-operator-id, one per deployment (openssl rand -hex 16)")
	}
	return out
}

// Unverifiable returns the names of the components whose source exists on
// this host but which this process may not read, in collection order.
func (h *HostFingerprint) Unverifiable() []string {
	var names []string
	for _, c := range h.Components {
		if c.State == Unverifiable {
			names = append(names, c.Name)
		}
	}
	return names
}

// rootOnly names the components whose source is readable by root alone by
// design (format.RootOnly: the SMBIOS identifiers). Only these may be left
// out of a match when unreadable: any other unreadable identifier (a
// machine-id made unreadable, say) counts as changed, so that making files
// unreadable cannot lower the bar.
var rootOnly = format.RootOnly

// MatchHost compares a recorded fingerprint (from a request or a licence)
// with this host as h describes it, like [format.Match], except that
// recorded root-only components (the DMI product UUID) that are
// unverifiable here are left out and treated as possibly changed: the
// components left must still meet the recorded threshold, capped at their
// number. With nothing left to compare the result is not OK.
//
// Why: `activator request` runs as root and records the DMI product UUID,
// whose file is mode 0400, while the licensed server usually runs as a
// service user that cannot read it. Counting it as a match would let a
// cloned VM (same disk, hence the same machine-id and root filesystem, new
// MAC and DMI UUID) pass the service's check; counting it as changed would
// lock out a licence whose threshold is all of its components. Treating it
// as possibly changed keeps the clone out.
//
// Trade-off: on a host whose DMI UUID was recorded, a replaced NIC still
// passes root-run commands, but the unprivileged service then needs every
// other identifier and refuses the licence until a new one is requested.
// Any other unreadable identifier counts as changed (see rootOnly).
func MatchHost(recorded format.Fingerprint, h *HostFingerprint) format.MatchResult {
	current, unverifiable := h.Fingerprint(), h.Unverifiable()
	skip := 0
	kept := make(map[string]string, len(recorded.Components))
	for name, v := range recorded.Components {
		if rootOnly(name) && slices.Contains(unverifiable, name) {
			skip++
			continue
		}
		kept[name] = v
	}
	if skip == 0 {
		return format.Match(recorded, current)
	}
	needed := recorded.Threshold
	if needed == 0 {
		needed = format.DefaultThreshold(len(recorded.Components))
	}
	// The left-out identifier is treated as possibly changed: the others
	// must still meet the licence's threshold, capped at their number.
	needed = max(1, min(needed, len(kept)))
	return format.Match(format.Fingerprint{Components: kept, Threshold: needed}, current)
}

// CollectFingerprint reads this host's identifiers and hashes each with
// [format.HashComponent] for product. It collects every stable identifier
// the platform offers, each a component of its own, and nothing that
// changes at reboot. On Linux the components are, in order:
//
//   - machine-id: /etc/machine-id, or /var/lib/dbus/machine-id when the
//     former does not exist, trimmed. An empty file or "uninitialized"
//     (first boot not finished) is missing; the fallback is not used then,
//     because systemd is about to write the real value. So is the
//     transient id that systemd mounts from /run over a read-only root at
//     every boot. Portable: a copy of the disk or of the file carries it.
//   - dmi-product-uuid: /sys/class/dmi/id/product_uuid, lowercased: the
//     SMBIOS system UUID, which on KVM, VMware, Hyper-V and the clouds is
//     the hypervisor's id of the VM. Absent in some VMs. Firmware
//     placeholders (all zeros, all F, the common
//     03000200-0400-0500-0006-000700080009 in either byte order) and
//     non-UUID text are missing. Mode 0400: a non-root process sees it as
//     unverifiable. Machine-bound.
//   - dmi-board-serial, dmi-chassis-serial: board_serial and
//     chassis_serial beside it, trimmed. Placeholders ("To be filled by
//     O.E.M.", "Default string", "None", "0", all one character, ...) are
//     missing; a chassis serial equal to the board serial is left out, so
//     that one value is not counted twice. Root only, like the UUID.
//     Machine-bound.
//   - hypervisor-uuid: /sys/hypervisor/uuid, the VM's id where the
//     hypervisor exposes one apart from SMBIOS (Xen), readable by every
//     user; when it equals the SMBIOS UUID, the SMBIOS one is left out.
//     Only where /sys/hypervisor is sysfs itself (statfs), its type file
//     says xen and nothing is mounted at or below it (mountinfo): on other
//     machines the directory is empty, and a file mounted there would be
//     carried by a copy of the disk. Machine-bound.
//   - mac: one component, the sorted, comma-joined, lowercase permanent
//     MAC addresses of the physical NICs: interfaces under /sys/class/net
//     with a device link that does not resolve under /sys/devices/virtual
//     (so no loopback, bridge, veth, ifb, tun, VLAN or bond) nor to a USB
//     device (docks and USB adapters come and go). Each NIC's burnt-in
//     address (ETHTOOL_GPERMADDR) is taken, so a MAC changed by software
//     (Wi-Fi randomisation, bonding, NetworkManager) changes nothing; a NIC
//     that reports none counts with its current address, unless it is all
//     zeros or its addr_assign_type is 1 (random) or 3 (set by user space).
//     Replacing a NIC changes this one component. Machine-bound.
//   - root-disk: the root filesystem's id, from statfs("/"): the
//     filesystem type magic and f_fsid in hex, e.g.
//     "ef53:0123456789abcdef". On ext4 f_fsid is the filesystem's UUID
//     folded to 64 bits. On btrfs, whose f_fsid changes with the
//     subvolume (a snapshot rollback), it is the filesystem's UUID from
//     /sys/fs/btrfs; on XFS, whose f_fsid is the device number (the same
//     on other machines), the filesystem's UUID from /dev/disk/by-uuid. It
//     is missing when f_fsid is zero, and on tmpfs, overlayfs and
//     squashfs, whose ids change at each mount (a container's root).
//     Portable.
//   - disk-serial: the serial number of the disk that holds the root
//     filesystem: the root's device (stat, or /proc/self/mountinfo for
//     btrfs) resolved through /sys/dev/block to its disk (a partition's
//     parent; the disks under a device-mapper or md device, each), whose
//     serial is read from sysfs (serial, device/serial, wwid,
//     device/wwid, or the SCSI unit serial page device/vpd_pg80). Several
//     disks give one component, sorted and comma-joined. Missing when the
//     root is not on a block device or the disk reports no serial.
//     Portable: the disk, and many VM clones, keep it.
//   - operator-id: a secret the operator provisions with a container, where
//     nothing else tells one container from another: the first of
//     /run/secrets/airlock-operator-id and /etc/airlock/operator-id that
//     exists, trimmed, at least 16 characters (for example `openssl rand
//     -hex 16`, once per deployment). Make it readable by the product's
//     service account. Portable: whoever copies the container's files
//     copies it.
//
// A source that exists but may not be read (EACCES, EPERM) is
// [Unverifiable]; every other failure is [Missing], with a reason. Any user
// may read all sources but the DMI files. [format.Fingerprint.Binding]
// says whether the result binds a licence firmly.
//
// On Windows the components are, in order (every source is readable by a
// standard user and a service account; access denied is [Unverifiable],
// anything else that fails [Missing], as on Linux):
//
//   - machine-guid: MachineGuid under HKLM\SOFTWARE\Microsoft\Cryptography,
//     lowercased, read from the 64-bit registry view also by a 32-bit
//     build (which Windows would otherwise redirect to WOW6432Node, where
//     the value does not exist). Windows setup writes it once per
//     installation: it survives reboots and updates, and changes on
//     reinstall. A name of its own, not
//     machine-id: it is another source, with other values. Portable: it is
//     in the registry on the system disk, so a copy of the disk or VM
//     image carries it (whether sysprep renews it is not relied on).
//   - dmi-product-uuid, dmi-board-serial, dmi-chassis-serial: the SMBIOS
//     system UUID (type 1) and the baseboard (type 2) and chassis (type 3)
//     serial numbers, from the raw SMBIOS table (GetSystemFirmwareTable
//     'RSMB'), read as Linux's dmi_scan.c reads the same table: the UUID
//     printed with its first three fields little-endian from SMBIOS 2.6 on
//     (byte by byte before), lowercase, which is also what Windows itself
//     shows (wmic csproduct get uuid); the first structure of each type;
//     strings trimmed. So a dual-boot machine, or a disk moved between
//     the two systems, gives Windows and Linux the same raw values and the
//     same hashes. The placeholder rules are Linux's (all 0 or all F,
//     junk UUIDs, "To be filled by O.E.M.", ...); a chassis serial equal
//     to the board serial is counted once. Firmware values: they survive
//     reinstalls; a VM's change when it is cloned as a new VM (the
//     hypervisor gives a new UUID), not when it is copied with its
//     configuration. Unlike Linux, Windows lets every user read them.
//     Machine-bound.
//   - mac: the physical NICs' burnt-in MAC addresses, in the Linux
//     component's form (sorted, comma-joined, lowercase, colon-separated):
//     adapters (GetAdaptersAddresses) of type ethernet or IEEE 802.11
//     that GetIfEntry2Ex reports as hardware interfaces and not filters,
//     not tunnels, whose device instance id (the registry's
//     Control\Network\...\Connection\PnPInstanceId) is not on USB nor a
//     software bus (ROOT\, SWD\), and whose description names no software
//     adapter (Hyper-V's virtual switch ports, VPN and TAP adapters,
//     Wi-Fi Direct, Bluetooth, teaming multiplexors: see virtualMarkers).
//     A Hyper-V, KVM or VMware guest's NIC is its hardware and counts. The
//     burnt-in address (MIB_IF_ROW2's PermanentPhysicalAddress) is taken,
//     so that an address set in the adapter's settings or Wi-Fi's random
//     addresses change nothing; without one the current address, unless
//     all zeros or locally administered. Windows lists no adapter that is
//     disabled in its settings: disabling a NIC changes this component as
//     replacing it does. Machine-bound.
//   - root-disk: the system volume's (the Windows directory's) file system
//     name and 32-bit volume serial number (GetVolumeInformation),
//     "ntfs:1a2b3c4d". Set when the volume is formatted: survives
//     reboots, updates and in-place upgrades, changes on reinstall with a
//     format. Portable: a disk image or clone carries it.
//   - disk-serial: the serial number of the disk (or, for a volume that
//     spans several, disks, sorted and comma-joined) under the system
//     volume (IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS, then
//     IOCTL_STORAGE_QUERY_PROPERTY's STORAGE_DEVICE_DESCRIPTOR on
//     \\.\PhysicalDriveN, both asked on handles opened without read
//     access, which any user may open), trimmed; a hex-encoded serial from
//     an old driver is decoded (see cleanDiskSerial); QEMU's QM0000N and
//     other placeholders are missing. The text is the driver's (stornvme
//     gives an NVMe disk's EUI-64 "0025_3858_..._A3B1."), so it need not
//     equal what Linux shows for the same disk. Portable, as on Linux.
//
// Windows has no machine-id, hypervisor-uuid or operator-id component.
// The Windows sources are tested on recorded answers (winsources_test.go,
// on every OS), not on real Windows machines: what each system call
// returns there is taken from its documentation. Under Wine 8 the
// collector runs and finds machine-guid (one per Wine prefix), Wine's
// SMBIOS UUID (which Wine derives from the host's machine-id), the
// adapters and the volume serial, and no disk under the system volume.
//
// On macOS the components are, in order (every source may be run by a
// standard user and a service account; each program is run by its
// absolute path under /usr/sbin, with LC_ALL=C, for at most 10 seconds
// and 1 MiB of output, and output that is cut short or not of the
// expected shape makes its components [Missing]):
//
//   - platform-uuid: IOPlatformUUID of the IOPlatformExpertDevice, as
//     `ioreg -rd1 -c IOPlatformExpertDevice` prints it, lowercased: the
//     Hardware UUID that System Information shows. Set by the firmware:
//     it survives reinstalls and updates; a VM's is the hypervisor's id of
//     the VM, new when the VM is cloned as a new one. Placeholders (all
//     zeros, ...) are missing. Machine-bound.
//   - platform-serial: IOPlatformSerialNumber from the same entry,
//     trimmed; placeholders are missing. Machine-bound.
//   - mac: the burnt-in addresses of the built-in Ethernet and Wi-Fi ports
//     that `networksetup -listallhardwareports` lists (it shows the
//     hardware address, not a private Wi-Fi address), in the Linux
//     component's form: devices enN whose port name names no Thunderbolt
//     port or bridge (their addresses are made up in software), USB or
//     dock adapter, tethered iPhone or iPad, Bluetooth PAN, VPN, bond or
//     VLAN (see portMarkers), with a unicast address that is not locally
//     administered. Machine-bound.
//   - root-disk: the file system type and volume UUID, lowercased, that
//     `diskutil info -plist` reports for the Data volume of the root
//     volume group (/System/Volumes/Data, macOS 10.15 and later: the
//     sealed system volume above it is replaced by updates), or for "/"
//     on older systems, e.g. "apfs:0a1b2c3d-...". Set when the volume is
//     created: survives reboots and updates, changes on erase and
//     reinstall. Portable: a clone of the disk (or a migration with
//     Apple's tools restoring a volume image) carries it.
//
// macOS has no machine-id, disk-serial, hypervisor-uuid or operator-id
// component. IOKit itself is a C API, which the release builds (without
// cgo) cannot call; ioreg, networksetup and diskutil are Apple's own
// front ends to the same registry entries. The macOS collector is tested
// on outputs written after these programs' formats (testdata/darwin), not
// on a Mac: no Mac is available to this project.
func CollectFingerprint(product string) *HostFingerprint {
	return collectHost(product)
}

// hostSources are the paths the collector reads; tests point them at fake
// trees. netDir must be <sysfs>/class/net: the virtual-device directory is
// found at <sysfs>/devices/virtual from it.
type hostSources struct {
	MachineIDPaths  []string
	DMIDir, NetDir  string
	HypervisorUUID  string
	SysfsMagic      uint32 // the statfs type the hypervisor directory must have (0: sysfs)
	StatfsPath      string
	SysDir          string   // the sysfs root, for /sys/dev/block and /sys/class/block
	RootDev         string   // "MAJOR:MINOR" of the root filesystem; "" means look it up
	MountInfo       string   // /proc/self/mountinfo, for a root without a device number
	OperatorIDPaths []string // the operator-id files, in order
	BtrfsDir        string   // /sys/fs/btrfs, for a btrfs root's UUID
	ByUUIDDir       string   // /dev/disk/by-uuid, for an XFS root's UUID
	// PermAddr returns a NIC's permanent (burnt-in) address, "" when the
	// driver has none, or an error when it could not be asked (nil: none
	// is known, as for fake trees).
	PermAddr func(iface string) (string, error) `json:"-"`
}

func defaultSources() hostSources {
	return hostSources{
		MachineIDPaths:  []string{"/etc/machine-id", "/var/lib/dbus/machine-id"},
		DMIDir:          "/sys/class/dmi/id",
		NetDir:          "/sys/class/net",
		HypervisorUUID:  "/sys/hypervisor/uuid",
		StatfsPath:      "/",
		SysDir:          "/sys",
		MountInfo:       "/proc/self/mountinfo",
		OperatorIDPaths: []string{"/run/secrets/airlock-operator-id", "/etc/airlock/operator-id"},
		BtrfsDir:        "/sys/fs/btrfs",
		ByUUIDDir:       "/dev/disk/by-uuid",
		PermAddr:        permanentAddress,
	}
}

func collect(product string, s hostSources) *HostFingerprint {
	h := &HostFingerprint{Product: product}
	add := h.adder
	add(format.ComponentMachineID)(readMachineID(s.MachineIDPaths, s.MountInfo))
	uuid, uuidState, uuidReason := readDMIProductUUID(s.DMIDir)
	hyper, hyperState, hyperReason := readHypervisorUUID(s)
	if uuidState == Found && hyperState == Found && uuid == hyper {
		// One id counted once, as the world-readable copy, so that root
		// and a service account record the same components.
		uuid, uuidState, uuidReason = "", Missing, "the same id as hypervisor-uuid (counted once)"
	}
	add(format.ComponentDMIProduct)(uuid, uuidState, uuidReason)
	board, boardState, boardReason := readDMISerial(s.DMIDir, "board_serial")
	add(format.ComponentDMIBoardSerial)(board, boardState, boardReason)
	chassis, chassisState, chassisReason := readDMISerial(s.DMIDir, "chassis_serial")
	if chassisState == Found && boardState == Found && chassis == board {
		chassis, chassisState, chassisReason = "", Missing, "chassis_serial is the board serial again (counted once)"
	}
	add(format.ComponentDMIChassisSerial)(chassis, chassisState, chassisReason)
	add(format.ComponentHypervisorUUID)(hyper, hyperState, hyperReason)
	add(format.ComponentMAC)(readMACs(s.NetDir, s.PermAddr))
	add(format.ComponentRootDisk)(readRootFS(s))
	add(format.ComponentDiskSerial)(readDiskSerial(s))
	add(format.ComponentOperatorID)(readOperatorID(s.OperatorIDPaths))
	return h
}

// adder returns the function that records the component name:
// h.adder(name)(readX(...)). The raw value goes no further than the hash,
// computed the same way on every platform.
func (h *HostFingerprint) adder(name string) func(string, ComponentState, string) {
	return func(raw string, state ComponentState, reason string) {
		c := ComponentStatus{Name: name, State: state, Reason: reason}
		if state == Found {
			c.Hash, c.Reason = format.HashComponent(h.Product, raw), ""
		}
		h.Components = append(h.Components, c)
	}
}

// readSmall reads at most 4 KiB of a file: every source is a short line.
func readSmall(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	return string(b), err
}

func denied(err error) bool { return errors.Is(err, fs.ErrPermission) }

// failed turns an error reading path into a component state: permission
// denied (EACCES, EPERM) is Unverifiable, anything else Missing.
func failed(path string, err error) (string, ComponentState, string) {
	switch {
	case denied(err):
		return "", Unverifiable, path + " exists but this user may not read it (permission denied)"
	case errors.Is(err, fs.ErrNotExist):
		return "", Missing, path + " not present"
	}
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err // the path is named already
	}
	return "", Missing, path + " could not be read: " + err.Error()
}

func readMachineID(paths []string, mountInfo string) (string, ComponentState, string) {
	var absent []string
	for _, p := range paths {
		if transientMount(mountInfo, p) {
			// systemd mounts a new id from /run over it at every boot when
			// the root is read-only and the id was never committed.
			return "", Missing, p + " is a transient id that changes at every boot (read-only root); make it persistent: systemd-machine-id-setup --commit"
		}
		v, err := readSmall(p)
		if errors.Is(err, fs.ErrNotExist) {
			absent = append(absent, p)
			continue
		} else if err != nil {
			// Not falling back when denied keeps root and a service user
			// on one value.
			return failed(p, err)
		}
		switch v = strings.TrimSpace(v); v {
		case "":
			return "", Missing, p + " is empty"
		case "uninitialized":
			return "", Missing, p + ` is "uninitialized" (first boot not finished)`
		}
		return v, Found, ""
	}
	return "", Missing, strings.Join(absent, " and ") + " not present"
}

// junkUUIDs are product UUIDs that firmware ships unset, shared by many
// machines. All-zero and all-F values are caught separately.
var junkUUIDs = []string{
	"03000200-0400-0500-0006-000700080009",
	"00020003-0004-0005-0006-000700080009", // the same, SMBIOS < 2.6 byte order
	"12345678-1234-5678-90ab-cddeefaabbcc", // shipped by many board makers
}

func readDMIProductUUID(dir string) (string, ComponentState, string) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", Missing, dir + " not present (no DMI on this machine, common in VMs)"
	}
	p := filepath.Join(dir, "product_uuid")
	v, err := readSmall(p)
	if denied(err) {
		return "", Unverifiable, p + " is readable only by root; a non-root process leaves it out of the match"
	} else if err != nil {
		return failed(p, err)
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if !isUUID(v) {
		return "", Missing, p + " does not hold a UUID"
	}
	if placeholderUUID(v) {
		return "", Missing, p + " holds a firmware placeholder, not an id of this machine"
	}
	return v, Found, ""
}

// placeholderUUID reports a lowercase product UUID that is no id of a
// machine: all zeros, all F, or one of junkUUIDs.
func placeholderUUID(v string) bool {
	digits := strings.ReplaceAll(v, "-", "")
	return strings.Trim(digits, "0") == "" || strings.Trim(digits, "f") == "" || slices.Contains(junkUUIDs, v)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func readMACs(netDir string, permAddr func(string) (string, error)) (string, ComponentState, string) {
	entries, err := os.ReadDir(netDir)
	if err != nil {
		return failed(netDir, err)
	}
	virtual := filepath.Join(filepath.Dir(filepath.Dir(netDir)), "devices", "virtual")
	if v, err := filepath.EvalSymlinks(virtual); err == nil {
		virtual = v
	}
	isVirtual := func(p string) bool { return p == virtual || strings.HasPrefix(p, virtual+string(filepath.Separator)) }
	realNet := netDir
	if r, err := filepath.EvalSymlinks(netDir); err == nil {
		realNet = r
	}
	var macs, skipped, unasked []string
	for _, e := range entries {
		name := e.Name()
		dir := filepath.Join(netDir, name)
		self, selfErr := resolveSysfs(filepath.Join(realNet, name))
		devLink := filepath.Join(self, "device")
		if selfErr != nil {
			devLink = filepath.Join(dir, "device")
		}
		dev, err := resolveSysfs(devLink)
		if denied(err) {
			return failed(filepath.Join(dir, "device"), err)
		}
		if err != nil || isVirtual(dev) || isVirtual(self) {
			skipped = append(skipped, name+" virtual")
			continue
		}
		if strings.Contains(dev, string(filepath.Separator)+"usb") {
			skipped = append(skipped, name+" on USB")
			continue
		}
		var askErr error
		if permAddr != nil {
			a, err := permAddr(name)
			if a = strings.ToLower(a); a != "" && strings.Trim(a, "0:") != "" {
				macs = append(macs, a)
				continue
			}
			askErr = err
		}
		t, err := readSmall(filepath.Join(dir, "addr_assign_type"))
		if denied(err) {
			return failed(filepath.Join(dir, "addr_assign_type"), err)
		}
		if t = strings.TrimSpace(t); askErr != nil && t != "0" {
			// Not the permanent address, and the permanent one could not be
			// asked for here: where it can be (root, another process), it
			// would count, so this NIC may not be skipped silently.
			unasked = append(unasked, name)
			continue
		}
		switch {
		case t == "1":
			skipped = append(skipped, name+" random MAC")
			continue
		case t == "3":
			skipped = append(skipped, name+" MAC set by software")
			continue
		}
		a, err := readSmall(filepath.Join(dir, "address"))
		if denied(err) {
			return failed(filepath.Join(dir, "address"), err)
		}
		a = strings.ToLower(strings.TrimSpace(a))
		if err != nil || strings.Trim(a, "0:") == "" {
			skipped = append(skipped, name+" no MAC")
			continue
		}
		macs = append(macs, a)
	}
	if len(unasked) > 0 {
		return "", Missing, fmt.Sprintf("the permanent MAC address of %s cannot be read by this process (its network namespace is not the one %s shows, or it may not open sockets); run it in the host's network namespace", strings.Join(unasked, ", "), netDir)
	}
	if len(macs) == 0 {
		reason := "no physical network interface with a fixed MAC address"
		if len(skipped) > 0 {
			if len(skipped) > 6 {
				skipped = append(skipped[:6], fmt.Sprintf("%d more", len(skipped)-6))
			}
			reason += " (skipped: " + strings.Join(skipped, ", ") + ")"
		}
		return "", Missing, reason
	}
	slices.Sort(macs)
	return strings.Join(slices.Compact(macs), ","), Found, ""
}

// unstableFS are filesystem types whose f_fsid changes when they are
// mounted again, by their statfs magic.
var unstableFS = map[uint32]string{
	0x01021994: "tmpfs, whose id changes at every mount",
	0x794c7630: "overlayfs, whose id changes at every mount",
	0x73717368: "squashfs, whose id changes at every mount",
}

func readRootFS(s hostSources) (string, ComponentState, string) {
	path := s.StatfsPath
	typ, fsid, err := statFS(path)
	if err != nil {
		return failed(path, err)
	}
	switch typ {
	case btrfsMagic:
		return btrfsUUID(s)
	case xfsMagic:
		return uuidByDevice(s, xfsMagic, "XFS")
	}
	raw, reason := rootFSValue(typ, fsid)
	if reason != "" {
		return "", Missing, reason
	}
	return raw, Found, ""
}

// rootFSValue formats a statfs result as the raw root-disk value, or says
// why there is none. f_type is a 32-bit magic on every architecture (some
// declare it signed), so it is taken as uint32.
func rootFSValue(typ uint32, fsid [2]int32) (raw, reason string) {
	if name, ok := unstableFS[typ]; ok {
		return "", "the root filesystem is " + name
	}
	if fsid[0] == 0 && fsid[1] == 0 {
		return "", "the root filesystem reports no id (f_fsid is zero)"
	}
	return fmt.Sprintf("%x:%08x%08x", typ, uint32(fsid[0]), uint32(fsid[1])), ""
}
