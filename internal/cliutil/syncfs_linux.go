package cliutil

import (
	"os"

	"golang.org/x/sys/unix"
)

// SyncFS flushes the filesystem holding path to disk: one sync after
// writing many files, instead of one each.
func SyncFS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
