//go:build windows

package kv

import (
	"errors"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// lockDir takes the lock Badger takes on a store directory on Windows:
// its LOCK file, opened with no sharing (so that no other handle to it
// may exist) and deleted when the handle closes, also when the process
// dies. While it is held no Badger can open the store (Badger's own open
// of the file fails as for another Badger), and it cannot be had while a
// Badger has the store open. It returns a nil unlock, and no error, when
// another process holds it.
//
// A LockFileEx lock on a file of its own would not do: Badger does not
// look at it, so a writer could open the store while the MANIFEST is
// rewritten. Readers on Windows take no lock at all (Badger cannot open
// a store read-only there, so OpenReadOnly reads a copy): one that copies
// the store while the MANIFEST is replaced sees the old file or the new
// one, both naming the same tables, and one holding the MANIFEST open
// makes the rename fail, which leaves the old MANIFEST in place.
func lockDir(dir string) (unlock func(), err error) {
	abs, err := filepath.Abs(filepath.Join(dir, "LOCK"))
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
		// Held by another process (a LOCK pending deletion answers
		// access denied).
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return func() { windows.CloseHandle(h) }, nil
}
