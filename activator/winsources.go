package activator

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/airlock-license/airlock/format"
)

// The Windows collector's decisions, without build tags so that they are
// tested on every OS: collect_windows.go only calls the system and hands
// the raw answers to collectWindows. See CollectFingerprint for the
// components and their stability.

// machineGUIDPath names the registry value of the machine-guid component.
const machineGUIDPath = `HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid`

// windowsSources are the system calls the Windows collector makes; tests
// give recorded answers. A nil function is a source this host lacks.
type windowsSources struct {
	// MachineGUID returns the MachineGuid value (64-bit registry view).
	MachineGUID func() (string, error)
	// SMBIOS returns the RawSMBIOSData block (GetSystemFirmwareTable 'RSMB').
	SMBIOS func() ([]byte, error)
	// SystemVolume returns the file system name ("NTFS") and the volume
	// serial number of the volume holding the Windows directory.
	SystemVolume func() (fsName string, serial uint32, err error)
	// SystemDisks returns the disks under that volume, each with its
	// STORAGE_DEVICE_DESCRIPTOR or the error of asking for it.
	SystemDisks func() ([]rawDisk, error)
	// Adapters returns the network adapters (GetAdaptersAddresses, with
	// GetIfEntry2Ex and the registry for each).
	Adapters func() ([]netAdapter, error)
}

// rawDisk is one disk under the system volume.
type rawDisk struct {
	Number     uint32 // N of \\.\PhysicalDriveN
	Descriptor []byte // STORAGE_DEVICE_DESCRIPTOR as IOCTL_STORAGE_QUERY_PROPERTY returned it
	Err        error  // opening or asking the disk failed
}

// collectWindows reads the Windows identifiers through s, in the order
// machine-guid, dmi-product-uuid, dmi-board-serial, dmi-chassis-serial,
// mac, root-disk, disk-serial. The names and the hashing are those of
// every platform (HostFingerprint.adder); where a source is the same as on
// Linux (SMBIOS, the MACs) so is the raw value.
func collectWindows(product string, s windowsSources) *HostFingerprint {
	h := &HostFingerprint{Product: product}
	add := h.adder
	add(format.ComponentMachineGUID)(readMachineGUID(s.MachineGUID))
	uuid, board, chassis := readSMBIOS(s.SMBIOS)
	add(format.ComponentDMIProduct)(uuid.v, uuid.state, uuid.reason)
	add(format.ComponentDMIBoardSerial)(board.v, board.state, board.reason)
	add(format.ComponentDMIChassisSerial)(chassis.v, chassis.state, chassis.reason)
	add(format.ComponentMAC)(readAdapters(s.Adapters))
	add(format.ComponentRootDisk)(readSystemVolume(s.SystemVolume))
	add(format.ComponentDiskSerial)(readSystemDisks(s.SystemDisks))
	return h
}

// winFailed turns the error of a system call into a component state, as
// failed does for a file: access denied is Unverifiable, anything else
// Missing.
func winFailed(what string, err error) (string, ComponentState, string) {
	switch {
	case denied(err):
		return "", Unverifiable, what + " exists but this user may not read it (access denied)"
	case errors.Is(err, fs.ErrNotExist):
		return "", Missing, what + " not present"
	}
	return "", Missing, what + " could not be read: " + err.Error()
}

func readMachineGUID(read func() (string, error)) (string, ComponentState, string) {
	if read == nil {
		return "", Missing, machineGUIDPath + " not present"
	}
	v, err := read()
	if err != nil {
		return winFailed(machineGUIDPath, err)
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if !isUUID(v) || placeholderUUID(v) {
		return "", Missing, machineGUIDPath + " does not hold a GUID"
	}
	return v, Found, ""
}

// sourceValue is one collector result.
type sourceValue struct {
	v      string
	state  ComponentState
	reason string
}

// readSMBIOS returns the dmi-product-uuid, dmi-board-serial and
// dmi-chassis-serial components from the SMBIOS table, with the
// placeholder rules of the Linux sources.
func readSMBIOS(read func() ([]byte, error)) (uuid, board, chassis sourceValue) {
	const what = "the SMBIOS table (GetSystemFirmwareTable 'RSMB')"
	all := func(v string, st ComponentState, reason string) (sourceValue, sourceValue, sourceValue) {
		c := sourceValue{v, st, reason}
		return c, c, c
	}
	if read == nil {
		return all("", Missing, what+" not present")
	}
	b, err := read()
	if err != nil {
		return all(winFailed(what, err))
	}
	info, err := parseRawSMBIOS(b)
	if err != nil {
		return all("", Missing, what+": "+err.Error())
	}
	switch {
	case info.UUID == "":
		uuid = sourceValue{"", Missing, info.UUIDReason}
	case placeholderUUID(info.UUID):
		uuid = sourceValue{"", Missing, "the SMBIOS system UUID is a firmware placeholder, not an id of this machine"}
	default:
		uuid = sourceValue{info.UUID, Found, ""}
	}
	serial := func(v, name string, typ int) sourceValue {
		v = strings.TrimSpace(v)
		switch {
		case v == "" && info.Truncated:
			return sourceValue{"", Missing, fmt.Sprintf("the SMBIOS table is truncated, and no %s serial (type %d) was read before the cut", name, typ)}
		case v == "":
			return sourceValue{"", Missing, fmt.Sprintf("the SMBIOS table gives no %s serial (type %d)", name, typ)}
		case placeholderSerial(v):
			return sourceValue{"", Missing, fmt.Sprintf("the SMBIOS %s serial is a placeholder, not a serial number", name)}
		}
		return sourceValue{v, Found, ""}
	}
	board = serial(info.BoardSerial, "baseboard", smbiosBaseboard)
	chassis = serial(info.ChassisSerial, "chassis", smbiosChassis)
	if board.state == Found && chassis.state == Found && board.v == chassis.v {
		chassis = sourceValue{"", Missing, "the chassis serial is the board serial again (counted once)"}
	}
	return uuid, board, chassis
}

// readSystemVolume returns the root-disk component: the file system name
// in lowercase and the 32-bit volume serial number in hex, e.g.
// "ntfs:1a2b3c4d".
func readSystemVolume(read func() (string, uint32, error)) (string, ComponentState, string) {
	const what = "the system volume (GetVolumeInformation)"
	if read == nil {
		return "", Missing, what + " not present"
	}
	name, serial, err := read()
	if err != nil {
		return winFailed(what, err)
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if serial == 0 {
		return "", Missing, "the system volume reports no serial number (zero)"
	}
	if name == "" || !printable(name) || strings.Contains(name, ":") {
		return "", Missing, "the system volume reports no file system name"
	}
	return fmt.Sprintf("%s:%08x", name, serial), Found, ""
}

// readSystemDisks returns the disk-serial component: the serial numbers of
// the disks under the system volume, sorted and comma-joined (a volume
// spanning disks has several).
func readSystemDisks(read func() ([]rawDisk, error)) (string, ComponentState, string) {
	const what = "the system volume's disks (IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS)"
	if read == nil {
		return "", Missing, what + " not present"
	}
	disks, err := read()
	if err != nil {
		return winFailed(what, err)
	}
	if len(disks) == 0 {
		return "", Missing, "the system volume lies on no physical disk"
	}
	var serials, without []string
	for _, d := range disks {
		name := fmt.Sprintf(`\\.\PhysicalDrive%d`, d.Number)
		if d.Err != nil {
			return winFailed(name+" (IOCTL_STORAGE_QUERY_PROPERTY)", d.Err)
		}
		dev, err := parseStorageDescriptor(d.Descriptor)
		if err != nil {
			return "", Missing, name + ": " + err.Error()
		}
		if s := cleanDiskSerial(dev.Serial); s != "" {
			serials = append(serials, s)
		} else {
			without = append(without, name)
		}
	}
	if len(without) > 0 {
		if len(without) > 4 {
			without = append(without[:4], fmt.Sprintf("%d more", len(without)-4))
		}
		return "", Missing, "the system disk (" + strings.Join(without, ", ") + ") reports no serial number"
	}
	slices.Sort(serials)
	return strings.Join(slices.Compact(serials), ","), Found, ""
}
