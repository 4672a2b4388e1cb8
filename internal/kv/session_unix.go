//go:build unix

package kv

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockSession takes the writers' session lock of a store (see
// sessionFile): an exclusive flock on the file. It returns a nil unlock,
// and no error, when another process holds it. The lock goes with the
// process, also when it is killed.
func lockSession(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, sessionFile), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, nil
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
