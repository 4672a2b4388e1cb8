package kv

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Backup writes every record of the store in dir to w (Badger's backup
// stream), reading the store as OpenReadOnly does: nothing in dir changes.
func Backup(dir string, w io.Writer, wait time.Duration, log *slog.Logger, command string) error {
	d, err := OpenReadOnly(dir, wait, log, command)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.B.Backup(w, 0)
	return err
}

// Restore makes a new store at dir from a backup stream. dir must not
// exist, or be an empty directory: a store is never written over. The
// store is built in a temporary directory beside dir and renamed into
// place, so a failure leaves no half store at dir.
func Restore(dir string, r io.Reader, log *slog.Logger) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s holds files already; a restore never writes over a store: move it aside (keep it for diagnosis) and restore again", dir)
	} else if err != nil && !os.IsNotExist(err) {
		return storeErr(dir, err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".restore-*")
	if err != nil {
		return err
	}
	fail := func(err error) error { os.RemoveAll(tmp); return err }
	if err := os.Chmod(tmp, 0o700); err != nil {
		return fail(err)
	}
	if err := protectDir(tmp); err != nil { // Windows: the mode means nothing
		return fail(err)
	}
	if err := checkFreeSpace(tmp, badgerOptions(tmp, log).MemTableSize); err != nil {
		return fail(err)
	}
	bdb, err := badger.Open(badgerOptions(tmp, log))
	if err != nil {
		return fail(err)
	}
	if err := bdb.Load(r, 16); err != nil {
		bdb.Close()
		return fail(fmt.Errorf("the backup cannot be loaded: %v", err))
	}
	if err := bdb.Close(); err != nil {
		return fail(err)
	}
	writeTablePrints(tmp)
	compactManifest(tmp)
	os.Remove(dir) // an empty directory, if any
	if err := os.Rename(tmp, dir); err != nil {
		return fail(err)
	}
	syncDirectory(parent)
	return nil
}
