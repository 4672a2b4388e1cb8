//go:build unix

package fsaccess

import (
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// dirWritable reports whether this process may create and remove files in
// dir (EACCES, EROFS), without doing so.
func dirWritable(dir string) error {
	return unix.Access(dir, unix.W_OK|unix.X_OK)
}

// ownerOf names the owner of path, "" when unknown.
func ownerOf(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return userName(int(st.Uid))
}

// currentUser names the user this process runs as.
func currentUser() string { return userName(os.Geteuid()) }

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
