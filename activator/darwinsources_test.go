package activator

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/airlock-license/airlock/format"
)

// The macOS collector's decisions on the outputs in testdata/darwin (see
// its README: written after the documented formats, not recorded on a
// Mac) and on small cases written here; these run on every OS.

// darwinFixture is one Mac of testdata/darwin.
type darwinFixture struct {
	name   string
	expect []string
	files  map[string][]byte
}

func readDarwinFixtures(t testing.TB) []darwinFixture {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", "darwin", "*.txtar"))
	if len(paths) < 6 {
		t.Fatalf("%d macOS fixtures in testdata/darwin, want 6 or more", len(paths))
	}
	var out []darwinFixture
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := darwinFixture{name: strings.TrimSuffix(filepath.Base(p), ".txtar"), files: map[string][]byte{}}
		for l := range strings.Lines(string(a.Comment)) {
			if e, ok := strings.CutPrefix(strings.TrimSpace(l), "expect "); ok {
				f.expect = append(f.expect, e)
			}
		}
		for _, file := range a.Files {
			f.files[file.Name] = file.Data
		}
		out = append(out, f)
	}
	return out
}

// sources returns the fixture's sources: a runner that answers exactly the
// collector's three command lines (anything else fails the test) and
// records them.
func (f darwinFixture) sources(t *testing.T, ran *[]string) darwinSources {
	vol := "/"
	if _, ok := f.files["data-volume"]; ok {
		vol = dataVolume
	}
	programs := map[string]string{
		strings.Join(ioregCommand, " "):                               "ioreg",
		strings.Join(networksetupCommand, " "):                        "networksetup",
		strings.Join(append(slices.Clone(diskutilCommand), vol), " "): "diskutil",
	}
	return darwinSources{
		Run: func(ctx context.Context, path string, args ...string) ([]byte, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Errorf("%s run without a deadline", path)
			}
			line := strings.Join(append([]string{path}, args...), " ")
			*ran = append(*ran, line)
			name, ok := programs[line]
			if !ok {
				t.Fatalf("%s: the collector ran %q", f.name, line)
			}
			if stderr, ok := f.files["fail-"+name]; ok {
				return nil, &exitError{Status: "exit status 1", Stderr: firstLine(string(stderr))}
			}
			out, ok := f.files[name]
			if !ok {
				return nil, &fs.PathError{Op: "fork/exec", Path: path, Err: fs.ErrNotExist}
			}
			return out, nil
		},
		Exists: func(p string) bool { return p == vol },
	}
}

func TestDarwinFixtures(t *testing.T) {
	for _, f := range readDarwinFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			var ran []string
			h := collectDarwin(fpProduct, f.sources(t, &ran))
			if len(ran) != 3 {
				t.Errorf("ran %d programs, want each of the 3 once: %q", len(ran), ran)
			}
			var names []string
			for _, c := range h.Components {
				names = append(names, c.Name)
			}
			want := []string{format.ComponentPlatformUUID, format.ComponentPlatformSerial, format.ComponentMAC, format.ComponentRootDisk}
			if !slices.Equal(names, want) {
				t.Fatalf("components %q, want %q", names, want)
			}
			if len(f.expect) != 4 {
				t.Fatalf("%d expect lines, want one per component", len(f.expect))
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
					t.Fatalf("bad expect line %q", e)
				}
			}
		})
	}
}

// TestDarwinBinding: a Mac's fingerprint binds firmly for a product
// running without root (nothing on macOS is root-only), and the platform
// identifiers are the machine-bound ones.
func TestDarwinBinding(t *testing.T) {
	for _, f := range readDarwinFixtures(t) {
		if f.name != "macbookpro-apfs" {
			continue
		}
		var ran []string
		h := collectDarwin(fpProduct, f.sources(t, &ran))
		b := h.Binding()
		if b.Weak || b.Components != 4 || b.MachineBound != 3 || b.MachineBoundUnprivileged != 3 {
			t.Fatalf("binding %+v, want strong with 4 components, 3 machine-bound and readable without root", b)
		}
		if !format.MachineBound(format.ComponentPlatformUUID) || !format.MachineBound(format.ComponentPlatformSerial) || format.RootOnly(format.ComponentPlatformUUID) {
			t.Fatal("platform-uuid and platform-serial must be machine-bound and not root-only")
		}
		// The copy of the disk to another Mac: the volume UUID moves, the
		// platform identifiers and the MAC do not.
		other := f
		other.files = map[string][]byte{}
		for k, v := range f.files {
			other.files[k] = v
		}
		other.files["ioreg"] = []byte(strings.NewReplacer("5C8E2A4F", "11111111", "C02ZK4MLMD6T", "C02AAAAAAAAA").Replace(string(f.files["ioreg"])))
		other.files["networksetup"] = []byte(strings.ReplaceAll(string(f.files["networksetup"]), "3c:22:fb:12:34:56", "3c:22:fb:65:43:21"))
		h2 := collectDarwin(fpProduct, other.sources(t, &ran))
		fp := h.Fingerprint()
		fp.Threshold = format.IssueThreshold(fp)
		if r := MatchHost(fp, h2); r.OK() {
			t.Fatalf("a copy of the disk on another Mac matched: %+v", r)
		}
		if r := MatchHost(fp, h); !r.OK() {
			t.Fatalf("the same Mac did not match: %+v", r)
		}
	}
}

func TestDarwinCommandFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		err    error
		state  ComponentState
		reason string
	}{
		"absent":   {&fs.PathError{Op: "fork/exec", Path: "/usr/sbin/ioreg", Err: fs.ErrNotExist}, Missing, "not present"},
		"denied":   {&fs.PathError{Op: "fork/exec", Path: "/usr/sbin/ioreg", Err: fs.ErrPermission}, Unverifiable, "may not run it"},
		"exit":     {&exitError{Status: "signal: abort trap", Stderr: "boom"}, Missing, "failed (signal: abort trap: boom)"},
		"too much": {errOutputTooLarge, Missing, "printed more than 1 MiB"},
		"hung":     {context.DeadlineExceeded, Missing, "failed: context deadline exceeded"},
	} {
		t.Run(name, func(t *testing.T) {
			h := collectDarwin(fpProduct, darwinSources{Run: func(context.Context, string, ...string) ([]byte, error) { return nil, tc.err }})
			for _, c := range h.Components {
				wantState(t, h, c.Name, tc.state, tc.reason)
			}
		})
	}
	h := collectDarwin(fpProduct, darwinSources{})
	for _, c := range h.Components {
		wantState(t, h, c.Name, Missing, "not present")
	}
}

func TestParseIoreg(t *testing.T) {
	entry := func(body string) string {
		return "+-o Mac  <class IOPlatformExpertDevice, id 0x1, registered>\n    {\n" + body + "    }\n"
	}
	for name, tc := range map[string]struct {
		in, err string
		want    map[string]string
	}{
		"props":        {in: entry(`      "IOPlatformUUID" = "A"` + "\n" + `      "model" = <"Mac">` + "\n" + `      "n" = 12` + "\n"), want: map[string]string{"IOPlatformUUID": "A"}},
		"tree prefix":  {in: "| " + strings.ReplaceAll(entry(`      "IOPlatformUUID" = "A"`+"\n"), "\n    ", "\n|   "), want: map[string]string{"IOPlatformUUID": "A"}},
		"empty":        {in: " \n", err: "printed nothing"},
		"no entry":     {in: "+-o Root  <class IORegistryEntry, id 0x1>\n", err: "lists no IOPlatformExpertDevice"},
		"two entries":  {in: entry("") + entry(""), err: "more than one"},
		"twice":        {in: entry(`      "IOPlatformUUID" = "A"` + "\n" + `      "IOPlatformUUID" = "B"` + "\n"), err: "twice"},
		"cut":          {in: "+-o Mac  <class IOPlatformExpertDevice, id 0x1>\n    {\n      \"IOPlatformUUID\" = \"A\"\n", err: "cut short"},
		"no brace":     {in: "+-o Mac  <class IOPlatformExpertDevice, id 0x1>\n      \"IOPlatformUUID\" = \"A\"\n", err: "no properties"},
		"nested entry": {in: "+-o Mac  <class IOPlatformExpertDevice, id 0x1>\n    {\n  +-o Other  <class IOService, id 0x2>\n", err: "inside"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseIoreg([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) || got["IOPlatformUUID"] != tc.want["IOPlatformUUID"] {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestParsePlistDict(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<plist version="1.0">`
	for name, tc := range map[string]struct {
		in, err string
		want    map[string]string
	}{
		"values": {in: head + `<dict><key>A</key><string>x &amp; y</string><key>B</key><true/><key>C</key><array><string>n</string></array><key>D</key><integer>7</integer></dict></plist>`,
			want: map[string]string{"A": "x & y", "B": "true", "C": "", "D": "7"}},
		"empty":         {in: " \n", err: "printed nothing"},
		"not a plist":   {in: "Could not find disk", err: "not a property list"},
		"array root":    {in: head + `<array></array></plist>`, err: "no <dict>"},
		"twice":         {in: head + `<dict><key>A</key><string>1</string><key>A</key><string>2</string></dict></plist>`, err: "twice"},
		"no value":      {in: head + `<dict><key>A</key></dict></plist>`, err: "no value"},
		"unknown":       {in: head + `<dict><key>A</key><blob/></dict></plist>`, err: "unknown value"},
		"not a key":     {in: head + `<dict><string>A</string></dict></plist>`, err: "other than a <key>"},
		"cut":           {in: head + `<dict><key>A</key><string>1`, err: "cut short"},
		"after the end": {in: head + `<dict></dict></plist><plist/>`, err: "after the end"},
		"two dicts":     {in: head + `<dict></dict><dict></dict></plist>`, err: "more than one"},
		"mismatched":    {in: head + `<dict><key>A</string></dict></plist>`, err: "not a property list"},
		"text":          {in: head + `hello<dict></dict></plist>`, err: "text outside its elements"},
		"nested text":   {in: head + `<dict><key>A<b/></key></dict></plist>`, err: "inside a text value"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parsePlistDict([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want one line with %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestParseHardwarePorts(t *testing.T) {
	for name, tc := range map[string]struct {
		in, err string
		want    []hardwarePort
	}{
		"ports": {in: "\nHardware Port: Wi-Fi\nDevice: en0\nEthernet Address: 3c:22:fb:12:34:56\n\nHardware Port: Ethernet\nDevice: en1\nEthernet Address: N/A\n\nVLAN Configurations\n===================\nHardware Port: ignored\n",
			want: []hardwarePort{{"Wi-Fi", "en0", "3c:22:fb:12:34:56"}, {"Ethernet", "en1", "N/A"}}},
		"unknown lines": {in: "Hardware Port: Wi-Fi\nDevice: en0\nFuture Field: x\nEthernet Address: 3c:22:fb:12:34:56\n", want: []hardwarePort{{"Wi-Fi", "en0", "3c:22:fb:12:34:56"}}},
		"none":          {in: "\nVLAN Configurations\n", err: "no hardware port"},
		"outside":       {in: "Device: en0\n", err: "outside any hardware port"},
		"two devices":   {in: "Hardware Port: A\nDevice: en0\nDevice: en1\nEthernet Address: 3c:22:fb:12:34:56\n", err: "two devices"},
		"two addresses": {in: "Hardware Port: A\nDevice: en0\nEthernet Address: 3c:22:fb:12:34:56\nEthernet Address: 3c:22:fb:12:34:57\n", err: "two addresses"},
		"cut":           {in: "Hardware Port: A\nDevice: en0\n", err: "incomplete"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseHardwarePorts([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestNotBuiltinPort(t *testing.T) {
	for _, tc := range []struct {
		p   hardwarePort
		why string
	}{
		{hardwarePort{"Wi-Fi", "en0", "3c:22:fb:12:34:56"}, ""},
		{hardwarePort{"Ethernet 2", "en12", "0:c:a1:5:6e:7f"}, ""},
		{hardwarePort{"Thunderbolt Ethernet Slot 1", "en5", "00:e0:4c:68:01:2a"}, "thunderbolt"},
		{hardwarePort{"Belkin USB-C LAN", "en6", "00:e0:4c:68:01:2b"}, "usb"},
		{hardwarePort{"Ethernet", "bridge1", "00:e0:4c:68:01:2c"}, "not an Ethernet device"},
		{hardwarePort{"Ethernet", "en", "00:e0:4c:68:01:2c"}, "not an Ethernet device"},
		{hardwarePort{"Ethernet", "en0", "N/A"}, "no MAC"},
		{hardwarePort{"Ethernet", "en0", "00:00:00:00:00:00"}, "no MAC"},
		{hardwarePort{"Ethernet", "en0", "01:00:5e:00:00:01"}, "no MAC"},
		{hardwarePort{"Ethernet", "en0", "00:0a:27:02:00:4e:3a:5b"}, "no MAC"},
		{hardwarePort{"Ethernet", "en0", "36:b1:5c:9a:00:40"}, "locally administered"},
	} {
		if why := notBuiltinPort(tc.p); tc.why == "" && why != "" || !strings.Contains(why, tc.why) {
			t.Errorf("%+v: %q, want %q", tc.p, why, tc.why)
		}
	}
}

// TestRunCommand runs real programs of this system through the runner
// the macOS collector uses.
func TestRunCommand(t *testing.T) {
	for _, p := range []string{"/bin/sh", "/usr/bin/env", "/bin/false"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s: %v (the runner is tested where a POSIX shell is)", p, err)
		}
	}
	ctx := context.Background()
	out, err := runCommand(ctx, "/usr/bin/env")
	if err != nil || !strings.Contains(string(out), "\nLC_ALL=C\n") {
		t.Fatalf("env: %v; LC_ALL=C not in the environment:\n%s", err, out)
	}
	_, err = runCommand(ctx, "/bin/sh", "-c", "echo first >&2; echo second >&2; exit 3")
	var ee *exitError
	if !errors.As(err, &ee) || ee.Error() != "exit status 3: first" {
		t.Fatalf("exit: %v", err)
	}
	_, err = runCommand(ctx, "/bin/sh", "-c", "head -c 2000000 /dev/zero")
	if !errors.Is(err, errOutputTooLarge) {
		t.Fatalf("a large output: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	// The child's sleep keeps the pipe open after the shell is killed: the
	// wait delay must still end the run.
	start := time.Now()
	_, err = runCommand(short, "/bin/sh", "-c", "sleep 30 & sleep 30")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not finish in time") {
		t.Fatalf("a hung program: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a hung program held the runner %v", d)
	}
	_, err = runCommand(ctx, "/nonexistent/ioreg")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an absent program: %v", err)
	}
}

// Fuzz targets of the macOS parsers, seeded with the fixtures' outputs; a
// target without its seeds fails rather than fuzzing from nothing.

func seedDarwin(f *testing.F, file string) {
	n := 0
	for _, fx := range readDarwinFixtures(f) {
		if b, ok := fx.files[file]; ok {
			f.Add(b)
			n++
		}
	}
	if n < 3 {
		f.Fatalf("%d seeds for %s in testdata/darwin", n, file)
	}
}

// fuzzDarwin collects with one program's output replaced by b: whatever it
// prints, the collector gives four components, each found with a hash or
// not found with a one-line reason.
func fuzzDarwin(t *testing.T, program string, b []byte) {
	h := collectDarwin(fpProduct, darwinSources{Run: func(_ context.Context, path string, _ ...string) ([]byte, error) {
		if filepath.Base(path) == program {
			return b, nil
		}
		return nil, fs.ErrNotExist
	}})
	if len(h.Components) != 4 {
		t.Fatalf("%d components", len(h.Components))
	}
	for _, c := range h.Components {
		if (c.State == Found) != (c.Hash != "") || c.State != Found && (c.Reason == "" || strings.ContainsAny(c.Reason, "\r\n")) {
			t.Fatalf("%+v", c)
		}
	}
}

func FuzzParseIoreg(f *testing.F) {
	seedDarwin(f, "ioreg")
	f.Fuzz(func(t *testing.T, b []byte) {
		if props, err := parseIoreg(b); err == nil && len(props) > len(b) {
			t.Fatalf("%d properties from %d bytes", len(props), len(b))
		}
		fuzzDarwin(t, "ioreg", b)
	})
}

func FuzzParsePlistDict(f *testing.F) {
	seedDarwin(f, "diskutil")
	f.Fuzz(func(t *testing.T, b []byte) {
		if props, err := parsePlistDict(b); err == nil && len(props) > len(b) {
			t.Fatalf("%d keys from %d bytes", len(props), len(b))
		}
		fuzzDarwin(t, "diskutil", b)
	})
}

func FuzzParseHardwarePorts(f *testing.F) {
	seedDarwin(f, "networksetup")
	f.Fuzz(func(t *testing.T, b []byte) {
		ports, err := parseHardwarePorts(b)
		if err == nil && len(ports) == 0 {
			t.Fatal("no ports and no error")
		}
		fuzzDarwin(t, "networksetup", b)
	})
}
