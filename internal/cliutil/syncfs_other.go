//go:build !linux

package cliutil

import (
	"os"
	"path/filepath"
)

// SyncFS flushes the files under dir to disk, and the directory itself
// where the system allows: one call after writing many files. Only Linux
// can flush one filesystem at once (syncfs); elsewhere each regular file
// is flushed in turn.
func SyncFS(dir string) error {
	var first error
	keep := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	keep(filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		keep(f.Sync())
		return f.Close()
	}))
	syncDir(dir)
	return first
}

// syncDir makes renames in dir durable where the system allows it (on
// Windows a directory cannot be flushed; NTFS journals renames itself).
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
