// Package fsaccess tells a store that this process may not read or write
// (a permission denied, a read-only filesystem) from a damaged one, after
// an open failed: the store layer reports Badger's failure as damage, and
// the person reading it needs to know it is neither.
package fsaccess

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/airlock-license/airlock/internal/kv"
)

// ErrAccess: this process may not read or write the store, or its
// filesystem is read-only; see [Error]. It is kv.ErrNoAccess, so that the
// store layer's own report of the same cause (a disk error, or a
// permission seen where this package finds none) matches it too.
var ErrAccess = kv.ErrNoAccess

// Error reports a store that this process may not read or
// write: a permission denied, or a filesystem mounted read-only. The store
// is not damaged, and the message says what to do instead.
type Error struct {
	Dir      string // the store directory
	Path     string // the file or directory refused (Dir, a file in it, or Dir's parent)
	Write    bool   // writing was refused; reading otherwise
	ReadOnly bool   // the filesystem is mounted read-only
	User     string // this process's user ("nobody", "uid 1000"); "" when unknown
	Owner    string // the owner of Dir (or of Path, when Dir does not exist); "" when unknown
}

func (e *Error) Error() string {
	if e.ReadOnly {
		return fmt.Sprintf("the store %s is on a read-only filesystem, so nothing can be written to it; remount the filesystem read-write (or use a store on a writable one, --dir) and try again", e.Dir)
	}
	what := "read"
	if e.Write {
		what = "write"
	}
	who := "this user"
	if e.User != "" {
		who += " (" + e.User + ")"
	}
	target := "the store " + e.Dir
	if rel, err := filepath.Rel(e.Dir, e.Path); e.Path != e.Dir && err == nil && !strings.HasPrefix(rel, "..") {
		target = rel + " in the store " + e.Dir
	} else if e.Path != e.Dir {
		target = e.Path + " (to create the store " + e.Dir + ")"
	}
	switch e.Owner {
	case "":
		return fmt.Sprintf("permission denied: %s may not %s %s; run it as the store's owner or as an administrator (root), or give this user access", who, what, target)
	case e.User:
		return fmt.Sprintf("permission denied: %s may not %s %s, although it owns the store; give the owner its permissions back (chmod -R u+rwX %s) and try again", who, what, target, e.Dir)
	case "root":
		return fmt.Sprintf("permission denied: %s may not %s %s, which belongs to root; run it as root (the store's owner), or give this user access", who, what, target)
	}
	return fmt.Sprintf("permission denied: %s may not %s %s, which belongs to %s; run it as %s (the store's owner) or as root, or give this user access", who, what, target, e.Owner, e.Owner)
}

// Is makes errors.Is(err, ErrAccess) true.
func (e *Error) Is(target error) bool { return target == ErrAccess }

// Explain explains a failure to open the store in dir (for writing, or for
// reading): where this process may not do so, or the filesystem is
// read-only, that is the error (an [*Error]), not the damage the store
// layer would otherwise report. Lock, space and missing-store errors stand.
func Explain(dir string, write bool, err error) error {
	if err == nil || errors.Is(err, kv.ErrLocked) || errors.Is(err, kv.ErrDiskFull) || errors.Is(err, kv.ErrNoStore) {
		return err
	}
	if a := storeAccess(dir, write); a != nil {
		return a
	}
	return err
}

// storeAccess looks for what keeps this process from reading (or, with
// write, writing) the store in dir: a permission denied, or a read-only
// filesystem. It returns nil when it finds neither. It changes nothing:
// files are opened and closed, never created or written.
func storeAccess(dir string, write bool) *Error {
	fi, err := os.Stat(dir)
	if os.IsNotExist(err) {
		parent := filepath.Dir(dir)
		if !write {
			return nil
		}
		if _, perr := os.Stat(parent); perr != nil {
			return accessError(dir, parent, false, perr)
		}
		return accessError(dir, parent, true, dirWritable(parent))
	}
	if err != nil {
		return accessError(dir, dir, false, err)
	}
	if !fi.IsDir() {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return accessError(dir, dir, false, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return accessError(dir, dir, false, err)
	}
	if write {
		if a := accessError(dir, dir, true, dirWritable(dir)); a != nil {
			return a
		}
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		r, err := os.Open(p)
		if err != nil {
			if a := accessError(dir, p, false, err); a != nil {
				return a
			}
			continue
		}
		r.Close()
		// Tables are only read; everything else a writer opens for writing.
		if !write || strings.HasSuffix(name, ".sst") {
			continue
		}
		w, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			if a := accessError(dir, p, true, err); a != nil {
				return a
			}
			continue
		}
		w.Close()
	}
	return nil
}

// accessError is err as an Error, or nil when err is neither a
// permission denied nor a read-only filesystem.
func accessError(dir, path string, write bool, err error) *Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EROFS):
		return &Error{Dir: dir, Path: path, Write: true, ReadOnly: true}
	case errors.Is(err, fs.ErrPermission):
		owner := dir
		if _, err := os.Stat(dir); err != nil {
			owner = path
		}
		return &Error{Dir: dir, Path: path, Write: write, User: currentUser(), Owner: ownerOf(owner)}
	}
	return nil
}
