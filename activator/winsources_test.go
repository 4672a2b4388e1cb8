package activator

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/airlock-license/airlock/format"
)

// The Windows collector's decisions on recorded answers (testdata/smbios,
// testdata/storage, made by winfixtures_gen_test.go) and on small cases
// written here; these run on every OS.

// checkExpect checks a fixture's expect lines against h.
func checkExpect(t *testing.T, f winFixture, h *HostFingerprint) {
	t.Helper()
	if len(f.expect) == 0 {
		t.Fatalf("%s: no expect lines", f.name)
	}
	for _, e := range f.expect {
		name, rest, _ := strings.Cut(e, " ")
		state, arg, _ := strings.Cut(rest, " ")
		switch state {
		case "found":
			wantFound(t, h, name, arg)
		case "missing":
			wantState(t, h, name, Missing, arg)
		default:
			t.Fatalf("%s: bad expect line %q", f.name, e)
		}
	}
}

func TestSMBIOSFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "smbios", "*.txt"))
	if len(files) < 8 {
		t.Fatalf("%d SMBIOS fixtures in testdata/smbios; run go generate ./activator", len(files))
	}
	for _, p := range files {
		f := readWinFixture(t, p)
		t.Run(f.name, func(t *testing.T) {
			h := collectWindows(fpProduct, windowsSources{SMBIOS: func() ([]byte, error) { return f.data, nil }})
			checkExpect(t, f, h)
		})
	}
}

func TestStorageFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "storage", "*.txt"))
	if len(files) < 7 {
		t.Fatalf("%d storage fixtures in testdata/storage; run go generate ./activator", len(files))
	}
	for _, p := range files {
		f := readWinFixture(t, p)
		t.Run(f.name, func(t *testing.T) {
			h := collectWindows(fpProduct, windowsSources{SystemDisks: func() ([]rawDisk, error) {
				return []rawDisk{{Number: 0, Descriptor: f.data}}, nil
			}})
			checkExpect(t, f, h)
		})
	}
}

// smbiosWith wraps structures (as bytes) in a RawSMBIOSData header.
func smbiosWith(major, minor byte, structs ...[]byte) []byte {
	var data []byte
	for _, s := range structs {
		data = append(data, s...)
	}
	return append([]byte{0, major, minor, 0, byte(len(data)), byte(len(data) >> 8), 0, 0}, data...)
}

// dellUUIDBytes is a System Information UUID as a Dell machine's firmware
// stores it, written out by hand (not by the fixture generator): Linux
// prints it 4c4c4544-0042-3310-8033-b7c04f313233 under SMBIOS 2.6+.
var dellUUIDBytes = []byte{0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x33, 0x80, 0x33, 0xb7, 0xc0, 0x4f, 0x31, 0x32, 0x33}

func type1(uuid []byte) []byte {
	b := append([]byte{1, 0x1b, 0x00, 0x01, 1, 0, 0, 0}, uuid...)
	return append(b, 0x06, 0, 0, 'X', 0, 0)
}

func TestSMBIOSUUIDByteOrder(t *testing.T) {
	for _, tc := range []struct {
		major, minor byte
		want         string
	}{
		{3, 2, "4c4c4544-0042-3310-8033-b7c04f313233"},
		{2, 6, "4c4c4544-0042-3310-8033-b7c04f313233"},
		{2, 0x33, "4c4c4544-0042-3310-8033-b7c04f313233"}, // "2.51", which Linux reads as 2.6
		{2, 5, "44454c4c-4200-1033-8033-b7c04f313233"},
		{2, 0x1f, "44454c4c-4200-1033-8033-b7c04f313233"}, // "2.31", which Linux reads as 2.3
		{2, 0x21, "44454c4c-4200-1033-8033-b7c04f313233"}, // "2.33", likewise
	} {
		info, err := parseRawSMBIOS(smbiosWith(tc.major, tc.minor, type1(dellUUIDBytes), []byte{127, 4, 0, 0, 0, 0}))
		if err != nil || info.UUID != tc.want {
			t.Errorf("SMBIOS %d.%d: %q, %v; want %s", tc.major, tc.minor, info.UUID, err, tc.want)
		}
	}
	for _, fill := range []byte{0x00, 0xff} {
		u := slices.Repeat([]byte{fill}, 16)
		info, _ := parseRawSMBIOS(smbiosWith(3, 0, type1(u)))
		if info.UUID != "" || !strings.Contains(info.UUIDReason, "unset") {
			t.Errorf("UUID of %#x bytes: %q (%s)", fill, info.UUID, info.UUIDReason)
		}
	}
	// SMBIOS 2.0's System Information has no UUID.
	info, _ := parseRawSMBIOS(smbiosWith(2, 0, []byte{1, 8, 0, 1, 1, 0, 0, 0, 'X', 0, 0}))
	if info.UUID != "" || !strings.Contains(info.UUIDReason, "too short") {
		t.Errorf("SMBIOS 2.0: %q (%s)", info.UUID, info.UUIDReason)
	}
}

func TestSMBIOSWalk(t *testing.T) {
	if _, err := parseRawSMBIOS([]byte{0, 3, 0, 0, 0}); !errors.Is(err, errSMBIOSHeader) {
		t.Errorf("short header: %v", err)
	}
	board := func(serialIdx byte, strs string) []byte {
		return append([]byte{2, 0x0f, 0, 2, 1, 2, 3, serialIdx, 0, 1, 0, 0, 3, 0x0a, 0}, strs...)
	}
	for _, tc := range []struct {
		name   string
		table  []byte
		serial string
		trunc  bool
	}{
		{"third string", smbiosWith(3, 0, board(3, "A\x00B\x00SER-1\x00\x00")), "SER-1", false},
		{"index past the set", smbiosWith(3, 0, board(4, "A\x00B\x00SER-1\x00\x00")), "", false},
		{"index 0", smbiosWith(3, 0, board(0, "A\x00\x00")), "", false},
		{"spaces only", smbiosWith(3, 0, board(1, "    \x00\x00")), "", false},
		{"no strings", smbiosWith(3, 0, board(1, "\x00\x00")), "", false},
		{"first of its type counts", smbiosWith(3, 0, board(1, "FIRST\x00\x00"), board(1, "SECOND\x00\x00")), "FIRST", false},
		{"field past the formatted area", smbiosWith(3, 0, []byte{2, 7, 0, 2, 1, 2, 3, 'A', 0, 'B', 0, 'C', 0, 0}), "", false},
		{"after end of table", smbiosWith(3, 0, []byte{127, 4, 0, 0, 0, 0}, board(1, "SER\x00\x00")), "", false},
		{"after a bad length", smbiosWith(3, 0, []byte{0, 2, 0, 0, 0, 0}, board(1, "SER\x00\x00")), "", false},
		{"string set unterminated", smbiosWith(3, 0, board(1, "SER\x00")), "", true},
		{"stated length beyond the bytes", append(smbiosWith(3, 0, board(1, "SER\x00\x00"))[:8+15], 'S'), "", true},
		{"bytes beyond the stated length", append(smbiosWith(3, 0, board(1, "SER\x00\x00")), 2, 0x0f, 0xff), "SER", false},
	} {
		info, err := parseRawSMBIOS(tc.table)
		if err != nil || info.BoardSerial != tc.serial || info.Truncated != tc.trunc {
			t.Errorf("%s: serial %q truncated %v (%v), want %q %v", tc.name, info.BoardSerial, info.Truncated, err, tc.serial, tc.trunc)
		}
	}
}

func TestStorageDescriptor(t *testing.T) {
	if _, err := parseStorageDescriptor(make([]byte, 20)); !errors.Is(err, errStorageDescriptor) {
		t.Errorf("short descriptor: %v", err)
	}
	d, err := parseStorageDescriptor(storageSpec{busType: 17, vendorAbsent: true, product: "P", rev: "R", serial: "S-123"}.bytes())
	if err != nil || d.Serial != "S-123" || d.Product != "P" || d.Vendor != "" || d.BusType != 17 || d.Removable {
		t.Errorf("descriptor: %+v, %v", d, err)
	}
	// An offset into the header is no string.
	d, _ = parseStorageDescriptor(storageSpec{product: "P", rev: "R", serial: "S", serialOffset: 8}.bytes())
	if d.Serial != "" {
		t.Errorf("serial offset 8: %q", d.Serial)
	}
	// A Size shorter than the bytes returned bounds the strings.
	b := storageSpec{product: "P", rev: "R", serial: "SERIAL"}.bytes()
	short := slices.Clone(b)
	short[4] = byte(len(b) - 4) // Size ends inside the serial
	if d, _ := parseStorageDescriptor(short); d.Serial != "SER" {
		t.Errorf("serial cut by Size: %q", d.Serial)
	}
	// A string without its NUL at the end of the bytes is taken whole.
	if d, _ := parseStorageDescriptor(b[:len(b)-1]); d.Serial != "SERIAL" {
		t.Errorf("serial without NUL: %q", d.Serial)
	}
}

func TestCleanDiskSerial(t *testing.T) {
	for in, want := range map[string]string{
		"  WD-WCC6Y5LR2N3T ":               "WD-WCC6Y5LR2N3T",
		ataSerialHex("WD-WCAM1F721240"):    "WD-WCAM1F721240",
		ataSerialHex("S1234567"):           "S1234567",
		"5000c500a1b2c3d4":                 "5000c500a1b2c3d4", // hex, not printable when decoded: kept
		"60022480C6D1A2B3C4D5E6F708192A3B": "60022480C6D1A2B3C4D5E6F708192A3B",
		"ABCDEF1":                          "ABCDEF1", // odd length
		"0025_3858_1190_A3B1.":             "0025_3858_1190_A3B1.",
		"QM00002":                          "",
		"0000000000000000":                 "", // hex of NULs: not decoded, and a placeholder
		hex.EncodeToString([]byte("    ")): "", // hex of spaces: nothing left
		"S\x01X123":                        "",
		"":                                 "",
	} {
		if got := cleanDiskSerial(in); got != want {
			t.Errorf("cleanDiskSerial(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiskExtents(t *testing.T) {
	extent := func(disk uint32) []byte { return cat(u32(disk), zeros(4), u64(1<<20), u64(100<<30)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want []uint32
		err  bool
	}{
		{"one disk", cat(u32(1), zeros(4), extent(0)), []uint32{0}, false},
		{"spanned", cat(u32(3), zeros(4), extent(2), extent(0), extent(2)), []uint32{2, 0}, false},
		{"none", cat(u32(0), zeros(4)), nil, false},
		{"count beyond the bytes", cat(u32(2), zeros(4), extent(0)), nil, true},
		{"count only", u32(1), nil, true},
		{"short", []byte{1, 0}, nil, true},
	} {
		got, err := parseDiskExtents(tc.b)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v", tc.name, got, err)
		}
	}
}

func mac(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestPhysicalMACs(t *testing.T) {
	hw := func(name, desc, pnp string, ifType uint32, current, permanent string) netAdapter {
		a := netAdapter{Name: name, Description: desc, PnPID: pnp, IfType: ifType, FlagsKnown: true, Hardware: true, Current: mac(current)}
		if permanent != "" {
			a.Permanent = mac(permanent)
		}
		return a
	}
	adapters := []netAdapter{
		hw("Ethernet", "Intel(R) Ethernet Connection (13) I219-LM", `PCI\VEN_8086&DEV_15FB&SUBSYS_0A211028&REV_20\3&11583659&0&FE`, 6, "A4:BB:6D:11:22:33", "a4:bb:6d:11:22:33"),
		// Wi-Fi with a random address: the burnt-in one counts.
		hw("Wi-Fi", "Intel(R) Wi-Fi 6 AX201 160MHz", `PCI\VEN_8086&DEV_A0F0&SUBSYS_00748086&REV_20\3&11583659&0&A3`, 71, "f6:12:34:56:78:9a", "dc:21:48:aa:bb:cc"),
		// A KVM guest's virtio NIC: a locally administered burnt-in address counts.
		hw("Ethernet 2", "Red Hat VirtIO Ethernet Adapter", `PCI\VEN_1AF4&DEV_1000&SUBSYS_00011AF4&REV_00\3&267A616A&0&18`, 6, "52:54:00:12:34:56", "52:54:00:12:34:56"),
		// A Hyper-V guest's NIC (VMBus): kept.
		hw("Ethernet 3", "Microsoft Hyper-V Network Adapter", `VMBUS\{F8615163-DF3E-46C5-913F-F2D2F965ED0E}\{A1B2C3D4-0000-0000-0000-000000000001}`, 6, "00:15:5d:01:02:03", "00:15:5d:01:02:03"),
		// No burnt-in address reported, universally administered current one: kept.
		hw("Ethernet 4", "Realtek PCIe GbE Family Controller", `PCI\VEN_10EC&DEV_8168&SUBSYS_86771043&REV_15\01000000684CE00000`, 6, "10:7b:44:01:02:03", ""),
		// The same NIC listed twice (a team member and its team): once.
		hw("Ethernet", "Intel(R) Ethernet Connection (13) I219-LM", `PCI\VEN_8086&DEV_15FB`, 6, "a4:bb:6d:11:22:33", "a4:bb:6d:11:22:33"),

		// Skipped:
		{Name: "vEthernet (Default Switch)", Description: "Hyper-V Virtual Ethernet Adapter", PnPID: `ROOT\VMS_MP\0000`, IfType: 6, FlagsKnown: true, Hardware: false, Current: mac("00:15:5d:aa:bb:cc")},
		{Name: "vEthernet (WSL)", Description: "Hyper-V Virtual Ethernet Adapter #2", IfType: 6, FlagsKnown: true, Hardware: true, Current: mac("00:15:5d:aa:bb:cd")}, // by description
		{Name: "Loopback Pseudo-Interface 1", Description: "Software Loopback Interface 1", IfType: 24, FlagsKnown: true},
		{Name: "Teredo", Description: "Teredo Tunneling Pseudo-Interface", IfType: 131, TunnelType: 14, FlagsKnown: true},
		{Name: "OpenVPN", Description: "TAP-Windows Adapter V9", PnPID: `ROOT\NET\0000`, IfType: 6, FlagsKnown: true, Hardware: false, Current: mac("00:ff:11:22:33:44")},
		{Name: "VPN", Description: "Fortinet SSL VPN Virtual Ethernet Adapter", PnPID: `ROOT\NET\0001`, IfType: 6, FlagsKnown: true, Hardware: true, Current: mac("00:09:0f:aa:00:01")},
		{Name: "Wintun", Description: "WireGuard Tunnel", IfType: 53, FlagsKnown: true, Current: nil},
		{Name: "Bluetooth Network Connection", Description: "Bluetooth Device (Personal Area Network)", PnPID: `BTH\MS_BTHPAN\7&1234&0&2`, IfType: 6, FlagsKnown: true, Hardware: true, Current: mac("dc:21:48:aa:bb:cd")},
		{Name: "Local Area Connection* 1", Description: "Microsoft Wi-Fi Direct Virtual Adapter", PnPID: `{5D624F94-8850-40C3-A3FA-A4FD2080BAF3}\VWIFIMP_WFD\4&1234&0&10`, IfType: 71, FlagsKnown: true, Hardware: true, Current: mac("de:21:48:aa:bb:cc")},
		{Name: "Ethernet 5", Description: "ASIX AX88179 USB 3.0 to Gigabit Ethernet Adapter", PnPID: `USB\VID_0B95&PID_1790\000000000001A2`, IfType: 6, FlagsKnown: true, Hardware: true, Current: mac("00:0e:c6:01:02:03"), Permanent: mac("00:0e:c6:01:02:03")},
		{Name: "Ethernet 6", Description: "Intel(R) I210", PnPID: `PCI\VEN_8086&DEV_1533`, IfType: 6, FlagsKnown: true, Hardware: true, Filter: true, Current: mac("00:1b:21:01:02:03")},
		hw("Ethernet 7", "Intel(R) 82574L Gigabit Network Connection", `PCI\VEN_8086&DEV_10D3`, 6, "00:00:00:00:00:00", ""),
		hw("Ethernet 8", "Intel(R) 82574L Gigabit Network Connection", `PCI\VEN_8086&DEV_10D3`, 6, "02:aa:bb:cc:dd:ee", ""), // set in the adapter's settings
		hw("Ethernet 9", "Intel(R) 82574L Gigabit Network Connection", `PCI\VEN_8086&DEV_10D3`, 6, "01:00:5e:00:00:01", ""), // a group address
		// Flags unknown (GetIfEntry2Ex failed) and no device id: not known to be hardware.
		{Name: "Ethernet 10", Description: "Some Adapter", IfType: 6, Current: mac("00:11:22:33:44:55")},
	}
	v, state, reason := physicalMACs(adapters)
	want := "00:15:5d:01:02:03,10:7b:44:01:02:03,52:54:00:12:34:56,a4:bb:6d:11:22:33,dc:21:48:aa:bb:cc"
	if state != Found || v != want || reason != "" {
		t.Errorf("physicalMACs = %q %v %q\nwant %q", v, state, reason, want)
	}
	// Flags unknown, but a PCI device id: kept.
	v, state, _ = physicalMACs([]netAdapter{{Name: "Ethernet", IfType: 6, PnPID: `PCI\VEN_8086&DEV_10D3`, Current: mac("00:11:22:33:44:55")}})
	if state != Found || v != "00:11:22:33:44:55" {
		t.Errorf("flags unknown, PCI: %q %v", v, state)
	}
	// Nothing physical: missing, naming what was skipped.
	_, state, reason = physicalMACs(adapters[6:10])
	if state != Missing || !strings.Contains(reason, "no physical network interface") || !strings.Contains(reason, "vEthernet (Default Switch) virtual") ||
		!strings.Contains(reason, "Teredo") || strings.Contains(reason, "\n") {
		t.Errorf("no physical NIC: %v %q", state, reason)
	}
	if _, state, _ := physicalMACs(nil); state != Missing {
		t.Errorf("no adapters: %v", state)
	}
}

func TestReadSystemVolume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serial uint32
		err    error
		want   string
		state  ComponentState
	}{
		{"NTFS", 0x1a2b3c4d, nil, "ntfs:1a2b3c4d", Found},
		{"ReFS", 0x00000042, nil, "refs:00000042", Found},
		{"NTFS", 0, nil, "", Missing},
		{"", 0x1234, nil, "", Missing},
		{"", 0, fmt.Errorf("GetVolumeInformation: %w", fs.ErrPermission), "", Unverifiable},
		{"", 0, errors.New("the device is not ready"), "", Missing},
	} {
		v, state, reason := readSystemVolume(func() (string, uint32, error) { return tc.name, tc.serial, tc.err })
		if v != tc.want || state != tc.state || (state != Found) == (reason == "") {
			t.Errorf("%q %#x %v: %q %v %q", tc.name, tc.serial, tc.err, v, state, reason)
		}
	}
}

// winSourcesOf returns Windows sources that answer as the recorded
// Hyper-V guest does.
func winSourcesOf(t *testing.T) windowsSources {
	smbios := readWinFixture(t, filepath.Join("testdata", "smbios", "hyperv-gen2-smbios31.txt"))
	disk := readWinFixture(t, filepath.Join("testdata", "storage", "hyperv-scsi.txt"))
	return windowsSources{
		MachineGUID:  func() (string, error) { return "7F3C2A10-5B4E-4D2C-9A8B-1C2D3E4F5A6B", nil },
		SMBIOS:       func() ([]byte, error) { return smbios.data, nil },
		SystemVolume: func() (string, uint32, error) { return "NTFS", 0x1a2b3c4d, nil },
		SystemDisks:  func() ([]rawDisk, error) { return []rawDisk{{Number: 0, Descriptor: disk.data}}, nil },
		Adapters: func() ([]netAdapter, error) {
			return []netAdapter{{Name: "Ethernet", Description: "Microsoft Hyper-V Network Adapter", PnPID: `VMBUS\{F8615163-DF3E-46C5-913F-F2D2F965ED0E}\{1}`,
				IfType: 6, FlagsKnown: true, Hardware: true, Current: mac("00:15:5d:01:02:03"), Permanent: mac("00:15:5d:01:02:03")}}, nil
		},
	}
}

func TestWindowsCollector(t *testing.T) {
	h := collectWindows(fpProduct, winSourcesOf(t))
	names := []string{format.ComponentMachineGUID, format.ComponentDMIProduct, format.ComponentDMIBoardSerial, format.ComponentDMIChassisSerial,
		format.ComponentMAC, format.ComponentRootDisk, format.ComponentDiskSerial}
	if len(h.Components) != len(names) {
		t.Fatalf("components %+v", h.Components)
	}
	for i, c := range h.Components {
		if c.Name != names[i] {
			t.Errorf("component %d is %s, want %s", i, c.Name, names[i])
		}
	}
	wantFound(t, h, format.ComponentMachineGUID, "7f3c2a10-5b4e-4d2c-9a8b-1c2d3e4f5a6b")
	wantFound(t, h, format.ComponentDMIProduct, "0ae1a5f1-7c39-4b1b-9d54-3c14d38a2f55")
	wantFound(t, h, format.ComponentDMIBoardSerial, "2376-9120-1285-2745-4571-8920-28")
	wantFound(t, h, format.ComponentDMIChassisSerial, "4719-2854-4370-8423-0613-9731-76")
	wantFound(t, h, format.ComponentMAC, "00:15:5d:01:02:03")
	wantFound(t, h, format.ComponentRootDisk, "ntfs:1a2b3c4d")
	wantFound(t, h, format.ComponentDiskSerial, "60022480C6D1A2B3C4D5E6F708192A3B")
	if b := h.Binding(); b.Weak || b.Components != 7 {
		t.Errorf("binding of a Hyper-V guest: %v", b)
	}
	dump := strings.ToLower(fmt.Sprintf("%+v %#v", h, h))
	for _, raw := range []string{"7f3c2a10", "0ae1a5f1", "2376-9120", "4719-2854", "00:15:5d", "1a2b3c4d", "60022480c6d1"} {
		if strings.Contains(dump, raw) {
			t.Errorf("raw value %s kept in the result", raw)
		}
	}

	// Access denied is unverifiable, absence and other failures missing,
	// each with a one-line reason.
	deny := fmt.Errorf("access is denied: %w", fs.ErrPermission)
	absent := fmt.Errorf("not found: %w", fs.ErrNotExist)
	other := errors.New("the device is not ready")
	for _, tc := range []struct {
		err    error
		state  ComponentState
		reason string
	}{{deny, Unverifiable, "access denied"}, {absent, Missing, "not present"}, {other, Missing, "not ready"}} {
		s := windowsSources{
			MachineGUID:  func() (string, error) { return "", tc.err },
			SMBIOS:       func() ([]byte, error) { return nil, tc.err },
			SystemVolume: func() (string, uint32, error) { return "", 0, tc.err },
			SystemDisks:  func() ([]rawDisk, error) { return nil, tc.err },
			Adapters:     func() ([]netAdapter, error) { return nil, tc.err },
		}
		h := collectWindows(fpProduct, s)
		for _, name := range names {
			wantState(t, h, name, tc.state, tc.reason)
		}
		// A disk that refuses, under a volume that answers.
		s.SystemDisks = func() ([]rawDisk, error) { return []rawDisk{{Number: 1, Err: tc.err}}, nil }
		wantState(t, collectWindows(fpProduct, s), format.ComponentDiskSerial, tc.state, `\\.\PhysicalDrive1`)
	}
	// Sources this host lacks are missing.
	h = collectWindows(fpProduct, windowsSources{})
	for _, name := range names {
		wantState(t, h, name, Missing, "")
	}
	// A MachineGuid that is no GUID is missing.
	for _, v := range []string{"", "not-a-guid", "00000000-0000-0000-0000-000000000000"} {
		h = collectWindows(fpProduct, windowsSources{MachineGUID: func() (string, error) { return v, nil }})
		wantState(t, h, format.ComponentMachineGUID, Missing, "does not hold a GUID")
	}
	// A chassis serial equal to the board's is counted once.
	b := rawSMBIOSTable(3, 0, 0, baseboard("M", "P", "", "SAME-123", ""), chassis(3, "M", "", "SAME-123", ""), endOfTable())
	h = collectWindows(fpProduct, windowsSources{SMBIOS: func() ([]byte, error) { return b, nil }})
	wantFound(t, h, format.ComponentDMIBoardSerial, "SAME-123")
	wantState(t, h, format.ComponentDMIChassisSerial, Missing, "counted once")
	// A spanned system volume: every disk's serial, sorted.
	a := storageSpec{product: "P", rev: "R", serial: "ZZ-2"}.bytes()
	z := storageSpec{product: "P", rev: "R", serial: "AA-1"}.bytes()
	h = collectWindows(fpProduct, windowsSources{SystemDisks: func() ([]rawDisk, error) { return []rawDisk{{0, a, nil}, {1, z, nil}}, nil }})
	wantFound(t, h, format.ComponentDiskSerial, "AA-1,ZZ-2")
	// ... and missing when one of them has none.
	n := storageSpec{product: "P", rev: "R", noSerial: true}.bytes()
	h = collectWindows(fpProduct, windowsSources{SystemDisks: func() ([]rawDisk, error) { return []rawDisk{{0, a, nil}, {3, n, nil}}, nil }})
	wantState(t, h, format.ComponentDiskSerial, Missing, `\\.\PhysicalDrive3`)
}

// TestWindowsHashesAsLinux: for the same machine (one firmware, one NIC),
// the Windows collector and the Linux one give the same names and the
// same hashes, so a dual-boot machine, or a disk moved between the two,
// keeps its machine-bound components; machine-guid and machine-id stay
// two names, as they are two sources.
func TestWindowsHashesAsLinux(t *testing.T) {
	f := readWinFixture(t, filepath.Join("testdata", "smbios", "dell-latitude-smbios32.txt"))
	win := collectWindows(fpProduct, windowsSources{
		SMBIOS: func() ([]byte, error) { return f.data, nil },
		Adapters: func() ([]netAdapter, error) {
			return []netAdapter{
				{Name: "Ethernet", Description: "Intel(R) Ethernet Connection (13) I219-LM", PnPID: `PCI\VEN_8086&DEV_15FB`, IfType: 6, FlagsKnown: true, Hardware: true,
					Current: mac("A4:BB:6D:11:22:33"), Permanent: mac("a4:bb:6d:11:22:33")},
				{Name: "Wi-Fi", Description: "Intel(R) Wi-Fi 6 AX201 160MHz", PnPID: `PCI\VEN_8086&DEV_A0F0`, IfType: 71, FlagsKnown: true, Hardware: true,
					Current: mac("f6:12:34:56:78:9a"), Permanent: mac("dc:21:48:aa:bb:cc")},
			}, nil
		},
	})
	// The same machine as Linux shows it: dmi_scan.c prints the UUID of
	// SMBIOS 2.6+ with its first three fields little-endian, in lowercase.
	tr := newTree(t, t.TempDir())
	tr.write("sys/class/dmi/id/product_uuid", "4c4c4544-0042-3310-8033-b7c04f313233\n", 0o444)
	tr.write("sys/class/dmi/id/board_serial", "/7B3C123/CNCMK0019A00F3/\n", 0o444)
	tr.write("sys/class/dmi/id/chassis_serial", "7B3C123\n", 0o444)
	names := []string{format.ComponentDMIProduct, format.ComponentDMIBoardSerial, format.ComponentDMIChassisSerial}
	if runtime.GOOS == "linux" { // the fake sysfs of NICs is made of symbolic links
		tr.nic("enp0s31f6", "pci0000:00/0000:00:1f.6", "a4:bb:6d:11:22:33", "0")
		tr.nic("wlp0s20f3", "pci0000:00/0000:00:14.3", "f6:12:34:56:78:9a", "3") // a random address; the permanent one counts
		names = append(names, format.ComponentMAC)
	} else {
		wantFound(t, win, format.ComponentMAC, "a4:bb:6d:11:22:33,dc:21:48:aa:bb:cc")
	}
	s := tr.sources()
	s.PermAddr = func(iface string) (string, error) {
		return map[string]string{"enp0s31f6": "a4:bb:6d:11:22:33", "wlp0s20f3": "dc:21:48:aa:bb:cc"}[iface], nil
	}
	linux := collect(fpProduct, s)
	for _, name := range names {
		w, l := component(t, win, name), component(t, linux, name)
		if w.State != Found || l.State != Found || w.Hash != l.Hash {
			t.Errorf("%s: Windows %v %s (%s), Linux %v %s (%s)", name, w.State, w.Hash, w.Reason, l.State, l.Hash, l.Reason)
		}
	}
	has := func(h *HostFingerprint, name string) bool {
		return slices.ContainsFunc(h.Components, func(c ComponentStatus) bool { return c.Name == name })
	}
	if has(win, format.ComponentMachineID) || !has(win, format.ComponentMachineGUID) || has(linux, format.ComponentMachineGUID) {
		t.Error("machine-guid (Windows) and machine-id (Linux) must be separate components of their own platforms")
	}
	// The hash is the one function of every platform.
	if got := component(t, win, format.ComponentDMIChassisSerial).Hash; got != format.HashComponent(fpProduct, "7B3C123") {
		t.Errorf("chassis hash %s is not HashComponent of the raw value", got)
	}
}
