//go:build windows

package activator

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// collectHost reads this machine's identifiers from the Windows sources
// (see CollectFingerprint): the system calls are made here, and what they
// return is judged by collectWindows (winsources.go), tested on every OS.
// Every source is readable by a standard user and by a service account.
func collectHost(product string) *HostFingerprint {
	return collectWindows(product, windowsSources{
		MachineGUID:  machineGUID,
		SMBIOS:       rawSMBIOS,
		SystemVolume: systemVolume,
		SystemDisks:  systemDisks,
		Adapters:     networkAdapters,
	})
}

// machineGUID reads MachineGuid from the 64-bit registry view, so that a
// 32-bit build (windows/386 on a 64-bit Windows) is not redirected to
// WOW6432Node, where the value does not exist.
func machineGUID() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", err
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	return v, err
}

// GetSystemFirmwareTable is not in x/sys/windows.
var procGetSystemFirmwareTable = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")

// rsmb is the 'RSMB' firmware table provider (the raw SMBIOS table).
const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'

// maxSMBIOS bounds the table read (SMBIOS 2 tables are at most 64 KiB).
const maxSMBIOS = 4 << 20

// rawSMBIOS returns the RawSMBIOSData block: GetSystemFirmwareTable
// returns the size needed when the buffer is too small, and 0 on failure.
func rawSMBIOS() ([]byte, error) {
	if err := procGetSystemFirmwareTable.Find(); err != nil {
		return nil, err
	}
	call := func(buf []byte) (uint32, error) {
		var p uintptr
		if len(buf) > 0 {
			p = uintptr(unsafe.Pointer(&buf[0]))
		}
		n, _, e := procGetSystemFirmwareTable.Call(rsmb, 0, p, uintptr(len(buf)))
		if n == 0 {
			if errno, ok := e.(windows.Errno); ok && errno != 0 {
				return 0, errno
			}
			return 0, errors.New("GetSystemFirmwareTable returned no table")
		}
		return uint32(n), nil
	}
	n, err := call(nil)
	for range 3 {
		if err != nil {
			return nil, err
		}
		if n > maxSMBIOS {
			return nil, fmt.Errorf("the SMBIOS table is %d bytes, more than %d", n, maxSMBIOS)
		}
		buf := make([]byte, n)
		var m uint32
		if m, err = call(buf); err == nil && m <= n {
			return buf[:m], nil
		}
		n = m
	}
	if err != nil {
		return nil, err
	}
	return nil, errors.New("the SMBIOS table kept changing size")
}

// systemRoot returns the root of the volume that holds the Windows
// directory ("C:\").
func systemRoot() (string, error) {
	dir, err := windows.GetSystemWindowsDirectory()
	if err != nil {
		return "", err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return "", err
	}
	buf := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumePathName(p, &buf[0], uint32(len(buf))); err != nil {
		return "", err
	}
	return windows.UTF16ToString(buf), nil
}

func systemVolume() (string, uint32, error) {
	root, err := systemRoot()
	if err != nil {
		return "", 0, err
	}
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return "", 0, err
	}
	var serial, maxLen, flags uint32
	name := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumeInformation(p, nil, 0, &serial, &maxLen, &flags, &name[0], uint32(len(name))); err != nil {
		return "", 0, err
	}
	return windows.UTF16ToString(name), serial, nil
}

// Device I/O control codes (winioctl.h); both are FILE_ANY_ACCESS, so a
// handle opened without read or write access, which any user may open,
// may ask them.
const (
	ioctlVolumeGetVolumeDiskExtents = 0x00560000 // CTL_CODE(IOCTL_VOLUME_BASE, 0, METHOD_BUFFERED, FILE_ANY_ACCESS)
	ioctlStorageQueryProperty       = 0x002d1400 // CTL_CODE(IOCTL_STORAGE_BASE, 0x500, METHOD_BUFFERED, FILE_ANY_ACCESS)
)

// openDevice opens a volume or disk for device I/O control only.
func openDevice(path string) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	return windows.CreateFile(p, 0, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
}

// systemDisks finds the disks under the system volume and asks each for
// its STORAGE_DEVICE_DESCRIPTOR.
func systemDisks() ([]rawDisk, error) {
	root, err := systemRoot()
	if err != nil {
		return nil, err
	}
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return nil, err
	}
	vol := make([]uint16, 64)
	if err := windows.GetVolumeNameForVolumeMountPoint(p, &vol[0], uint32(len(vol))); err != nil {
		return nil, err
	}
	// \\?\Volume{GUID}\ names the root directory; the volume is without
	// the final backslash.
	h, err := openDevice(strings.TrimSuffix(windows.UTF16ToString(vol), `\`))
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(h)
	out := make([]byte, 8+24*32)
	var n uint32
	if err := windows.DeviceIoControl(h, ioctlVolumeGetVolumeDiskExtents, nil, 0, &out[0], uint32(len(out)), &n, nil); err != nil {
		return nil, err
	}
	numbers, err := parseDiskExtents(out[:n])
	if err != nil {
		return nil, err
	}
	disks := make([]rawDisk, 0, len(numbers))
	for _, num := range numbers {
		d := rawDisk{Number: num}
		d.Descriptor, d.Err = storageDescriptor(num)
		disks = append(disks, d)
	}
	return disks, nil
}

// storageDescriptor asks \\.\PhysicalDriveN for its device descriptor
// (StorageDeviceProperty, PropertyStandardQuery).
func storageDescriptor(num uint32) ([]byte, error) {
	h, err := openDevice(fmt.Sprintf(`\\.\PhysicalDrive%d`, num))
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(h)
	// STORAGE_PROPERTY_QUERY: PropertyId StorageDeviceProperty (0),
	// QueryType PropertyStandardQuery (0), AdditionalParameters[1], padded.
	var query [12]byte
	size := 1024
	for range 3 {
		out := make([]byte, size)
		var n uint32
		if err := windows.DeviceIoControl(h, ioctlStorageQueryProperty, &query[0], uint32(len(query)), &out[0], uint32(len(out)), &n, nil); err != nil {
			return nil, err
		}
		out = out[:n]
		// The descriptor's Size says how much it needs; a short buffer
		// gets its start only.
		if n >= 8 {
			if need := int(uint32(out[4]) | uint32(out[5])<<8 | uint32(out[6])<<16 | uint32(out[7])<<24); need > size && need <= 64<<10 {
				size = need
				continue
			}
		}
		return out, nil
	}
	return nil, errors.New("the storage device descriptor kept changing size")
}

// networkAdapters lists the adapters, with each one's interface flags and
// burnt-in address (GetIfEntry2Ex) and its device instance id (registry).
func networkAdapters() ([]netAdapter, error) {
	const flags = windows.GAA_FLAG_SKIP_UNICAST | windows.GAA_FLAG_SKIP_ANYCAST | windows.GAA_FLAG_SKIP_MULTICAST |
		windows.GAA_FLAG_SKIP_DNS_SERVER | windows.GAA_FLAG_INCLUDE_ALL_INTERFACES
	size := uint32(16 << 10)
	var buf []byte
	for range 4 {
		buf = make([]byte, size)
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, flags, 0, (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0])), &size)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_BUFFER_OVERFLOW) || size == 0 {
			return nil, err
		}
		buf = nil
	}
	if buf == nil {
		return nil, errors.New("the adapter list kept growing")
	}
	var list []netAdapter
	for a := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0])); a != nil; a = a.Next {
		n := netAdapter{
			Name:        windows.UTF16PtrToString(a.FriendlyName),
			Description: windows.UTF16PtrToString(a.Description),
			IfType:      a.IfType,
			TunnelType:  a.TunnelType,
			Current:     append([]byte(nil), a.PhysicalAddress[:min(a.PhysicalAddressLength, uint32(len(a.PhysicalAddress)))]...),
			PnPID:       pnpInstanceID(windows.BytePtrToString(a.AdapterName)),
		}
		row := windows.MibIfRow2{InterfaceLuid: a.Luid}
		if windows.GetIfEntry2Ex(windows.MibIfEntryNormalWithoutStatistics, &row) == nil {
			n.FlagsKnown = true
			n.Hardware = row.InterfaceAndOperStatusFlags&0x01 != 0 // HardwareInterface
			n.Filter = row.InterfaceAndOperStatusFlags&0x02 != 0   // FilterInterface
			l := min(row.PhysicalAddressLength, uint32(len(row.PermanentPhysicalAddress)))
			n.Permanent = append([]byte(nil), row.PermanentPhysicalAddress[:l]...)
		}
		list = append(list, n)
	}
	return list, nil
}

// pnpInstanceID returns the device instance id of the adapter whose
// NetCfgInstanceId is guid, from the network class's registry key (readable
// by every user), or "" when it cannot be read.
func pnpInstanceID(guid string) string {
	if guid == "" {
		return ""
	}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE,
		`SYSTEM\CurrentControlSet\Control\Network\{4D36E972-E325-11CE-BFC1-08002BE10318}\`+guid+`\Connection`,
		registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return ""
	}
	defer k.Close()
	v, _, err := k.GetStringValue("PnPInstanceId")
	if err != nil {
		return ""
	}
	return v
}
