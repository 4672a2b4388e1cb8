package kv

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/fb"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/y"
	"google.golang.org/protobuf/proto"
)

// maxTableSize bounds a table file read for checking; this store's tables
// are a few KiB.
const maxTableSize = 64 << 20

// checkTables verifies the footer and index checksum of every table file
// before Badger opens them. Badger reads a table's footer without bounds
// checks in a goroutine of its own, where a truncated or garbled file
// panics and takes the whole process down (the licensed product
// included): a store damaged that way must be refused, not crash.
//
// It also refuses a MANIFEST that no longer describes the tables beside
// it (cut short, garbled, of another store): Badger, opened for writing,
// would start from what is left of it and delete every table it does not
// list, so the host key and every licence would be gone.
func checkTables(dir string) error {
	m, err := checkManifest(dir)
	if err != nil || m == nil {
		return err
	}
	known := readTablePrints(dir)
	for id := range m {
		p := filepath.Join(dir, fmt.Sprintf("%06d.sst", id))
		if err := checkTable(p); err != nil {
			return fmt.Errorf("%w: table %s: %v; nothing was changed: move the directory aside (keep it for diagnosis), then restore your backup or ask support", ErrStoreDamaged, filepath.Base(p), err)
		}
		if want, ok := known[id]; ok && tablePrint(p) != want {
			return fmt.Errorf("%w: table %s is not the one this store wrote (another store's, or an older copy); nothing was changed: move the directory aside (keep it for diagnosis), then restore your backup or ask support", ErrStoreDamaged, filepath.Base(p))
		}
	}
	return nil
}

// tablePrintsFile records, at every writer's close, each table's print
// (see tablePrint): tables never change once written, so one that differs
// later was put there from elsewhere. Tables written after it (a writer
// killed before its close) are not in it, and pass.
const tablePrintsFile = "TABLES"

// tablePrint is the checksum that a table's footer holds over its index
// (which names every block and holds the bloom filter of every key), as
// hex: "" when unreadable.
func tablePrint(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < 8 {
		return ""
	}
	var b [4]byte
	if _, err := f.ReadAt(b[:], fi.Size()-4); err != nil {
		return ""
	}
	n := int64(binary.BigEndian.Uint32(b[:]))
	if n <= 0 || n > 1024 || n > fi.Size()-4 {
		return ""
	}
	c := make([]byte, n)
	if _, err := f.ReadAt(c, fi.Size()-4-n); err != nil {
		return ""
	}
	return hex.EncodeToString(c)
}

// readTablePrints reads dir's TABLES file; empty when there is none.
func readTablePrints(dir string) map[uint64]string {
	out := map[uint64]string{}
	b, err := os.ReadFile(filepath.Join(dir, tablePrintsFile))
	if err != nil || len(b) > 1<<20 {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		var id uint64
		var print string
		if n, _ := fmt.Sscanf(l, "%d %s", &id, &print); n == 2 {
			out[id] = print
		}
	}
	return out
}

// writeTablePrints records the print of every table in dir, replacing the
// file atomically (best effort: without it, tables are not compared).
func writeTablePrints(dir string) {
	m, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	var b strings.Builder
	for _, p := range m {
		var id uint64
		if n, _ := fmt.Sscanf(filepath.Base(p), "%06d.sst", &id); n == 1 {
			if pr := tablePrint(p); pr != "" {
				fmt.Fprintf(&b, "%d %s\n", id, pr)
			}
		}
	}
	tmp := filepath.Join(dir, tablePrintsFile+".tmp")
	if os.WriteFile(tmp, []byte(b.String()), 0o600) == nil {
		os.Rename(tmp, filepath.Join(dir, tablePrintsFile))
	}
}

// checkManifest replays dir's MANIFEST without writing and compares it
// with the table files on disk. It returns the listed tables; nil and no
// error when there is no MANIFEST, or an empty one beside no table (a
// process killed while it created the store: Badger starts it again).
//
// A crash can leave a table that the MANIFEST does not list yet (written,
// not yet recorded); Badger deletes it, and nothing is lost. But a
// MANIFEST cut short or damaged in its records (valid up to some byte
// before its end) beside unlisted tables, or one listing no table while
// tables exist, has lost what it knew: refused.
func checkManifest(dir string) (map[uint64]badger.TableManifest, error) {
	path := filepath.Join(dir, "MANIFEST")
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, storeErr(dir, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, storeErr(dir, err)
	}
	var onDisk []uint64
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, storeErr(dir, err)
	}
	for _, e := range entries {
		var id uint64
		if n, _ := fmt.Sscanf(e.Name(), "%06d.sst", &id); n == 1 && strings.HasSuffix(e.Name(), ".sst") {
			onDisk = append(onDisk, id)
		}
	}
	damaged := func(what string) error {
		return fmt.Errorf("%w: %s: %s, beside %d table file(s); nothing was changed: move the directory aside (keep it for diagnosis), then restore your backup or ask support", ErrStoreDamaged, path, what, len(onDisk))
	}
	m, valid, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		if fi.Size() == 0 && len(onDisk) == 0 {
			return nil, nil
		}
		return nil, damaged(fmt.Sprintf("unreadable (%d bytes: %v)", fi.Size(), err))
	}
	var unlisted []uint64
	for _, id := range onDisk {
		if _, ok := m.Tables[id]; !ok {
			unlisted = append(unlisted, id)
		}
	}
	switch {
	case len(unlisted) > 0 && len(m.Tables) == 0:
		return nil, damaged(fmt.Sprintf("lists no table (%d bytes)", fi.Size()))
	case len(unlisted) > 0 && valid < fi.Size():
		return nil, damaged(fmt.Sprintf("valid only up to byte %d of %d, and does not list %d of the tables", valid, fi.Size(), len(unlisted)))
	}
	for id := range m.Tables {
		p := filepath.Join(dir, fmt.Sprintf("%06d.sst", id))
		if _, err := os.Stat(p); os.IsNotExist(err) {
			return nil, damaged(fmt.Sprintf("lists table %s, which is missing", filepath.Base(p)))
		}
	}
	return m.Tables, nil
}

func checkTable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size > maxTableSize {
		return fmt.Errorf("larger than %d bytes", maxTableSize)
	}
	// Footer, from the end: checksum length (4), checksum, index length
	// (4), index. Only these are read, not the data blocks.
	read := func(off int64, n int) ([]byte, error) {
		if off < 0 || n < 0 || off+int64(n) > size {
			return nil, fmt.Errorf("truncated")
		}
		b := make([]byte, n)
		_, err := f.ReadAt(b, off)
		return b, err
	}
	pos := size - 4
	b, err := read(pos, 4)
	if err != nil {
		return err
	}
	n := int64(binary.BigEndian.Uint32(b))
	if n <= 0 || n > pos {
		return fmt.Errorf("checksum length %d out of range", n)
	}
	pos -= n
	b, err = read(pos, int(n))
	if err != nil {
		return err
	}
	chk := &pb.Checksum{}
	if err := proto.Unmarshal(b, chk); err != nil {
		return fmt.Errorf("checksum: %v", err)
	}
	pos -= 4
	b, err = read(pos, 4)
	if err != nil {
		return err
	}
	m := int64(binary.BigEndian.Uint32(b))
	if m <= 0 || m > pos {
		return fmt.Errorf("index length %d out of range", m)
	}
	index, err := read(pos-m, int(m))
	if err != nil {
		return err
	}
	if err := y.VerifyChecksum(index, chk); err != nil {
		return fmt.Errorf("index checksum: %v", err)
	}
	// Every data block against its checksum too: a writer's open reads
	// them later, after it has written, and a block read fails only then.
	all, err := read(0, int(size))
	if err != nil {
		return err
	}
	return checkBlocks(all, index)
}

// checkBlocks verifies every block that a table's (checksummed, but still
// untrusted) index names: each ends with its checksum and that checksum's
// length.
func checkBlocks(table, index []byte) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("index unreadable")
		}
	}()
	idx := fb.GetRootAsTableIndex(index, 0)
	var bo fb.BlockOffset
	for i := range idx.OffsetsLength() {
		if !idx.Offsets(&bo, i) {
			return fmt.Errorf("block %d: no offset", i)
		}
		off, n := int64(bo.Offset()), int64(bo.Len())
		if n < 8 || off+n > int64(len(table)) {
			return fmt.Errorf("block %d out of range", i)
		}
		block := table[off : off+n]
		cl := int64(binary.BigEndian.Uint32(block[n-4:]))
		if cl <= 0 || cl > n-4 {
			return fmt.Errorf("block %d: checksum length out of range", i)
		}
		chk := &pb.Checksum{}
		if err := proto.Unmarshal(block[n-4-cl:n-4], chk); err != nil {
			return fmt.Errorf("block %d checksum: %v", i, err)
		}
		if err := y.VerifyChecksum(block[:n-4-cl], chk); err != nil {
			return fmt.Errorf("block %d: %v", i, err)
		}
	}
	return nil
}
