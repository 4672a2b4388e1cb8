//go:build unix

package kv

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockDir takes the lock Badger takes on a store directory (flock on the
// directory, exclusive as a writer's). It returns a nil unlock, and no
// error, when another process holds it.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, nil
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
