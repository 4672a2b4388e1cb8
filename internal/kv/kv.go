// Package kv is the Badger store both airlock tools keep their state in:
// tuned for a few kilobytes, synced writes, a directory lock held only
// while reading or writing (waiters are told who holds it), a free-space
// check before every write, files kept owned by the directory's owner, a
// new store directory protected by a DACL of its own on Windows (see
// protect.go), and a generation file that tells readers to reload.
package kv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Errors of opening and writing a store.
var (
	// ErrNoStore: the store directory does not exist.
	ErrNoStore = errors.New("no store")
	// ErrLocked: another process holds the store; see [LockedError].
	ErrLocked = errors.New("store in use")
	// ErrDiskFull: too little free space to write safely.
	ErrDiskFull = errors.New("not enough free disk space")
	// ErrStoreDamaged: the store cannot be read.
	ErrStoreDamaged = errors.New("store damaged")
	// ErrNoAccess: this process may not write (or read) the store: a
	// read-only filesystem, or files of another user. Nothing is damaged.
	ErrNoAccess = errors.New("store not accessible")
)

// Files beside Badger's own in the store directory.
const (
	ownerFile      = "OWNER"      // who holds the lock: pid, command, since
	generationFile = "GENERATION" // bumped after every committed change
	// sessionFile is locked by a writer from before it opens Badger until
	// after its close and its AfterClose (the read view is written there),
	// so that no other writer's change falls between what one writer read
	// and what it leaves for readers; a reader that rewrites the view takes
	// it too (TrySession).
	sessionFile = "SESSION"
)

// minFreeBytes is the least free space a write needs: Badger can die with
// SIGBUS on a full disk, so writers refuse first. The host store's value
// log and memtable are 1 MiB each and its tables a few KiB; eight leaves
// room for a flush and a compaction. A larger store needs more: see
// freeSpaceNeeded.
const minFreeBytes = 8 << 20

// DefaultLockWait is how long a writer waits for another process to release
// the store before saying who holds it.
const DefaultLockWait = 10 * time.Second

// LockedError reports a store held by another process past the wait.
type LockedError struct {
	Dir    string
	Holder string // "activator import (pid 123) since 10:00:01", or "" if unknown
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.Holder != "" {
		who = e.Holder
	}
	return fmt.Sprintf("store %s is in use by %s; wait for it to finish, or stop it, and try again", e.Dir, who)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// badgerOptions tunes Badger for a store of a few kilobytes (measured in
// BENCHMARKS: about 2 MiB of heap and a few MiB on disk, where the defaults
// take 86 MiB of heap and 2 GiB sparse files).
func badgerOptions(dir string, log *slog.Logger) badger.Options {
	return hostOptions(dir, log)
}

// ledgerOptions suit the vendor's ledger, which grows to hundreds of
// thousands of activations: 16 MiB memtables and 2 MiB tables (eight times
// fewer tables for every lookup to consider), 64 MiB value-log files, an
// 8 MiB block cache, and transactions of about 2 MiB.
func ledgerOptions(dir string, log *slog.Logger) badger.Options {
	return hostOptions(dir, log).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithValueLogFileSize(64 << 20).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(10 << 20).
		WithNumLevelZeroTables(5).
		WithNumLevelZeroTablesStall(15).
		WithBlockCacheSize(8 << 20)
}

func hostOptions(dir string, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithSyncWrites(true).
		WithNumVersionsToKeep(1).
		WithMemTableSize(1 << 20).
		WithNumMemtables(1).
		WithValueLogFileSize(1 << 20).
		// Every value in the tables, none in the value log: short-lived
		// writers start a value-log file each time and nothing collects
		// old ones, so a store that kept responses there grew a file per
		// import (and the ledger one per signature). Artifacts are at most
		// 128 KiB armored (format.MaxEncodedSize).
		WithValueThreshold(128 << 10).
		WithBaseTableSize(256 << 10).
		WithBaseLevelSize(1 << 20).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithNumCompactors(2).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithChecksumVerificationMode(options.OnTableAndBlockRead).
		WithVerifyValueChecksum(true).
		WithMetricsEnabled(false).
		WithNumGoroutines(2).
		WithCompactL0OnClose(true)
}

// badgerLogger routes Badger's messages to the tool's logger at debug
// level only (never to stdout, which the CLIs keep for their own output).
// Badger logs what it then returns as an error, and logs retries that the
// caller sees as a failed write or close (see closeWriter): at warning
// level they put lines of Badger's internals on a command's stderr beside
// its own one-line message (issue 12).
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelDebug, f, a...) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelDebug, f, a...) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a...) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a...) }
func (b badgerLogger) log(level slog.Level, f string, a ...any) {
	if b.l != nil {
		b.l.Log(nil, level, "badger: "+strings.TrimSpace(fmt.Sprintf(f, a...)))
	}
}

// DB is an open store: the Badger handle and the lock that comes with it.
type DB struct {
	Dir      string
	B        *badger.DB
	readOnly bool
	copyDir  string // a temporary repaired copy that B reads (see openCopy)
	log      *slog.Logger
	memTable int64 // Badger's MemTableSize for this store (freeSpaceNeeded)
	// session releases a writer's session lock (sessionFile).
	session func()
	// AfterClose, when set on a writer, runs at the end of Close, after
	// Badger's files are closed and final, while the session is still held.
	AfterClose func()
}

// Open opens (creating if asked) the store for reading and writing,
// retrying while another process holds it, for at most wait.
func Open(dir string, create bool, wait time.Duration, log *slog.Logger, command string) (*DB, error) {
	return open(dir, create, wait, log, command, badgerOptions)
}

// OpenLedger is Open with options for a large store (the vendor's ledger).
func OpenLedger(dir string, create bool, wait time.Duration, log *slog.Logger, command string) (*DB, error) {
	return open(dir, create, wait, log, command, ledgerOptions)
}

func open(dir string, create bool, wait time.Duration, log *slog.Logger, command string, options func(string, *slog.Logger) badger.Options) (*DB, error) {
	if dir == "" {
		return nil, errors.New("no store directory given")
	}
	if fi, err := os.Stat(dir); err != nil {
		if !os.IsNotExist(err) || !create {
			if os.IsNotExist(err) {
				return nil, fmt.Errorf("%w: %s does not exist", ErrNoStore, dir)
			}
			return nil, storeErr(dir, err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create store %s: %v", dir, err)
		}
		// On Windows the mode means nothing: the new directory gets an
		// ACL of its own (protect.go), or is not left behind unprotected.
		if err := protectDir(dir); err != nil {
			os.Remove(dir)
			return nil, fmt.Errorf("create store %s: %v", dir, err)
		}
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("store %s is not a directory", dir)
	}
	memTable := options(dir, log).MemTableSize
	if create {
		if err := checkFreeSpace(dir, memTable); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); os.IsNotExist(err) {
		// An empty directory is no store; do not make one by reading it.
		return nil, fmt.Errorf("%w: %s holds no store", ErrNoStore, dir)
	}
	if err := checkTables(dir); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		session, err := lockSession(dir)
		if err != nil {
			if e := accessError(dir, err); e != nil {
				return nil, e
			}
			return nil, storeErr(dir, err)
		}
		if session == nil {
			if time.Now().After(deadline) {
				return nil, &LockedError{Dir: dir, Holder: readOwner(dir)}
			}
			time.Sleep(delay)
			continue
		}
		bdb, err := badger.Open(options(dir, log))
		if err != nil && !isLocked(err) && !isNoSpace(err) {
			// A process killed while Badger created a file can leave it
			// empty; the failed open repairs it (dgraph-io/badger#2207),
			// and a second one succeeds.
			bdb, err = badger.Open(options(dir, log))
		}
		if err == nil {
			writeOwner(dir, command)
			return &DB{Dir: dir, B: bdb, log: log, memTable: memTable, session: session}, nil
		}
		session()
		if isNoSpace(err) {
			return nil, fmt.Errorf("%w: %s: the disk is full; free some space and retry", ErrDiskFull, dir)
		}
		if e := accessError(dir, err); e != nil {
			return nil, e
		}
		if !isLocked(err) {
			return nil, fmt.Errorf("%w: open %s: %v; nothing was changed: move the directory aside (keep it for diagnosis), then restore your backup or ask support", ErrStoreDamaged, dir, err)
		}
		if time.Now().After(deadline) {
			return nil, &LockedError{Dir: dir, Holder: readOwner(dir)}
		}
		time.Sleep(delay)
	}
}

// OpenReadOnly opens an existing store for reading only: much cheaper to
// open and close (nothing is flushed), and shared with other readers. It
// never writes to the store: where Badger cannot open it read-only (after
// a crash its log needs a repair that only a writer does) it reads a
// repaired copy in a temporary directory instead, and a store that no
// repair would keep whole is refused (see checkManifest). A read-only DB
// refuses Update.
func OpenReadOnly(dir string, wait time.Duration, log *slog.Logger, command string) (*DB, error) {
	return openReadOnly(dir, wait, log, command, badgerOptions)
}

// OpenLedgerReadOnly is OpenReadOnly with options for a large store (the
// vendor's ledger). It writes nothing in dir, so it reads a ledger on a
// full disk, where a writer's open (a new memtable, compactions) fails.
func OpenLedgerReadOnly(dir string, wait time.Duration, log *slog.Logger, command string) (*DB, error) {
	return openReadOnly(dir, wait, log, command, ledgerOptions)
}

func openReadOnly(dir string, wait time.Duration, log *slog.Logger, command string, options func(string, *slog.Logger) badger.Options) (*DB, error) {
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return open(dir, false, wait, log, command, options) // reports what is missing
	}
	if err := checkTables(dir); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		bdb, err := badger.Open(options(dir, log).WithReadOnly(true))
		if err == nil {
			return &DB{Dir: dir, B: bdb, readOnly: true}, nil
		}
		if !isLocked(err) {
			return openCopy(dir, log, err, options)
		}
		if time.Now().After(deadline) {
			return nil, &LockedError{Dir: dir, Holder: readOwner(dir)}
		}
		time.Sleep(delay)
	}
}

// openCopy opens a copy of dir, in a temporary directory, for writing, so
// that Badger repairs the copy, not the store; the copy goes with Close.
func openCopy(dir string, log *slog.Logger, cause error, options func(string, *slog.Logger) badger.Options) (*DB, error) {
	tmp, err := os.MkdirTemp("", "airlock-read-")
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v (and no temporary copy: %v)", ErrStoreDamaged, dir, cause, err)
	}
	entries, err := os.ReadDir(dir)
	for _, e := range entries {
		if err != nil {
			break
		}
		if !e.Type().IsRegular() || e.Name() == "LOCK" || e.Name() == ownerFile || e.Name() == sessionFile {
			continue
		}
		var b []byte
		if b, err = os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			err = os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o600)
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, storeErr(dir, err)
	}
	bdb, err := badger.Open(options(tmp, log))
	if err != nil {
		// An empty file left by a kill: the failed open repairs it, as in open.
		bdb, err = badger.Open(options(tmp, log))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("%w: open %s: %v; nothing was changed: move the directory aside (keep it for diagnosis), then restore your backup or ask support", ErrStoreDamaged, dir, cause)
	}
	return &DB{Dir: dir, B: bdb, readOnly: true, copyDir: tmp}, nil
}

// ReadOnly reports whether the store was opened for reading only.
func (d *DB) ReadOnly() bool { return d.readOnly }

// Close releases the store.
func (d *DB) Close() error {
	if d.copyDir != "" {
		err := d.B.Close()
		os.RemoveAll(d.copyDir)
		if err != nil {
			return storeErr(d.Dir, err)
		}
		return nil
	}
	if d.readOnly {
		// A reader's close syncs the directory too: on a disk that has
		// just failed, that is an input/output error to explain.
		if err := d.B.Close(); err != nil {
			return storeErr(d.Dir, err)
		}
		return nil
	}
	os.Remove(filepath.Join(d.Dir, ownerFile))
	err := d.closeWriter()
	if err == nil {
		writeTablePrints(d.Dir)
		if cerr := compactManifest(d.Dir); cerr != nil && d.log != nil {
			d.log.Warn("store: MANIFEST not rewritten", "dir", d.Dir, "err", cerr)
		}
	}
	if cerr := keepOwner(d.Dir); err == nil {
		err = cerr
	}
	if err == nil && d.AfterClose != nil {
		d.AfterClose()
	}
	if d.session != nil {
		d.session()
	}
	return err
}

// TrySession takes the writers' session lock of the store in dir if no
// writer holds it: unlock is nil when one does (or the lock cannot be
// had). While it is held no writer opens the store.
func TrySession(dir string) (unlock func()) {
	unlock, _ = lockSession(dir)
	return unlock
}

// closeWriter closes Badger for a writer. On a filesystem that went
// read-only under it (a disk error), Badger's close retries flushing its
// memtable for ever; then closeWriter gives up and returns ErrNoAccess,
// leaving the store as a kill would (every committed write is in the
// synced log, replayed by the next open): the process must exit.
func (d *DB) closeWriter() error {
	done := make(chan error, 1)
	go func() { done <- d.B.Close() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			if f, err := os.CreateTemp(d.Dir, ".writable-*"); err == nil {
				f.Close()
				os.Remove(f.Name())
			} else if e := accessError(d.Dir, err); e != nil {
				return e
			}
		}
	}
}

// Update runs fn in one read-write transaction, after checking free space,
// and bumps the generation file so that running servers reload.
func (d *DB) Update(fn func(txn *badger.Txn) error) error {
	if d.readOnly {
		return errors.New("store opened read-only")
	}
	if err := checkFreeSpace(d.Dir, d.memTable); err != nil {
		return err
	}
	if err := d.B.Update(fn); err != nil {
		if e := accessError(d.Dir, err); e != nil {
			return e
		}
		return err
	}
	if err := confirmWritten(d.Dir); err != nil {
		return fmt.Errorf("%w: the filesystem of %s failed (%v; it is read-only now, or reports input/output errors) while the change was written, which may not be stored: repair the disk (dmesg, e2fsck), then see what the store holds and retry", ErrNoAccess, d.Dir, err)
	}
	bumpGeneration(d.Dir)
	return nil
}

func checkFreeSpace(dir string, memTable int64) error {
	free, err := freeBytes(dir)
	if err != nil {
		return err
	}
	need, tables := freeSpaceNeeded(dir, memTable)
	if free >= need {
		return nil
	}
	if need == minFreeBytes {
		return fmt.Errorf("%w: %s has %d KiB free, airlock needs %d MiB to write safely; free some space and retry",
			ErrDiskFull, dir, free>>10, minFreeBytes>>20)
	}
	return fmt.Errorf("%w: %s has %d KiB free, airlock needs %d MiB to write safely (room for the store to rewrite its %d MiB of tables); free some space and retry",
		ErrDiskFull, dir, free>>10, (need+1<<20-1)>>20, (tables+1<<20-1)>>20)
}

// freeSpaceNeeded returns the free space a write to the store in dir
// needs, and the size of its tables. Badger writes tables through memory
// maps of files not yet allocated, so a disk that fills up while it writes
// one kills the process with SIGBUS: a sign on a ledger of 35 MB with
// 9 MiB free did, in the compaction at its close, after the licence had
// been written. What a writer may still write: the transaction being
// committed (Badger caps one at 15% of a memtable); a flush of its
// memtables (what their logs hold) into a table; and compactions, which
// write their new tables before they delete the old ones and never more
// than they read: at most every table, and the flushed one again. At
// least minFreeBytes: for the host store that is all of it, for a large
// ledger the bound grows with the ledger.
func freeSpaceNeeded(dir string, memTable int64) (need, tables uint64) {
	var logs uint64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		switch filepath.Ext(e.Name()) {
		case ".sst":
			tables += uint64(fi.Size())
		case ".mem":
			logs += allocatedBytes(fi)
		}
	}
	return max(minFreeBytes, uint64(memTable)*15/100+tables+2*logs), tables
}

type owner struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func writeOwner(dir, command string) {
	b, _ := json.Marshal(owner{PID: os.Getpid(), Command: command, Since: time.Now().UTC()})
	os.WriteFile(filepath.Join(dir, ownerFile), b, 0o644)
}

func readOwner(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return ""
	}
	var o owner
	if json.Unmarshal(b, &o) != nil || o.PID == 0 {
		return ""
	}
	return fmt.Sprintf("%s (pid %d) since %s", o.Command, o.PID, o.Since.Local().Format("15:04:05"))
}

// Generation returns the store's change counter (0 when never written).
func Generation(dir string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, generationFile))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// bumpGeneration writes generation+1 through a rename, so that a reader
// sees the old or the new value, never a torn one. It is a hint to reload,
// not state: losing it in a crash delays a reload until the next change or
// the periodic re-check.
func bumpGeneration(dir string) {
	tmp := filepath.Join(dir, generationFile+".tmp")
	if os.WriteFile(tmp, []byte(strconv.FormatUint(Generation(dir)+1, 10)+"\n"), 0o644) == nil {
		os.Rename(tmp, filepath.Join(dir, generationFile))
	}
}

// Get returns the value of key, or nil when it is absent.
func Get(txn *badger.Txn, key string) ([]byte, error) {
	item, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Scan calls fn for every key with prefix, in key order.
func Scan(txn *badger.Txn, prefix string, fn func(key string, val []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: false})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := fn(string(it.Item().Key()), v); err != nil {
			return err
		}
	}
	return nil
}

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(txn *badger.Txn) error) error { return d.B.View(fn) }

// ScanKeys calls fn for every key with prefix, in key order, without
// reading values.
func ScanKeys(txn *badger.Txn, prefix string, fn func(key string) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: false})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := fn(string(it.Item().Key())); err != nil {
			return err
		}
	}
	return nil
}

// isLocked reports Badger's refusal of a store that another process
// holds: "Cannot acquire directory lock on ..." on Unix, "Cannot create
// lock file ...  Another process is using this Badger database" on
// Windows.
func isLocked(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot acquire directory lock") || strings.Contains(msg, "Another process is using this Badger database")
}

// storeErr reports an error of reading or writing dir's files: what to do
// where it is a matter of access, the error itself otherwise.
func storeErr(dir string, err error) error {
	if e := accessError(dir, err); e != nil {
		return e
	}
	return fmt.Errorf("store %s: %v", dir, err)
}

// accessError tells a store this process may not write from a damaged
// one: Badger's errors carry the system's text, not its error values.
func accessError(dir string, err error) error {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, syscall.EROFS) || strings.Contains(msg, "read-only file system"):
		return fmt.Errorf("%w: %s is on a read-only filesystem; nothing was changed: make it writable (remount it, or repair the disk) and retry", ErrNoAccess, dir)
	case errors.Is(err, syscall.EIO) || strings.Contains(msg, "input/output error"):
		return fmt.Errorf("%w: a disk error (input/output error) in %s, whose filesystem may have gone read-only; what was stored before is kept: check the disk (dmesg), repair it and retry", ErrNoAccess, dir)
	case errors.Is(err, fs.ErrPermission) || strings.Contains(msg, "permission denied") || strings.Contains(msg, "access is denied"):
		return fmt.Errorf("%w: %s: permission denied; nothing was changed: run as the store's owner or as root (or administrator)", ErrNoAccess, dir)
	}
	return nil
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "no space left on device")
}
