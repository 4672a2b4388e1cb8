package activator

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockSeat locks byte n of f exclusively without waiting; Windows drops a
// handle's locks when the process ends.
func lockSeat(f *os.File, n int64) (bool, error) {
	ol := &windows.Overlapped{Offset: uint32(n), OffsetHigh: uint32(n >> 32)}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}

func unlockSeat(f *os.File, n int64) error {
	ol := &windows.Overlapped{Offset: uint32(n), OffsetHigh: uint32(n >> 32)}
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}
