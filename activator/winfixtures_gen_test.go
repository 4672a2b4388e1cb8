package activator

// The generator of the recorded Windows answers in testdata/smbios and
// testdata/storage: SMBIOS tables as GetSystemFirmwareTable('RSMB')
// returns them (RawSMBIOSData), and STORAGE_DEVICE_DESCRIPTORs as
// IOCTL_STORAGE_QUERY_PROPERTY returns them, laid out as the firmware and
// drivers named in each file's header lay them out. `go generate
// ./activator` runs it with -update-windows-fixtures; without the flag,
// TestWindowsFixturesUpToDate checks that the committed files are what it
// makes. Each file says what the collector must make of it ("expect"
// lines), and TestSMBIOSFixtures / TestStorageFixtures check that.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-license/airlock/format"
)

var updateWindowsFixtures = flag.Bool("update-windows-fixtures", false, "rewrite testdata/smbios and testdata/storage")

// winFixture is one recorded answer: a header of comment and expect lines,
// then the bytes in hex.
type winFixture struct {
	dir, name string
	about     []string
	expect    []string // "COMPONENT found RAW" or "COMPONENT missing REASON-PART"
	data      []byte
}

func (f winFixture) path() string { return filepath.Join("testdata", f.dir, f.name+".txt") }

func (f winFixture) render() []byte {
	var b bytes.Buffer
	for _, l := range f.about {
		fmt.Fprintf(&b, "# %s\n", l)
	}
	for _, l := range f.expect {
		fmt.Fprintf(&b, "expect %s\n", l)
	}
	b.WriteString("\n")
	for i := 0; i < len(f.data); i += 16 {
		line := f.data[i:min(i+16, len(f.data))]
		parts := make([]string, len(line))
		for j, c := range line {
			parts[j] = fmt.Sprintf("%02x", c)
		}
		b.WriteString(strings.Join(parts, " ") + "\n")
	}
	return b.Bytes()
}

// readWinFixture parses a file that render wrote (comments after '#' on a
// hex line are allowed, for files edited by hand).
func readWinFixture(t testing.TB, path string) winFixture {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := winFixture{name: strings.TrimSuffix(filepath.Base(path), ".txt")}
	var hexText strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			f.about = append(f.about, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		case strings.HasPrefix(line, "expect "):
			f.expect = append(f.expect, strings.TrimPrefix(line, "expect "))
		default:
			line, _, _ = strings.Cut(line, "#")
			hexText.WriteString(strings.Join(strings.Fields(line), ""))
		}
	}
	if f.data, err = hex.DecodeString(hexText.String()); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// smbiosStructure is one SMBIOS structure: its type, handle, the formatted
// area after the 4-byte header, and its strings.
type smbiosStructure struct {
	typ    byte
	handle uint16
	fields []byte
	strs   []string
}

func (s smbiosStructure) bytes() []byte {
	for _, str := range s.strs {
		if str == "" {
			panic("an empty SMBIOS string would end the set; give index 0 instead")
		}
	}
	b := []byte{s.typ, byte(4 + len(s.fields)), byte(s.handle), byte(s.handle >> 8)}
	b = append(b, s.fields...)
	for _, str := range s.strs {
		b = append(append(b, str...), 0)
	}
	if len(s.strs) == 0 {
		b = append(b, 0)
	}
	return append(b, 0)
}

// rawSMBIOSTable lays out a RawSMBIOSData block. keep, when positive,
// cuts the table data to that many bytes while the header still states
// the whole length: a truncated answer.
func rawSMBIOSTable(major, minor byte, keep int, structs ...smbiosStructure) []byte {
	var data []byte
	for _, s := range structs {
		data = append(data, s.bytes()...)
	}
	h := []byte{0, major, minor, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(h[4:], uint32(len(data)))
	if keep > 0 {
		data = data[:keep]
	}
	return append(h, data...)
}

// uuidField encodes a UUID as SMBIOS stores it: from 2.6 on, its first
// three fields little-endian.
func uuidField(uuid string, mixed bool) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(uuid, "-", ""))
	if err != nil || len(b) != 16 {
		panic("bad uuid " + uuid)
	}
	if mixed {
		b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
		b[4], b[5] = b[5], b[4]
		b[6], b[7] = b[7], b[6]
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func zeros(n int) []byte  { return make([]byte, n) }

// strings numbers the non-empty strings of a structure: the index of
// each (0 for an empty one, which SMBIOS marks as none) and the set.
func smbiosStrings(strs ...string) ([]byte, []string) {
	var idx []byte
	var set []string
	for _, s := range strs {
		if s == "" {
			idx = append(idx, 0)
			continue
		}
		set = append(set, s)
		idx = append(idx, byte(len(set)))
	}
	return idx, set
}

// biosInfo is a type 0 (BIOS Information) structure of SMBIOS 2.4+ (0x18
// bytes): vendor, version, start segment, release date, ROM size,
// characteristics, their extension bytes, BIOS and EC release.
func biosInfo(vendor, version, date string, ext2 byte) smbiosStructure {
	i, set := smbiosStrings(vendor, version, date)
	return smbiosStructure{typ: 0, handle: 0, strs: set,
		fields: cat([]byte{i[0], i[1]}, u16(0xe800), []byte{i[2], 0}, u64(0x08), []byte{0x00, ext2, 0, 0, 0xff, 0xff})}
}

// systemInfo is a type 1 (System Information) structure of SMBIOS 2.4+
// (0x1b bytes): manufacturer, product, version, serial, UUID, wake-up
// type, SKU, family.
func systemInfo(uuid []byte, manufacturer, product, version, serial, sku, family string) smbiosStructure {
	i, set := smbiosStrings(manufacturer, product, version, serial, sku, family)
	return smbiosStructure{typ: 1, handle: 0x100, strs: set,
		fields: cat(i[0:4], uuid, []byte{0x06, i[4], i[5]})}
}

// baseboard is a type 2 (Baseboard Information) structure without
// contained handles (0x0f bytes): manufacturer, product, version, serial,
// asset tag, feature flags, location, chassis handle, board type.
func baseboard(manufacturer, product, version, serial, asset string) smbiosStructure {
	i, set := smbiosStrings(manufacturer, product, version, serial, asset)
	return smbiosStructure{typ: 2, handle: 0x200, strs: set,
		fields: cat(i[0:5], []byte{0x01, 0}, u16(0x300), []byte{0x0a, 0})}
}

// chassis is a type 3 (System Enclosure) structure of SMBIOS 2.7+ (0x16
// bytes): manufacturer, type, version, serial, asset tag, states, OEM
// word, height, power cords, no contained elements, SKU.
func chassis(kind byte, manufacturer, version, serial, asset string) smbiosStructure {
	i, set := smbiosStrings(manufacturer, version, serial, asset)
	return smbiosStructure{typ: 3, handle: 0x300, strs: set,
		fields: cat([]byte{i[0], kind, i[1], i[2], i[3], 3, 3, 3, 2}, u32(0), []byte{0, 0, 0, 0, 0})}
}

// processor is a type 4 (Processor Information) structure of SMBIOS 2.6+
// (0x2a bytes).
func processor(socket, maker, version string) smbiosStructure {
	i, set := smbiosStrings(socket, maker, version)
	return smbiosStructure{typ: 4, handle: 0x400, strs: set,
		fields: cat([]byte{i[0], 3, 0xfe, i[1]}, u64(0x078bfbfd000a06a1), []byte{i[2], 0}, u16(0), u16(2000), u16(2000), []byte{0x41, 0x01},
			u16(0xffff), u16(0xffff), u16(0xffff), []byte{0, 0, 0, 1, 1, 1}, u16(0x0004), u16(0x00fe))}
}

// memoryDevice is a type 17 (Memory Device) structure of SMBIOS 2.3.
func memoryDevice(locator, maker string) smbiosStructure {
	i, set := smbiosStrings(locator, maker)
	return smbiosStructure{typ: 17, handle: 0x1100, strs: set,
		fields: cat(u16(0x1000), u16(0xfffe), u16(64), u16(64), u16(4096), []byte{0x09, 0, i[0], 0, 0x07}, u16(0x0002), u16(0), []byte{i[1], 0, 0, 0, 0})}
}

func bootInfo() smbiosStructure { return smbiosStructure{typ: 32, handle: 0x2000, fields: zeros(7)} }

func endOfTable() smbiosStructure { return smbiosStructure{typ: 127, handle: 0x7f00} }

// smbiosFixtures are the recorded SMBIOS tables.
func smbiosFixtures() []winFixture {
	const (
		uuid     = format.ComponentDMIProduct
		board    = format.ComponentDMIBoardSerial
		chassisC = format.ComponentDMIChassisSerial
	)
	qemuUUID := "6d2b3f1a-93c4-4b8e-a1f0-5c7d9e2b4a61"
	hypervUUID := "0ae1a5f1-7c39-4b1b-9d54-3c14d38a2f55"
	dellUUID := "4c4c4544-0042-3310-8033-b7c04f313233"
	hpUUID := "34313335-3432-5355-4537-3430384e3154"
	dellBIOS := biosInfo("Dell Inc.", "1.21.0", "02/16/2023", 0x0f)
	dellSystem := systemInfo(uuidField(dellUUID, true), "Dell Inc.", "Latitude 7420", "", "7B3C123", "0A21", "Latitude")
	dellBoard := baseboard("Dell Inc.", "07MHG4", "A00", "/7B3C123/CNCMK0019A00F3/", "")
	dellChassis := chassis(0x0a, "Dell Inc.", "", "7B3C123", "")
	return []winFixture{{
		name: "qemu-q35-smbios28",
		about: []string{
			"QEMU 8.2 q35 machine with SeaBIOS (SMBIOS 2.8), a Windows guest of KVM:",
			"types 0, 1, 3, 4, 17, 32, 127; QEMU gives no baseboard (type 2) by default",
			"and no serials unless told (-smbios type=1,serial=...).",
		},
		expect: []string{uuid + " found " + qemuUUID, board + " missing no baseboard serial", chassisC + " missing no chassis serial"},
		data: rawSMBIOSTable(2, 8, 0,
			biosInfo("SeaBIOS", "rel-1.16.3-0-ga6ed6b701f0a-prebuilt.qemu.org", "04/01/2014", 0x1c),
			systemInfo(uuidField(qemuUUID, true), "QEMU", "Standard PC (Q35 + ICH9, 2009)", "pc-q35-8.2", "", "", ""),
			chassis(0x01, "QEMU", "pc-q35-8.2", "", ""),
			processor("CPU 0", "QEMU", "pc-q35-8.2"),
			memoryDevice("DIMM 0", "QEMU"),
			bootInfo(), endOfTable()),
	}, {
		name: "hyperv-gen2-smbios31",
		about: []string{
			"Hyper-V generation 2 VM (SMBIOS 3.1): the system UUID is the VM's id;",
			"system, baseboard and chassis serials as Hyper-V assigns them (the chassis",
			"serial is the system's, the baseboard's differs).",
		},
		expect: []string{uuid + " found " + hypervUUID, board + " found 2376-9120-1285-2745-4571-8920-28",
			chassisC + " found 4719-2854-4370-8423-0613-9731-76"},
		data: rawSMBIOSTable(3, 1, 0,
			biosInfo("Microsoft Corporation", "Hyper-V UEFI Release v4.1", "04/06/2022", 0x1c),
			systemInfo(uuidField(hypervUUID, true), "Microsoft Corporation", "Virtual Machine", "Hyper-V UEFI Release v4.1",
				"4719-2854-4370-8423-0613-9731-76", "None", "Virtual Machine"),
			baseboard("Microsoft Corporation", "Virtual Machine", "Hyper-V UEFI Release v4.1", "2376-9120-1285-2745-4571-8920-28", "None"),
			chassis(0x03, "Microsoft Corporation", "Hyper-V UEFI Release v4.1", "4719-2854-4370-8423-0613-9731-76", "7783-7084-3265-9085-8269-3286-77"),
			endOfTable()),
	}, {
		name: "dell-latitude-smbios32",
		about: []string{
			"A Dell Latitude laptop (SMBIOS 3.2): the UUID Dell derives from the service",
			"tag (4c4c4544 is \"DELL\"), the service tag as chassis serial, and the",
			"baseboard serial /TAG/PPID/.",
		},
		expect: []string{uuid + " found " + dellUUID, board + " found /7B3C123/CNCMK0019A00F3/", chassisC + " found 7B3C123"},
		data: rawSMBIOSTable(3, 2, 0, dellBIOS, dellSystem, dellBoard, dellChassis,
			processor("CPU 1", "Intel(R) Corporation", "11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz"),
			memoryDevice("DIMM A", "80AD000080AD"),
			bootInfo(), endOfTable()),
	}, {
		name: "ami-placeholders-smbios30",
		about: []string{
			"A white-box desktop board with AMI firmware (SMBIOS 3.0) left unset: the",
			"UUID 03000200-0400-0500-0006-000700080009 many boards share, and the",
			"default strings in every serial.",
		},
		expect: []string{uuid + " missing placeholder", board + " missing placeholder", chassisC + " missing placeholder"},
		data: rawSMBIOSTable(3, 0, 0,
			biosInfo("American Megatrends Inc.", "F12", "08/20/2019", 0x0d),
			systemInfo(uuidField("03000200-0400-0500-0006-000700080009", true),
				"System manufacturer", "System Product Name", "System Version", "System Serial Number", "SKU", "To be filled by O.E.M."),
			baseboard("Gigabyte Technology Co., Ltd.", "B450M DS3H", "x.x", "Default string", "Default string"),
			chassis(0x03, "Default string", "Default string", "Default string", "Default string"),
			endOfTable()),
	}, {
		name: "hp-proliant-smbios24",
		about: []string{
			"A 2007 HP ProLiant server (SMBIOS 2.4): before 2.6 the UUID is stored in",
			"byte order, and Linux prints it so; the same bytes under 2.6 would read",
			"35333134-3234-5553-4537-3430384e3154.",
		},
		expect: []string{uuid + " found " + hpUUID, board + " missing no baseboard serial", chassisC + " found USE740N1T8"},
		data: rawSMBIOSTable(2, 4, 0,
			biosInfo("HP", "P56", "01/24/2008", 0x00),
			systemInfo(uuidField(hpUUID, false), "HP", "ProLiant DL380 G5", "", "USE740N1T8", "", ""),
			chassis(0x17, "HP", "", "USE740N1T8", ""),
			endOfTable()),
	}, {
		name: "supermicro-allff-smbios27",
		about: []string{
			"A server board (SMBIOS 2.7) whose firmware sets the UUID to all FF (no id),",
			"with a real baseboard serial and a placeholder chassis serial.",
		},
		expect: []string{uuid + " missing unset", board + " found NM17CS012345", chassisC + " missing placeholder"},
		data: rawSMBIOSTable(2, 7, 0,
			biosInfo("American Megatrends Inc.", "3.2", "10/15/2019", 0x0d),
			systemInfo(bytes.Repeat([]byte{0xff}, 16), "Supermicro", "Super Server", "0123456789", "0123456789", "", ""),
			baseboard("Supermicro", "X11SSH-F", "1.01", "NM17CS012345", ""),
			chassis(0x11, "Supermicro", "0123456789", "0123456789", ""),
			endOfTable()),
	}, {
		name: "truncated-in-baseboard",
		about: []string{
			"The Dell table above, cut 12 bytes into its baseboard structure (the header",
			"still states the whole length): the UUID before the cut is read, nothing after.",
		},
		expect: []string{uuid + " found " + dellUUID, board + " missing truncated", chassisC + " missing truncated"},
		data: rawSMBIOSTable(3, 2, len(dellBIOS.bytes())+len(dellSystem.bytes())+12,
			dellBIOS, dellSystem, dellBoard, dellChassis, endOfTable()),
	}, {
		name: "truncated-in-bios",
		about: []string{
			"A table cut inside its first structure (BIOS Information): nothing is read.",
		},
		expect: []string{uuid + " missing truncated", board + " missing truncated", chassisC + " missing truncated"},
		data:   rawSMBIOSTable(3, 2, 0x10, dellBIOS, dellSystem, endOfTable()),
	}}
}

// storageDescriptorBytes lays out a STORAGE_DEVICE_DESCRIPTOR: the header,
// then the strings at their offsets (an offset given as a number is
// written as is, for the broken cases).
type storageSpec struct {
	busType                      uint32
	removable                    bool
	vendor, product, rev, serial string
	serialOffset                 uint32 // when non-zero, written instead of the serial's real offset
	noSerial                     bool   // SerialNumberOffset 0
	sizeOverride                 uint32
	rawProps                     []byte
	vendorAbsent, productAbsent  bool
}

func (s storageSpec) bytes() []byte {
	const header = 40 // sizeof(STORAGE_DEVICE_DESCRIPTOR), RawDeviceProperties[1] padded
	var strs []byte
	at := func(v string, absent bool) uint32 {
		if absent {
			return 0
		}
		off := header + len(s.rawProps) + len(strs)
		strs = append(append(strs, v...), 0)
		return uint32(off)
	}
	vendor := at(s.vendor, s.vendorAbsent)
	product := at(s.product, s.productAbsent)
	rev := at(s.rev, false)
	serial := at(s.serial, s.noSerial)
	if s.serialOffset != 0 {
		serial = s.serialOffset
	}
	size := uint32(header + len(s.rawProps) + len(strs))
	if s.sizeOverride != 0 {
		size = s.sizeOverride
	}
	removable := byte(0)
	if s.removable {
		removable = 1
	}
	b := cat(u32(header), u32(size), []byte{0x00, 0x00, removable, 0x01}, u32(vendor), u32(product), u32(rev), u32(serial),
		u32(s.busType), u32(uint32(len(s.rawProps))), zeros(4), s.rawProps, strs)
	return b
}

// ataSerialHex is how old drivers give an ATA serial: the 20 bytes of
// IDENTIFY DEVICE words 10 to 19 (two characters a word, the first in the
// high byte) as hex of their bytes in memory order.
func ataSerialHex(serial string) string {
	b := []byte(fmt.Sprintf("%20s", serial))
	for i := 0; i+1 < len(b); i += 2 {
		b[i], b[i+1] = b[i+1], b[i]
	}
	return hex.EncodeToString(b)
}

func storageFixtures() []winFixture {
	const serial = format.ComponentDiskSerial
	return []winFixture{{
		name:   "nvme-stornvme",
		about:  []string{"An NVMe SSD under Windows' stornvme: no vendor string, the serial as the", "namespace's EUI-64 in groups, with the driver's trailing dot (bus 17, NVMe)."},
		expect: []string{serial + " found 0025_3858_1190_A3B1."},
		data:   storageSpec{busType: 17, vendorAbsent: true, product: "Samsung SSD 980 PRO 1TB", rev: "5B2QGXA7", serial: "0025_3858_1190_A3B1."}.bytes(),
	}, {
		name:   "sata-padded",
		about:  []string{"A SATA disk under storahci (bus 11): the ATA serial right-justified with", "spaces, as the drive stores it; trimmed."},
		expect: []string{serial + " found WD-WCC6Y5LR2N3T"},
		data:   storageSpec{busType: 11, vendorAbsent: true, product: "WDC WD10EZEX-08WN4A0", rev: "01.01A01", serial: "     WD-WCC6Y5LR2N3T"}.bytes(),
	}, {
		name:   "ata-hex-encoded",
		about:  []string{"An IDE disk under Windows XP's atapi (bus 3): the serial hex-encoded, each", "ATA word byte-swapped; decoded."},
		expect: []string{serial + " found WD-WCAM1F721240"},
		data:   storageSpec{busType: 3, vendorAbsent: true, product: "WDC WD800JD-60LSA5", rev: "10.01E03", serial: ataSerialHex("WD-WCAM1F721240")}.bytes(),
	}, {
		name:   "qemu-ide-placeholder",
		about:  []string{"QEMU's emulated IDE disk (bus 3), whose default serial QM00001 every", "such VM shares."},
		expect: []string{serial + " missing no serial number"},
		data:   storageSpec{busType: 3, vendorAbsent: true, product: "QEMU HARDDISK", rev: "2.5+", serial: "QM00001"}.bytes(),
	}, {
		name:   "virtio-no-serial",
		about:  []string{"A virtio disk under Red Hat's viostor (bus 10, SAS) defined without a", "serial: SerialNumberOffset is 0."},
		expect: []string{serial + " missing no serial number"},
		data:   storageSpec{busType: 10, vendor: "Red Hat", product: "VirtIO", rev: "0001", noSerial: true}.bytes(),
	}, {
		name:   "serial-offset-out-of-range",
		about:  []string{"A broken driver's descriptor whose SerialNumberOffset points past its Size."},
		expect: []string{serial + " missing no serial number"},
		data:   storageSpec{busType: 7, removable: true, vendor: "JMicron", product: "Generic", rev: "0508", serial: "DD56419883891", serialOffset: 0x400}.bytes(),
	}, {
		name:   "hyperv-scsi",
		about:  []string{"A Hyper-V virtual disk (storvsc, bus 1 SCSI): vendor Msft, product Virtual", "Disk, the serial Hyper-V gives a VHDX, padded with spaces."},
		expect: []string{serial + " found 60022480C6D1A2B3C4D5E6F708192A3B"},
		data:   storageSpec{busType: 1, vendor: "Msft    ", product: "Virtual Disk    ", rev: "1.0 ", serial: "60022480C6D1A2B3C4D5E6F708192A3B    "}.bytes(),
	}}
}

func allWindowsFixtures() []winFixture {
	var all []winFixture
	for _, f := range smbiosFixtures() {
		f.dir = "smbios"
		all = append(all, f)
	}
	for _, f := range storageFixtures() {
		f.dir = "storage"
		all = append(all, f)
	}
	return all
}

// TestWindowsFixturesUpToDate checks that the committed fixture files are
// what the generator makes (or rewrites them with -update-windows-fixtures).
func TestWindowsFixturesUpToDate(t *testing.T) {
	fixtures := allWindowsFixtures()
	if *updateWindowsFixtures {
		for _, dir := range []string{"smbios", "storage"} {
			old, _ := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
			for _, p := range old {
				os.Remove(p)
			}
			if err := os.MkdirAll(filepath.Join("testdata", dir), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range fixtures {
			if err := os.WriteFile(f.path(), f.render(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, dir := range []string{"smbios", "storage"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
		n := 0
		for _, f := range fixtures {
			if f.dir == dir {
				n++
			}
		}
		if len(files) != n || n == 0 {
			t.Errorf("testdata/%s holds %d files, the generator makes %d; run go generate ./activator", dir, len(files), n)
		}
	}
	for _, f := range fixtures {
		got, err := os.ReadFile(f.path())
		if err != nil {
			t.Fatalf("%v; run go generate ./activator", err)
		}
		if !bytes.Equal(got, f.render()) {
			t.Errorf("%s differs from what the generator makes; run go generate ./activator", f.path())
		}
	}
}
