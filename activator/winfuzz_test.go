package activator

import (
	"path/filepath"
	"testing"
)

// Fuzz targets of the Windows parsers, seeded with the recorded answers;
// a target without its seeds fails rather than fuzzing from nothing.

func seedWinFixtures(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
	if len(files) == 0 {
		f.Fatalf("no seeds in testdata/%s; run go generate ./activator", dir)
	}
	for _, p := range files {
		f.Add(readWinFixture(f, p).data)
	}
}

func FuzzParseRawSMBIOS(f *testing.F) {
	seedWinFixtures(f, "smbios")
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := parseRawSMBIOS(b)
		if err != nil {
			return
		}
		if info.UUID != "" && !isUUID(info.UUID) {
			t.Fatalf("UUID %q", info.UUID)
		}
		if info.UUID == "" && info.UUIDReason == "" {
			t.Fatal("no UUID and no reason")
		}
		h := collectWindows(fpProduct, windowsSources{SMBIOS: func() ([]byte, error) { return b, nil }})
		if len(h.Components) != 7 {
			t.Fatalf("%d components", len(h.Components))
		}
	})
}

func FuzzParseStorageDescriptor(f *testing.F) {
	seedWinFixtures(f, "storage")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseStorageDescriptor(b)
		if err != nil {
			return
		}
		if len(d.Serial) >= len(b) || len(d.Vendor) >= len(b) || len(d.Product) >= len(b) {
			t.Fatalf("strings longer than the descriptor: %+v", d)
		}
		if s := cleanDiskSerial(d.Serial); s != "" && !printable(s) {
			t.Fatalf("serial %q", s)
		}
		parseDiskExtents(b)
	})
}
