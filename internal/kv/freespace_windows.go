//go:build windows

package kv

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// freeBytes returns the bytes the calling user may still use on the volume
// holding dir (quotas included).
func freeBytes(dir string) (uint64, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, fmt.Errorf("store %s: %v", dir, err)
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, fmt.Errorf("store %s: %v", dir, err)
	}
	return avail, nil
}

// allocatedBytes returns the disk space a file takes, at most: its size
// (not measured on Windows, where Badger sizes its memtable logs up front;
// an upper bound keeps the free-space check on the safe side).
func allocatedBytes(fi os.FileInfo) uint64 { return uint64(fi.Size()) }
