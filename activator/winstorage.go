package activator

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The Windows storage structures the disk-serial component reads, parsed
// without build tags so that their tests run on every OS.

// storageDeviceHeader is the size of STORAGE_DEVICE_DESCRIPTOR up to its
// RawDeviceProperties: DWORD Version, Size; BYTE DeviceType,
// DeviceTypeModifier; BOOLEAN RemovableMedia, CommandQueueing; DWORD
// VendorIdOffset, ProductIdOffset, ProductRevisionOffset,
// SerialNumberOffset; STORAGE_BUS_TYPE BusType; DWORD RawPropertiesLength.
const storageDeviceHeader = 36

// storageDevice is what the fingerprint takes from a disk's descriptor.
type storageDevice struct {
	Vendor, Product, Serial string // as the driver reports them, "" when absent
	BusType                 uint32 // STORAGE_BUS_TYPE: 3 ATA, 7 USB, 11 SATA, 17 NVMe, ...
	Removable               bool
}

var errStorageDescriptor = errors.New("the storage device descriptor is shorter than its header")

// parseStorageDescriptor parses a STORAGE_DEVICE_DESCRIPTOR (all fields
// little-endian). Each string is NUL-terminated ASCII at an offset from
// the start of the descriptor; an offset of 0 means the device has none,
// and one inside the header or past the descriptor (its Size, or the
// bytes returned if fewer) is treated as none.
func parseStorageDescriptor(b []byte) (storageDevice, error) {
	if len(b) < storageDeviceHeader {
		return storageDevice{}, errStorageDescriptor
	}
	le := binary.LittleEndian
	if size := le.Uint32(b[4:8]); size >= storageDeviceHeader && uint64(size) < uint64(len(b)) {
		b = b[:size]
	}
	str := func(at int) string {
		off := uint64(le.Uint32(b[at : at+4]))
		if off < storageDeviceHeader || off >= uint64(len(b)) {
			return ""
		}
		s, _, _ := cutNUL(b[off:])
		return string(s)
	}
	return storageDevice{
		Vendor:    str(12),
		Product:   str(16),
		Serial:    str(24),
		BusType:   le.Uint32(b[28:32]),
		Removable: b[10] != 0,
	}, nil
}

// cleanDiskSerial returns a disk's serial as the disk-serial component
// takes it, or "" when it is a placeholder or not text. Drivers pad
// serials with spaces (trimmed). Some (Windows XP's ATA driver, some USB
// bridges) give the serial hex-encoded, each 16-bit ATA word with its two
// bytes swapped (the case that the well-known diskid32 tool's
// flipAndCodeBytes decodes): a serial made of hex digits only, in whole
// words (a multiple of 4 digits, at least 8), that decodes to printable
// text is taken decoded, so that the value is the disk's serial and not
// the driver's encoding. A genuine all-hex serial of that shape whose bytes
// happen to be printable (rare: each byte must be 0x20 to 0x7e) is
// decoded too; the value is then still stable, only not the printed one.
func cleanDiskSerial(s string) string {
	s = strings.TrimSpace(strings.Trim(s, "\x00"))
	if d, ok := decodeHexSerial(s); ok {
		s = d
	}
	if placeholderSerial(s) || !printable(s) {
		return ""
	}
	return s
}

func decodeHexSerial(s string) (string, bool) {
	if len(s) < 8 || len(s)%4 != 0 {
		return "", false
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return "", false
	}
	for i := 0; i+1 < len(b); i += 2 {
		b[i], b[i+1] = b[i+1], b[i]
	}
	if !printable(string(b)) {
		return "", false
	}
	return strings.TrimSpace(string(b)), true // spaces only: an empty serial, encoded
}

// parseDiskExtents parses VOLUME_DISK_EXTENTS: DWORD
// NumberOfDiskExtents, then (aligned to 8) that many DISK_EXTENT of 24
// bytes each (DWORD DiskNumber, padding, LARGE_INTEGER StartingOffset,
// ExtentLength). It returns the disk numbers, each once, in order.
func parseDiskExtents(b []byte) ([]uint32, error) {
	if len(b) < 4 {
		return nil, errors.New("the volume's disk extents are shorter than their count")
	}
	n := uint64(binary.LittleEndian.Uint32(b[0:4]))
	if n > 0 && (len(b) < 8 || n > uint64(len(b)-8)/24) {
		return nil, fmt.Errorf("the volume's disk extents name %d extents in %d bytes", n, len(b))
	}
	var disks []uint32
	for i := uint64(0); i < n; i++ {
		if d := binary.LittleEndian.Uint32(b[8+24*i:]); !slices.Contains(disks, d) {
			disks = append(disks, d)
		}
	}
	return disks, nil
}
