//go:build windows

package kv

import (
	"errors"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// lockSession takes the writers' session lock of a store (see
// sessionFile): the file opened with no sharing, as lockDir opens LOCK,
// and deleted when the handle closes, also when the process dies. It
// returns a nil unlock, and no error, when another process holds it.
func lockSession(dir string) (unlock func(), err error) {
	abs, err := filepath.Abs(filepath.Join(dir, sessionFile))
	if err != nil {
		return nil, err
	}
	p, err := windows.UTF16PtrFromString(abs)
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(p, windows.DELETE, 0, nil, windows.OPEN_ALWAYS,
		windows.FILE_ATTRIBUTE_TEMPORARY|windows.FILE_FLAG_DELETE_ON_CLOSE, 0)
	if errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return func() { windows.CloseHandle(h) }, nil
}
