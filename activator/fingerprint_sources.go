package activator

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The identifiers added to the fingerprint for issue 11 (weak binding):
// SMBIOS serials, the hypervisor's VM id, the root disk's serial and an
// operator-provided id. See CollectFingerprint for what each is.

// readDMISerial reads an SMBIOS serial (board_serial, chassis_serial).
func readDMISerial(dir, file string) (string, ComponentState, string) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", Missing, dir + " not present (no DMI on this machine, common in VMs)"
	}
	p := filepath.Join(dir, file)
	v, err := readSmall(p)
	if denied(err) {
		return "", Unverifiable, p + " is readable only by root; a non-root process leaves it out of the match"
	} else if err != nil {
		return failed(p, err)
	}
	v = strings.TrimSpace(v)
	if placeholderSerial(v) {
		return "", Missing, p + " holds a placeholder, not a serial number"
	}
	return v, Found, ""
}

// placeholderSerial reports serials that firmware ships unset, shared by
// many machines.
func placeholderSerial(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	if len(l) == 7 && strings.HasPrefix(l, "qm0000") {
		return true // QEMU's default IDE disk serial, QM00001 to QM00004
	}
	if len(l) < 3 || strings.Trim(l, l[:1]) == "" { // empty, short, or one character repeated
		return true
	}
	for _, junk := range []string{
		"none", "n/a", "na", "null", "unknown", "invalid", "oem", "default string", "not specified", "not applicable",
		"not available", "system serial number", "chassis serial number", "base board serial number",
		"serial number", "0123456789", "123456789", "1234567890", "empty", "no asset tag",
	} {
		if l == junk {
			return true
		}
	}
	for _, part := range []string{"o.e.m", "to be filled"} {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}

// sysfsMagic is the statfs type of sysfs.
const sysfsMagic uint32 = 0x62656572

// readHypervisorUUID reads the VM id of a Xen guest, from the file the
// hypervisor driver puts in sysfs and nowhere else: on any other machine
// /sys/hypervisor is empty, and root could mount a file there (a tmpfs
// carried by the disk's boot configuration, or a bind mount) that a copy
// of the disk would carry along. So the id counts only where the
// directory is sysfs itself, its type file says xen, and nothing is
// mounted at or below it.
func readHypervisorUUID(s hostSources) (string, ComponentState, string) {
	path := s.HypervisorUUID
	v, err := readSmall(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", Missing, path + " not present (no hypervisor id beside SMBIOS)"
		}
		return failed(path, err)
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if !isUUID(v) || strings.Trim(strings.ReplaceAll(v, "-", ""), "0") == "" {
		return "", Missing, path + " does not hold a VM id"
	}
	dir := filepath.Dir(path)
	if t, err := readSmall(filepath.Join(dir, "type")); err != nil || strings.TrimSpace(t) != "xen" {
		return "", Missing, path + " is not a Xen guest's (" + filepath.Join(dir, "type") + " does not say xen): not used"
	}
	magic := s.SysfsMagic
	if magic == 0 {
		magic = sysfsMagic
	}
	if typ, _, err := statFS(dir); err != nil || typ != magic {
		return "", Missing, dir + " is not sysfs, so its uuid is a file, not the hypervisor's: not used"
	}
	if mp, root, fsType := coveringMount(s.MountInfo, path); fsType != "sysfs" || root != "/" || mp == dir || strings.HasPrefix(mp, dir+"/") {
		return "", Missing, "something is mounted over " + dir + " (" + mp + ", " + fsType + "), so its uuid is not the hypervisor's: not used"
	}
	return v, Found, ""
}

// coveringMount returns the mount point, root and type of the mount that
// path is on, from a mountinfo file: the longest mount point that holds
// path, the last of equals (a later mount hides an earlier one).
func coveringMount(mountInfo, path string) (mountPoint, root, fsType string) {
	f, err := os.Open(mountInfo)
	if err != nil {
		return "", "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, after := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(after) < 1 {
			continue
		}
		mp := fields[4]
		if mp != "/" && mp != path && !strings.HasPrefix(path, mp+"/") {
			continue
		}
		if len(mp) >= len(mountPoint) {
			mountPoint, root, fsType = mp, fields[3], after[0]
		}
	}
	return mountPoint, root, fsType
}

// readOperatorID reads the operator-provided id of a container.
func readOperatorID(paths []string) (string, ComponentState, string) {
	for _, p := range paths {
		v, err := readSmall(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return failed(p, err)
		}
		v = strings.TrimSpace(v)
		if len(v) < 16 {
			return "", Missing, fmt.Sprintf("%s holds %d characters; provision at least 16 random ones (openssl rand -hex 16), once per deployment", p, len(v))
		}
		return v, Found, ""
	}
	return "", Missing, "no operator id (" + strings.Join(paths, " or ") + "); containers can be given one, see activator fingerprint --help"
}

// readDiskSerial finds the disk that holds the root filesystem and reads
// its serial number.
func readDiskSerial(s hostSources) (string, ComponentState, string) {
	dev, reason := rootDevice(s)
	if dev == "" {
		return "", Missing, reason
	}
	link := filepath.Join(s.SysDir, "dev", "block", dev)
	dir, err := resolveSysfs(link)
	if err != nil {
		return failed(link, err)
	}
	var serials, without []string
	visited := map[string]bool{}
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
			dir = filepath.Dir(dir) // a partition: its disk is the parent
		}
		if visited[dir] || len(visited) > 64 {
			return nil // a loop in the tree, or more disks than any root has
		}
		visited[dir] = true
		// A device-mapper, md or other stacked device: the disks under it.
		slaves, _ := os.ReadDir(filepath.Join(dir, "slaves"))
		if len(slaves) > 0 && depth < 4 {
			for _, sl := range slaves {
				next, err := resolveSysfs(filepath.Join(dir, "slaves", sl.Name()))
				if err != nil {
					return err
				}
				if err := walk(next, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		serial, err := diskSerial(dir)
		if err != nil {
			return err
		}
		if serial == "" {
			without = append(without, filepath.Base(dir))
		} else {
			serials = append(serials, serial)
		}
		return nil
	}
	if err := walk(dir, 0); err != nil {
		if denied(err) {
			return "", Unverifiable, "the root disk's serial may not be read by this user: " + err.Error()
		}
		return "", Missing, "the root disk's serial could not be read: " + err.Error()
	}
	if len(serials) == 0 && len(without) == 0 {
		return "", Missing, "no disk was found under the root filesystem's device " + dev
	}
	if len(without) > 0 {
		if len(without) > 4 {
			without = append(without[:4], fmt.Sprintf("%d more", len(without)-4))
		}
		return "", Missing, "the root filesystem's disk (" + strings.Join(without, ", ") + ") reports no serial number"
	}
	slices.Sort(serials)
	return strings.Join(slices.Compact(serials), ","), Found, ""
}

// diskSerial returns the serial a disk's sysfs directory reports, or "".
func diskSerial(dir string) (string, error) {
	for _, f := range []string{"serial", "device/serial", "wwid", "device/wwid", "device/vpd_pg80"} {
		v, err := readSmall(filepath.Join(dir, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return "", err
		}
		if f == "device/vpd_pg80" {
			// The Unit Serial Number VPD page: a 4-byte header, then ASCII.
			if len(v) <= 4 {
				continue
			}
			v = v[4:]
		}
		v = strings.TrimSpace(strings.Trim(v, "\x00"))
		if !placeholderSerial(v) && printable(v) {
			return v, nil
		}
	}
	return "", nil
}

// resolveSysfs is filepath.EvalSymlinks for a sysfs link in a directory
// that is itself no link (callers resolve it first): sysfs links have
// relative targets that lead through real directories under
// /sys/devices, so one readlink and one lstat replace EvalSymlinks' lstat
// of every component (the fingerprint resolves a dozen links at every
// check and every Open). Whatever does not fit (not a link, an absolute
// target, a result that does not exist or is a link again) is left to
// EvalSymlinks.
func resolveSysfs(p string) (string, error) {
	t, err := os.Readlink(p)
	if err != nil || filepath.IsAbs(t) {
		return filepath.EvalSymlinks(p)
	}
	c := filepath.Join(filepath.Dir(p), t)
	if fi, err := os.Lstat(c); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
		return filepath.EvalSymlinks(p)
	}
	return c, nil
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// rootDevice returns "MAJOR:MINOR" of the block device that holds the root
// filesystem, or "" and why there is none.
func rootDevice(s hostSources) (string, string) {
	if s.RootDev != "" {
		return s.RootDev, ""
	}
	dev, err := fileDevice(s.StatfsPath)
	if err != nil {
		return "", "stat " + s.StatfsPath + ": " + err.Error()
	}
	major, minor := devMajor(dev), devMinor(dev)
	if major != 0 {
		return fmt.Sprintf("%d:%d", major, minor), ""
	}
	// An anonymous device (btrfs, overlayfs, tmpfs): the mount's source
	// tells which block device, if any, holds it.
	fsType, source := rootMount(s.MountInfo)
	if strings.HasPrefix(source, "/dev/") {
		if rdev, ok := blockDevice(source); ok {
			return fmt.Sprintf("%d:%d", devMajor(rdev), devMinor(rdev)), ""
		}
	}
	if fsType == "" {
		fsType = "unknown"
	}
	return "", "the root filesystem (" + fsType + ") is not on a block device"
}

// rootMount returns the type and source of the last mount on "/" in a
// mountinfo file.
func rootMount(path string) (fsType, source string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, after := strings.Fields(pre), strings.Fields(post)
		if ok && len(fields) >= 5 && fields[4] == "/" && len(after) >= 2 {
			fsType, source = after[0], after[1]
		}
	}
	return fsType, source
}

// devMajor and devMinor split a Linux dev_t (the glibc encoding).
func devMajor(dev uint64) uint32 { return uint32((dev>>8)&0xfff) | uint32((dev>>32)&^0xfff) }
func devMinor(dev uint64) uint32 { return uint32(dev&0xff) | uint32((dev>>12)&^0xff) }

// transientMount reports whether path is the transient machine-id that
// systemd mounts over a read-only /etc at every boot: a mount whose root
// is /machine-id on a tmpfs (systemd's /run/machine-id).
func transientMount(mountInfo, path string) bool {
	f, err := os.Open(mountInfo)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), " "+path+" ") {
			continue // most lines: not split into fields (a host may mount hundreds)
		}
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, after := strings.Fields(pre), strings.Fields(post)
		if ok && len(fields) >= 5 && fields[4] == path && fields[3] == "/machine-id" && len(after) >= 1 && (after[0] == "tmpfs" || after[0] == "ramfs") {
			return true
		}
	}
	return false
}

// btrfsMagic is the statfs type of btrfs.
const btrfsMagic uint32 = 0x9123683e

// btrfsUUID returns the raw root-disk value of a btrfs root: its
// filesystem UUID, from /sys/fs/btrfs/<uuid>/devices/<device>, since its
// f_fsid changes with the subvolume mounted (a snapshot rollback).
func btrfsUUID(s hostSources) (string, ComponentState, string) {
	_, source := rootMount(s.MountInfo)
	dev := filepath.Base(source)
	if link, err := filepath.EvalSymlinks(source); err == nil {
		dev = filepath.Base(link)
	}
	entries, err := os.ReadDir(s.BtrfsDir)
	if err != nil {
		return failed(s.BtrfsDir, err)
	}
	// A device-mapper source (LVM, LUKS) whose /dev/mapper link this
	// process cannot see (PrivateDevices=, a container's /dev) is found by
	// its dm name in sysfs instead.
	dmName, isDM := strings.CutPrefix(source, "/dev/mapper/")
	for _, e := range entries {
		if !isUUID(e.Name()) {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.BtrfsDir, e.Name(), "devices", dev)); err == nil {
			return fmt.Sprintf("%x:%s", btrfsMagic, e.Name()), Found, ""
		}
		if !isDM {
			continue
		}
		devs, _ := os.ReadDir(filepath.Join(s.BtrfsDir, e.Name(), "devices"))
		for _, d := range devs {
			if n, err := readSmall(filepath.Join(s.SysDir, "block", d.Name(), "dm", "name")); err == nil && strings.TrimSpace(n) == dmName {
				return fmt.Sprintf("%x:%s", btrfsMagic, e.Name()), Found, ""
			}
		}
	}
	return "", Missing, "the root filesystem is btrfs, and its UUID was not found under " + s.BtrfsDir + " (its f_fsid changes with the subvolume, so it is not used)"
}

// xfsMagic is the statfs type of XFS.
const xfsMagic uint32 = 0x58465342

// uuidByDevice returns the raw root-disk value of a root whose f_fsid is
// not its UUID: the UUID from the udev links in /dev/disk/by-uuid (any user
// may read them) whose device is the root's.
func uuidByDevice(s hostSources, magic uint32, name string) (string, ComponentState, string) {
	dev, reason := rootDevice(s)
	if dev == "" {
		return "", Missing, reason
	}
	dir := s.ByUUIDDir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", Missing, "the root filesystem is " + name + ", whose id is the device number (the same on other machines), and " + dir + " (udev) cannot be read to find its UUID"
	}
	for _, e := range entries {
		rdev, ok := blockDevice(filepath.Join(dir, e.Name()))
		if !ok {
			continue
		}
		if fmt.Sprintf("%d:%d", devMajor(rdev), devMinor(rdev)) == dev && isUUID(strings.ToLower(e.Name())) {
			return fmt.Sprintf("%x:%s", magic, strings.ToLower(e.Name())), Found, ""
		}
	}
	return "", Missing, "the root filesystem is " + name + ", and its UUID was not found in " + dir
}
