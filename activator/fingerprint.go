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
	"syscall"

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
// design. Only these may be left out of a match when unreadable: any other
// unreadable identifier (a machine-id made unreadable, say) counts as
// changed, so that making files unreadable cannot lower the bar.
var rootOnly = map[string]bool{format.ComponentDMIProduct: true}

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
		if rootOnly[name] && slices.Contains(unverifiable, name) {
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
// [format.HashComponent] for product. On Linux the components are, in
// order:
//
//   - machine-id: /etc/machine-id, or /var/lib/dbus/machine-id when the
//     former does not exist, trimmed. An empty file or "uninitialized"
//     (first boot not finished) is missing; the fallback is not used then,
//     because systemd is about to write the real value.
//   - dmi-product-uuid: /sys/class/dmi/id/product_uuid, lowercased. Absent
//     in many VMs. Firmware placeholders (all zeros, all F, the common
//     03000200-0400-0500-0006-000700080009 in either byte order) and
//     non-UUID text are missing. The file is mode 0400, so a non-root
//     process sees it as unverifiable.
//   - mac: one component, the sorted, comma-joined, lowercase MAC addresses
//     of the physical NICs: interfaces under /sys/class/net with a device
//     link that does not resolve under /sys/devices/virtual (so no
//     loopback, bridge, veth, ifb, tun, VLAN or bond), whose address is not
//     all zeros and whose addr_assign_type is neither 1 (random) nor 3 (set
//     by user space, e.g. a cloned or bonded MAC). Replacing a NIC changes
//     this one component, which the tolerant match absorbs.
//   - root-disk: statfs("/"): the filesystem type magic and f_fsid in hex,
//     e.g. "ef53:0123456789abcdef". On ext4 and btrfs f_fsid derives from
//     the filesystem UUID; on XFS it is the device number (major:minor),
//     the same on every machine whose root is on the same device, so there
//     it tells machines apart little. It is missing when f_fsid is zero, or
//     the root is tmpfs, overlayfs or squashfs, whose ids change at each
//     mount.
//
// A source that exists but may not be read (EACCES, EPERM) is
// [Unverifiable]; every other failure is [Missing], with a reason. Any user
// may read all sources but the DMI file.
func CollectFingerprint(product string) *HostFingerprint {
	return collect(product, defaultSources())
}

// hostSources are the paths the collector reads; tests point them at fake
// trees. netDir must be <sysfs>/class/net: the virtual-device directory is
// found at <sysfs>/devices/virtual from it.
type hostSources struct {
	machineIDPaths []string
	dmiDir, netDir string
	statfsPath     string
}

func defaultSources() hostSources {
	return hostSources{
		machineIDPaths: []string{"/etc/machine-id", "/var/lib/dbus/machine-id"},
		dmiDir:         "/sys/class/dmi/id",
		netDir:         "/sys/class/net",
		statfsPath:     "/",
	}
}

func collect(product string, s hostSources) *HostFingerprint {
	h := &HostFingerprint{Product: product}
	// add(name)(readX(...)) records one component; the raw value goes no
	// further than the hash.
	add := func(name string) func(string, ComponentState, string) {
		return func(raw string, state ComponentState, reason string) {
			c := ComponentStatus{Name: name, State: state, Reason: reason}
			if state == Found {
				c.Hash, c.Reason = format.HashComponent(product, raw), ""
			}
			h.Components = append(h.Components, c)
		}
	}
	add(format.ComponentMachineID)(readMachineID(s.machineIDPaths))
	add(format.ComponentDMIProduct)(readDMIProductUUID(s.dmiDir))
	add(format.ComponentMAC)(readMACs(s.netDir))
	add(format.ComponentRootDisk)(readRootFS(s.statfsPath))
	return h
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

func readMachineID(paths []string) (string, ComponentState, string) {
	var absent []string
	for _, p := range paths {
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
	digits := strings.ReplaceAll(v, "-", "")
	if strings.Trim(digits, "0") == "" || strings.Trim(digits, "f") == "" || slices.Contains(junkUUIDs, v) {
		return "", Missing, p + " holds a firmware placeholder, not an id of this machine"
	}
	return v, Found, ""
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

func readMACs(netDir string) (string, ComponentState, string) {
	entries, err := os.ReadDir(netDir)
	if err != nil {
		return failed(netDir, err)
	}
	virtual := filepath.Join(filepath.Dir(filepath.Dir(netDir)), "devices", "virtual")
	if v, err := filepath.EvalSymlinks(virtual); err == nil {
		virtual = v
	}
	isVirtual := func(p string) bool { return p == virtual || strings.HasPrefix(p, virtual+string(filepath.Separator)) }
	var macs, skipped []string
	for _, e := range entries {
		name := e.Name()
		dir := filepath.Join(netDir, name)
		dev, err := filepath.EvalSymlinks(filepath.Join(dir, "device"))
		if denied(err) {
			return failed(filepath.Join(dir, "device"), err)
		}
		self, _ := filepath.EvalSymlinks(dir)
		if err != nil || isVirtual(dev) || isVirtual(self) {
			skipped = append(skipped, name+" virtual")
			continue
		}
		switch t, err := readSmall(filepath.Join(dir, "addr_assign_type")); {
		case denied(err):
			return failed(filepath.Join(dir, "addr_assign_type"), err)
		case strings.TrimSpace(t) == "1":
			skipped = append(skipped, name+" random MAC")
			continue
		case strings.TrimSpace(t) == "3":
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
	// XFS reports the device number as f_fsid, the same on every machine
	// whose root is on, say, dm-0: not an identifier of this machine.
	0x58465342: "XFS, whose id is the device number, the same on other machines",
}

func readRootFS(path string) (string, ComponentState, string) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return failed(path, err)
	}
	raw, reason := rootFSValue(uint32(st.Type), st.Fsid.X__val)
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
