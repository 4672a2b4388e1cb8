package activator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The time file keeps the highest time seen by commands that only read
// (status, check, the running product), so that they record it without
// writing Badger: each Badger write leaves a table behind, and a store
// that monitoring reads every minute would grow without bound (issue 12).
//
// It holds one line, replaced atomically (a temporary file renamed over
// it):
//
//	airlock-time/1 <unix seconds> <request number> <base> <store> <crc32>
//
// where the request number is that of the last request made when the time
// was seen (as in maxtime), base is the Badger version of the maxtime
// record it raised (0 for none), store names the store (16 hex digits of
// the SHA-256 of its host key record, which no other store shares: Badger
// versions are small counters that another store may hold too) and crc32 (IEEE, 8 hex digits) covers
// everything before it. It counts only while maxtime is still that record:
// every write of maxtime has a new version, so a writer that raises
// maxtime past the file's time makes it moot, and an import that brings
// maxtime back down (a vendor-vouched correction) ends it. Writers fold
// the file's time into their own state first (see setMaxTime), so the
// file can only ever add a time a reader saw to the store's own. A file
// that is missing, damaged or of another version counts for nothing: like
// every record of the time seen, it helps notice a clock wound back and
// is not trusted to do more (see SECURITY.md).
const (
	timeFile    = "TIMESEEN"
	timeVersion = "airlock-time/1"
)

// timeSeen is the time file's content.
type timeSeen struct {
	at    time.Time
	seq   uint64
	base  uint64
	store string
}

func (t timeSeen) line() string {
	body := fmt.Sprintf("%s %d %d %d %s", timeVersion, t.at.Unix(), t.seq, t.base, t.store)
	return fmt.Sprintf("%s %08x\n", body, crc32.ChecksumIEEE([]byte(body)))
}

// readTimeSeen reads the time file of the store in dir; ok is false when
// there is none that counts.
func readTimeSeen(dir string) (t timeSeen, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, timeFile))
	if err != nil || len(b) > 128 {
		return t, false
	}
	line, found := strings.CutSuffix(string(b), "\n")
	i := strings.LastIndexByte(line, ' ')
	if !found || i < 0 {
		return t, false
	}
	body, sum := line[:i], line[i+1:]
	if want := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body))); sum != want {
		return t, false
	}
	f := strings.Split(body, " ")
	if len(f) != 5 || f[0] != timeVersion || len(f[4]) != 16 {
		return t, false
	}
	at, err1 := strconv.ParseInt(f[1], 10, 64)
	seq, err2 := strconv.ParseUint(f[2], 10, 64)
	base, err3 := strconv.ParseUint(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return t, false
	}
	return timeSeen{at: time.Unix(at, 0).UTC(), seq: seq, base: base, store: f[4]}, true
}

// writeTimeSeen replaces the time file. Failures are returned for tests
// and otherwise ignored: the record only helps later checks, and a user
// who may read the store but not write it (monitoring) cannot keep one.
func writeTimeSeen(dir string, t timeSeen) error {
	f, err := os.CreateTemp(dir, "."+timeFile+".tmp-*")
	if err != nil {
		return err
	}
	// Not synced: a crash may lose the file (or leave it empty), which
	// then counts for nothing, as a deleted one does; its admin can delete
	// it anyway (SECURITY.md). A sync made the first check a minute after
	// a write cost a reader as much again as the check itself.
	_, err = f.WriteString(t.line())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Readable by the product's service account when root wrote it:
		// a time is no secret.
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, timeFile))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// foldTimeSeen raises the state's stored highest time seen to the time
// file's, where that still counts.
func (st *storeState) foldTimeSeen(dir string) {
	t, ok := readTimeSeen(dir)
	if !ok || t.store != st.storeID() || t.base != st.maxTimeVersion || !t.at.After(st.maxTime) {
		return
	}
	st.maxTime, st.rawMaxTime, st.maxTimeSeq = t.at, t.at, t.seq
}

// recordTimeSeen writes now to the time file, for a store opened only
// for reading, when the highest time seen lags it by every or more.
func recordTimeSeen(dir string, st *storeState, now time.Time, every time.Duration) {
	if now.Sub(st.rawMaxTime) < every {
		return
	}
	writeTimeSeen(dir, timeSeen{at: now, seq: st.reqSeq, base: st.maxTimeVersion, store: st.storeID()})
}

// storeID names the store for the time file: 16 hex digits of the SHA-256
// of its host key record ("" before the first request).
func (st *storeState) storeID() string {
	if st.hostKey == nil {
		return ""
	}
	sum := sha256.Sum256(st.hostKey)
	return hex.EncodeToString(sum[:8])
}
