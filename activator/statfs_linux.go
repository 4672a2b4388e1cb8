package activator

import "syscall"

// statFS returns the filesystem type (the 32-bit statfs magic) and f_fsid
// of the filesystem holding path.
func statFS(path string) (typ uint32, fsid [2]int32, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fsid, err
	}
	return uint32(st.Type), st.Fsid.X__val, nil
}

// fileDevice returns the device number of the filesystem holding path.
func fileDevice(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Dev), nil
}

// blockDevice returns the device number of the block device node path,
// and false when path is not one.
func blockDevice(path string) (uint64, bool) {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFBLK {
		return 0, false
	}
	return uint64(st.Rdev), true
}
