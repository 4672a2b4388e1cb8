//go:build unix

package kv

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// freeBytes returns the bytes an unprivileged writer may still use on the
// filesystem holding dir.
func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("store %s: %v", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// allocatedBytes returns the disk space a file takes: Badger's memtable
// logs are sparse, mapped at twice the memtable's size and filled as
// written.
func allocatedBytes(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks >= 0 {
		return uint64(st.Blocks) * 512
	}
	return uint64(fi.Size())
}
