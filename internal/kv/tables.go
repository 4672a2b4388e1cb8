package kv

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
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
func checkTables(dir string) error {
	ids, ok := manifestTables(dir)
	if !ok {
		return nil // Badger itself will say what is wrong with the manifest
	}
	for id := range ids {
		p := filepath.Join(dir, fmt.Sprintf("%06d.sst", id))
		if err := checkTable(p); err != nil {
			return fmt.Errorf("%w: table %s: %v; keep the directory for diagnosis", ErrStoreDamaged, filepath.Base(p), err)
		}
	}
	return nil
}

// manifestTables returns the ids of the tables the manifest lists: only
// those are part of the store (a flush or compaction killed half-way
// leaves an unlisted, unfinished table that Badger overwrites later).
func manifestTables(dir string) (map[uint64]badger.TableManifest, bool) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	m, _, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir))
	if err != nil {
		return nil, false
	}
	return m.Tables, true
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
	return nil
}
