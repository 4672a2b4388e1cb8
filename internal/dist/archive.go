package main

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// entry is one file of a release archive.
type entry struct {
	name string // slash-separated, relative to the archive's top directory
	data []byte
	exec bool // mode 0755, else 0644
}

// sorted returns the entries ordered by name, so that an archive does not
// depend on the order the files were gathered in.
func sorted(files []entry) []entry {
	s := slices.Clone(files)
	slices.SortFunc(s, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return s
}

func (e entry) mode() fs.FileMode {
	if e.exec {
		return 0o755
	}
	return 0o644
}

// writeTarGz writes files under the directory top as a gzipped tar whose
// bytes depend on nothing but its arguments: entries in name order, owner
// and group 0 with no names (tar --numeric-owner --owner=0 --group=0), one
// modification time for all, ustar headers, and a gzip header without a
// file name or time (gzip -n).
func writeTarGz(w io.Writer, top string, mtime time.Time, files []entry) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	hdr := func(name string, mode fs.FileMode, typ byte, size int64) *tar.Header {
		return &tar.Header{Typeflag: typ, Name: name, Mode: int64(mode), Size: size, ModTime: mtime.UTC().Truncate(time.Second), Format: tar.FormatUSTAR}
	}
	if err := tw.WriteHeader(hdr(top+"/", 0o755, tar.TypeDir, 0)); err != nil {
		return err
	}
	for _, f := range sorted(files) {
		if err := tw.WriteHeader(hdr(top+"/"+f.name, f.mode(), tar.TypeReg, int64(len(f.data)))); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeZip writes files under the directory top as a zip with the same
// properties as writeTarGz: name order, one modification time (in UTC, so
// the MS-DOS time fields do not follow the builder's time zone), Unix modes
// and no other extra fields.
func writeZip(w io.Writer, top string, mtime time.Time, files []entry) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	mtime = mtime.UTC().Truncate(time.Second)
	dir := &zip.FileHeader{Name: top + "/", Method: zip.Store, Modified: mtime}
	dir.SetMode(fs.ModeDir | 0o755)
	if _, err := zw.CreateHeader(dir); err != nil {
		return err
	}
	for _, f := range sorted(files) {
		h := &zip.FileHeader{Name: top + "/" + f.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(f.mode())
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return zw.Close()
}
