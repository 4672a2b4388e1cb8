package activator

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The SMBIOS table as Windows returns it (GetSystemFirmwareTable with the
// 'RSMB' provider), parsed here without build tags so that its tests run
// on every OS. The rules follow Linux's drivers/firmware/dmi_scan.c, so
// that Windows reports the values that /sys/class/dmi/id shows for the
// same firmware: a dual-boot machine, or a disk moved between the two,
// hashes the same dmi-* components.

//go:generate go test -run ^TestWindowsFixturesUpToDate$ -update-windows-fixtures .

// smbiosInfo is what the fingerprint takes from an SMBIOS table.
type smbiosInfo struct {
	Major, Minor  byte   // the SMBIOS version of the entry point
	UUID          string // the system UUID as Linux prints product_uuid; "" when absent or unset
	UUIDReason    string // why UUID is empty
	BoardSerial   string // the baseboard (type 2) serial as stored, "" when absent
	ChassisSerial string // the chassis (type 3) serial as stored, "" when absent
	// Truncated is set when a structure runs past the end of the table:
	// the walk stopped there, and what came after it is unknown.
	Truncated bool
}

// errSMBIOSHeader: the buffer is too short for the RawSMBIOSData header.
var errSMBIOSHeader = errors.New("the SMBIOS data is shorter than its header")

// SMBIOS structure types and offsets used (DMTF DSP0134).
const (
	smbiosSystem     = 1   // System Information: UUID at 0x08 (2.1 and later)
	smbiosBaseboard  = 2   // Baseboard Information: serial string at 0x07
	smbiosChassis    = 3   // System Enclosure: serial string at 0x07
	smbiosEndOfTable = 127 // End-of-Table
	smbiosUUIDOffset = 0x08
	smbiosSerialAt   = 0x07
	rawSMBIOSHeader  = 8 // RawSMBIOSData: calling method, major, minor, DMI revision, DWORD length
)

// parseRawSMBIOS parses a RawSMBIOSData block: an 8-byte header (BYTE
// Used20CallingMethod, SMBIOSMajorVersion, SMBIOSMinorVersion,
// DmiRevision; DWORD Length, little-endian) and Length bytes of
// structures. Each structure is a 4-byte header (type, length of the
// formatted area, handle), the formatted area, and a set of NUL-terminated
// strings ended by an extra NUL (two NULs when there are none). A string
// field holds a 1-based index into the set; 0 means none.
//
// As Linux does: the first structure of each type counts; a structure
// counts only when its string set ends inside the table; the walk stops at
// End-of-Table, at a structure shorter than its header, and at one that
// runs past the table (Truncated); a field counts only inside the
// structure's formatted area; a string of spaces only is empty; a UUID of
// all 0x00 or all 0xFF bytes is none. A stated Length beyond the bytes
// given is cut to them (and a structure cut there makes Truncated).
func parseRawSMBIOS(b []byte) (smbiosInfo, error) {
	var info smbiosInfo
	if len(b) < rawSMBIOSHeader {
		return info, errSMBIOSHeader
	}
	info.Major, info.Minor = b[1], b[2]
	n := uint64(binary.LittleEndian.Uint32(b[4:8]))
	data := b[rawSMBIOSHeader:]
	if n < uint64(len(data)) {
		data = data[:n]
	} else if n > uint64(len(data)) {
		info.Truncated = true
	}
	seenSystem, seenBoard, seenChassis := false, false, false
	info.UUIDReason = "the SMBIOS table has no System Information (type 1) structure"
	for i := 0; i+4 <= len(data); {
		typ, length := data[i], int(data[i+1])
		if length < 4 {
			break // malformed: Linux stops here too
		}
		end := i + length
		if end > len(data) {
			info.Truncated = true
			break
		}
		// The string set: up to the first pair of NULs at or after end.
		j := end
		for j+1 < len(data) && (data[j] != 0 || data[j+1] != 0) {
			j++
		}
		if j+1 >= len(data) {
			info.Truncated = true
			break
		}
		s := smbiosStruct{formatted: data[i:end], strings: data[end:j]}
		switch {
		case typ == smbiosSystem && !seenSystem:
			seenSystem = true
			info.UUID, info.UUIDReason = s.uuid(info.Major, info.Minor)
		case typ == smbiosBaseboard && !seenBoard:
			seenBoard = true
			info.BoardSerial = s.str(smbiosSerialAt)
		case typ == smbiosChassis && !seenChassis:
			seenChassis = true
			info.ChassisSerial = s.str(smbiosSerialAt)
		}
		if typ == smbiosEndOfTable {
			break
		}
		i = j + 2
	}
	if info.Truncated && !seenSystem {
		info.UUIDReason = "the SMBIOS table is truncated before its System Information (type 1) structure"
	}
	return info, nil
}

// smbiosStruct is one structure: its formatted area (header included) and
// its string set (the strings with their NULs, without the final one).
type smbiosStruct struct {
	formatted, strings []byte
}

// str returns the string whose index is at offset off of the formatted
// area: "" when the field lies past the area, the index is 0 or beyond the
// set, or the string holds only spaces.
func (s smbiosStruct) str(off int) string {
	if off >= len(s.formatted) {
		return ""
	}
	idx := int(s.formatted[off])
	if idx == 0 {
		return ""
	}
	rest := s.strings
	for k := 1; ; k++ {
		str, tail, found := cutNUL(rest)
		if k == idx {
			for _, c := range str {
				if c != ' ' {
					return string(str)
				}
			}
			return ""
		}
		if !found || len(tail) == 0 {
			return ""
		}
		rest = tail
	}
}

func cutNUL(b []byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// uuid formats the System Information UUID as Linux prints product_uuid
// (lowercase, 8-4-4-4-12). SMBIOS 2.6 and later store its first three
// fields (time_low, time_mid, time_hi_and_version) little-endian, as
// Linux's %pUl prints them and as Windows (wmic csproduct get uuid) shows
// them; earlier versions are printed byte by byte (%pUb). Linux corrects
// some firmware's version first (2.31 and 2.33 are 2.3; 2.51 is 2.6), and
// so does this.
func (s smbiosStruct) uuid(major, minor byte) (string, string) {
	if len(s.formatted) < smbiosUUIDOffset+16 {
		return "", "the SMBIOS System Information structure is too short to hold a UUID (SMBIOS before 2.1)"
	}
	u := s.formatted[smbiosUUIDOffset : smbiosUUIDOffset+16]
	zero, ff := true, true
	for _, c := range u {
		zero = zero && c == 0x00
		ff = ff && c == 0xff
	}
	if zero || ff {
		return "", "the SMBIOS system UUID is unset (all zeros or all F): the firmware gives no id of this machine"
	}
	ver := uint16(major)<<8 | uint16(minor)
	switch ver {
	case 0x021f, 0x0221:
		ver = 0x0203
	case 0x0233:
		ver = 0x0206
	}
	var o [16]byte
	copy(o[:], u)
	if ver >= 0x0206 {
		o[0], o[1], o[2], o[3] = u[3], u[2], u[1], u[0]
		o[4], o[5] = u[5], u[4]
		o[6], o[7] = u[7], u[6]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", o[0:4], o[4:6], o[6:8], o[8:10], o[10:16]), ""
}
