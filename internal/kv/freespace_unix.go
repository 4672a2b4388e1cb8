//go:build unix

package kv

import (
	"fmt"

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
