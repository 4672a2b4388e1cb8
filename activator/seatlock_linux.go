package activator

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockSeat takes an open-file-description lock on byte n of f without
// waiting: it belongs to the descriptor, and the kernel drops it when the
// process ends. It reports false when another holds it.
func lockSeat(f *os.File, n int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: n, Len: 1}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

func unlockSeat(f *os.File, n int64) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: n, Len: 1}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}
