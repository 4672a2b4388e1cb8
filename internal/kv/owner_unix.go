//go:build unix

package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// keepOwner gives every file in the store to the directory's owner when
// root wrote them. The licensed product usually runs as a service account
// that owns the directory, while the admin runs activator as root (to read
// root-only identifiers): without this, files that Badger created (mode
// 0600) would lock the service out of its own licence.
func keepOwner(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil || st.Uid == 0 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store %s: %v", dir, err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("store %s: give %s to the directory's owner: %v", dir, e.Name(), err)
		}
	}
	return nil
}
