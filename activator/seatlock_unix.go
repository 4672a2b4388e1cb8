//go:build unix && !linux

package activator

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockSeat takes a POSIX record lock on byte n of f without waiting. Such
// locks belong to the process (the seat file keeps the process's own seats
// and one descriptor, see seatFile); the kernel drops them when it ends.
func lockSeat(f *os.File, n int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: n, Len: 1}
	err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

func unlockSeat(f *os.File, n int64) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: n, Len: 1}
	return unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
}
