package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"slices"
	"testing"
	"time"
)

var (
	testTime  = time.Date(2025, 6, 24, 12, 30, 45, 0, time.UTC)
	testFiles = []entry{
		{name: "issuer", data: []byte("\x7fELF issuer"), exec: true},
		{name: "README.md", data: []byte("# airlock\n")},
		{name: "activator", data: bytes.Repeat([]byte("activator "), 1000), exec: true},
	}
	wantOrder = []string{"top/", "top/README.md", "top/activator", "top/issuer"}
)

type writer func(io.Writer, string, time.Time, []entry) error

// write writes an archive with the files in the given order, the local
// time zone set to loc.
func write(t *testing.T, w writer, files []entry, loc *time.Location) []byte {
	t.Helper()
	saved := time.Local
	time.Local = loc
	defer func() { time.Local = saved }()
	var buf bytes.Buffer
	if err := w(&buf, "top", testTime.In(loc), files); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestArchivesReproducible: the same files give the same bytes whatever
// their order and the builder's time zone.
func TestArchivesReproducible(t *testing.T) {
	reversed := []entry{testFiles[2], testFiles[1], testFiles[0]}
	for name, w := range map[string]writer{"tar.gz": writeTarGz, "zip": writeZip} {
		a := write(t, w, testFiles, time.UTC)
		b := write(t, w, reversed, time.FixedZone("UTC+9", 9*3600))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two archives of the same files differ (%d and %d bytes)", name, len(a), len(b))
		}
		c := write(t, w, testFiles[:2], time.UTC)
		if bytes.Equal(a, c) {
			t.Errorf("%s: archives of different files are equal", name)
		}
	}
}

func TestTarGz(t *testing.T) {
	b := write(t, writeTarGz, testFiles, time.FixedZone("UTC-5", -5*3600))
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header has name %q, time %v; want neither (gzip -n)", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d (%q:%q), want 0:0 without names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(testTime) {
			t.Errorf("%s: time %v, want %v", h.Name, h.ModTime, testTime)
		}
		want := map[string]int64{"top/": 0o755, "top/README.md": 0o644, "top/activator": 0o755, "top/issuer": 0o755}[h.Name]
		if h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
		data, _ := io.ReadAll(tr)
		for _, f := range testFiles {
			if "top/"+f.name == h.Name && !bytes.Equal(data, f.data) {
				t.Errorf("%s: content differs", h.Name)
			}
		}
	}
	if !slices.Equal(names, wantOrder) {
		t.Errorf("entries %q, want %q", names, wantOrder)
	}
}

func TestZip(t *testing.T) {
	b := write(t, writeZip, testFiles, time.FixedZone("UTC+2", 2*3600))
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(testTime) {
			t.Errorf("%s: time %v, want %v", f.Name, f.Modified, testTime)
		}
		want := map[string]fs.FileMode{"top/": fs.ModeDir | 0o755, "top/README.md": 0o644, "top/activator": 0o755, "top/issuer": 0o755}[f.Name]
		if f.Mode() != want {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), want)
		}
		if f.Mode().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, e := range testFiles {
			if "top/"+e.name == f.Name && !bytes.Equal(data, e.data) {
				t.Errorf("%s: content differs", f.Name)
			}
		}
	}
	if !slices.Equal(names, wantOrder) {
		t.Errorf("entries %q, want %q", names, wantOrder)
	}
}
