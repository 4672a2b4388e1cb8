package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// Badger's MANIFEST is a log of every table ever created and deleted, and
// every open replays it (checkManifest does too). Badger itself rewrites
// it only after 10,000 deletions, so a store that one short-lived writer
// after another compacts (one table made, two deleted each time) carries a
// MANIFEST of up to a few hundred kilobytes whose replay makes every
// status several times slower than on a new store (issue 12; measured: a
// 6 KiB MANIFEST makes status 1.6 times slower). A writer that leaves a
// MANIFEST larger than manifestRewriteSize and more than twice what it
// needs rewrites it, as Badger does, to one change set of the tables that
// exist.
const manifestRewriteSize = 512

// manifestRewrite is the name Badger gives its own rewrite's temporary file.
const manifestRewrite = "MANIFEST-REWRITE"

// compactManifest rewrites dir's MANIFEST to list only the tables it has,
// when it is larger than manifestRewriteSize and nobody has the store open
// (it takes the directory lock Badger takes, or does nothing). The new
// file is replayed and compared with the old one's tables before it
// replaces it, so a fault leaves the old MANIFEST, never a wrong one.
func compactManifest(dir string) error {
	path := filepath.Join(dir, "MANIFEST")
	if fi, err := os.Stat(path); err != nil || fi.Size() <= manifestRewriteSize {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil || unlock == nil {
		return err // in use: the next writer tries again
	}
	defer unlock()
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(old) < 8 {
		return fmt.Errorf("MANIFEST of %d bytes", len(old))
	}
	tables, err := replayManifest(path, dir)
	if err != nil {
		return err
	}
	set := pb.ManifestChangeSet{}
	for id, tm := range tables {
		set.Changes = append(set.Changes, &pb.ManifestChange{
			Id: id, Op: pb.ManifestChange_CREATE, Level: uint32(tm.Level), KeyId: tm.KeyID,
			EncryptionAlgo: pb.EncryptionAlgo_aes, Compression: uint32(tm.Compression),
		})
	}
	body, err := proto.Marshal(&set)
	if err != nil {
		return err
	}
	if int64(len(old)) <= 2*int64(16+len(body)) {
		return nil
	}
	var buf bytes.Buffer
	buf.Write(old[:8]) // magic, the external and Badger's versions, as they were
	var lenCrc [8]byte
	binary.BigEndian.PutUint32(lenCrc[0:4], uint32(len(body)))
	binary.BigEndian.PutUint32(lenCrc[4:8], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	buf.Write(lenCrc[:])
	buf.Write(body)
	tmp := filepath.Join(dir, manifestRewrite)
	if err := WriteFileSynced(tmp, buf.Bytes()); err != nil {
		os.Remove(tmp)
		return err
	}
	again, err := replayManifest(tmp, dir)
	if err != nil || !maps.Equal(again, tables) {
		os.Remove(tmp)
		return fmt.Errorf("rewritten MANIFEST does not replay to the same tables: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDirectory(dir)
	return nil
}

func replayManifest(path, dir string) (map[uint64]badger.TableManifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, valid, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return nil, err
	}
	if end, _ := f.Seek(0, io.SeekEnd); valid != end {
		return nil, fmt.Errorf("MANIFEST valid up to byte %d of %d", valid, end)
	}
	return m.Tables, nil
}

// WriteFileSynced writes a file (mode 0600) and syncs it and its
// directory, so that a power loss cannot leave it empty where it is named
// (and see confirmWritten).
func WriteFileSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = confirmWritten(filepath.Dir(path))
	}
	return err
}

// WriteSecretFile writes a secret (the desk's vendor key) as
// WriteFileSynced does, readable by this account alone where the system
// lets it: mode 0600 on Unix (also when the file existed), and on Windows
// the protected DACL of protectedDACL (SYSTEM, Administrators and this
// account), set while the file is still empty.
func WriteSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = f.Chmod(0o600)
	if err == nil {
		err = protectFile(path)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// confirmWritten checks, after a write whose sync has returned, that the
// filesystem holding dir has not failed meanwhile; it returns the error
// that says so, or nil. Seen on Linux 6.18 with ext4 (errors=remount-ro,
// TestReadOnlyRemountDuringImport): a disk error during an import, the
// msync of Badger's log returned no error, the import said it was stored,
// and after e2fsck the log no longer held it. A filesystem that has failed
// refuses every fsync from then on (EROFS or EIO), also the directory's,
// which on a healthy one costs at most the commit of what the journal is
// holding. Windows cannot flush a directory, so it is not checked there.
func confirmWritten(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil // a directory this process may write, not read: unchecked
	}
	err = f.Sync()
	f.Close()
	return err
}

func syncDirectory(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
