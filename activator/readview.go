package activator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/internal/kv"
)

// The read view is a copy of the records that reading a store's state
// asks for (loadState, then evaluate), which every writer leaves beside
// the store when it closes, so that readers (activator status and check,
// the product's Open and its reloads) need not open Badger: opening,
// reading and closing Badger cost a reader several times what verifying
// the licence costs (BENCHMARKS.md).
//
// It is a cache, never a source of trust: what it holds is judged exactly
// as the same records read from Badger are (every response's signature,
// binding and fingerprint verified at every use), and it counts only
// while Badger's files are the ones it was written beside: it lists each
// of them with its size and modification time, and a reader that finds
// any difference (another writer, a write cut short by a crash, a file
// edited or restored, a store copied without its times) reads Badger
// instead, as it does when the view is missing, damaged or lacks a record
// the evaluation asks for. Editing it can do what editing the store's own
// records can (SECURITY.md): bring back a licence this host once held,
// never create one or move one to another machine.
//
// The file is one line "airlock-view/1 <sha256 of the rest, hex>" and a
// JSON document (viewData), replaced atomically, with the store files'
// protection (it holds the host key record, as the store does).
const (
	viewFileName = "VIEW"
	viewVersion  = "airlock-view/1"
	maxViewSize  = 4 << 20
	// viewLicences is how many of the newest imported licences have their
	// response and deactivation record in the view; an evaluation that
	// reaches past them reads Badger.
	viewLicences = 16
)

// errViewMiss is a record the view does not hold: the reader reads Badger.
var errViewMiss = errors.New("not in the read view")

type viewData struct {
	Files    []viewStat            `json:"files"`
	Gets     map[string]viewValue  `json:"gets"`
	Scans    map[string][]viewPair `json:"scans"`
	KeyScans map[string][]string   `json:"key_scans"`
}

// viewValue is a key's value as get returned it; Present is false for a
// key known to be absent.
type viewValue struct {
	Present bool   `json:"present"`
	Value   []byte `json:"value,omitempty"`
	Version uint64 `json:"version,omitempty"`
}

type viewPair struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// viewStat is one of Badger's files as the writer left it.
type viewStat struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
}

// badgerFile reports the names of Badger's own files, whose state the view
// is bound to; the others (the time file, the generation hint, the lock
// and owner files, the view) change without changing the records.
func badgerFile(name string) bool {
	switch name {
	case "MANIFEST", "KEYREGISTRY", "DISCARD":
		return true
	}
	ext := filepath.Ext(name)
	return ext == ".sst" || ext == ".vlog" || ext == ".mem"
}

// storeFiles lists Badger's files in dir with their sizes and times,
// sorted by name.
func storeFiles(dir string) ([]viewStat, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []viewStat
	for _, e := range entries {
		if !badgerFile(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, viewStat{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime().UnixNano()})
	}
	return out, nil
}

// recorder is a records that keeps a copy of every answer it gives.
type recorder struct {
	r records
	v viewData
}

func newRecorder(r records) *recorder {
	return &recorder{r: r, v: viewData{Gets: map[string]viewValue{}, Scans: map[string][]viewPair{}, KeyScans: map[string][]string{}}}
}

func (c *recorder) get(key string) ([]byte, uint64, error) {
	v, ver, err := c.r.get(key)
	if err == nil {
		c.v.Gets[key] = viewValue{Present: v != nil, Value: v, Version: ver}
	}
	return v, ver, err
}

func (c *recorder) scan(prefix string, fn func(string, []byte) error) error {
	var pairs []viewPair
	err := c.r.scan(prefix, func(k string, v []byte) error {
		pairs = append(pairs, viewPair{k, slices.Clone(v)})
		return fn(k, v)
	})
	if err == nil {
		c.v.Scans[prefix] = append([]viewPair{}, pairs...)
	}
	return err
}

func (c *recorder) scanKeys(prefix string, fn func(string) error) error {
	var keys []string
	err := c.r.scanKeys(prefix, func(k string) error {
		keys = append(keys, k)
		return fn(k)
	})
	if err == nil {
		c.v.KeyScans[prefix] = append([]string{}, keys...)
	}
	return err
}

// viewRecords answers from a read view.
type viewRecords struct{ v *viewData }

func (r viewRecords) get(key string) ([]byte, uint64, error) {
	v, ok := r.v.Gets[key]
	if !ok {
		return nil, 0, errViewMiss
	}
	if !v.Present {
		return nil, 0, nil
	}
	return v.Value, v.Version, nil
}

func (r viewRecords) scan(prefix string, fn func(string, []byte) error) error {
	pairs, ok := r.v.Scans[prefix]
	if !ok {
		return errViewMiss
	}
	for _, p := range pairs {
		if err := fn(p.Key, p.Value); err != nil {
			return err
		}
	}
	return nil
}

func (r viewRecords) scanKeys(prefix string, fn func(string) error) error {
	keys, ok := r.v.KeyScans[prefix]
	if !ok {
		return errViewMiss
	}
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// captureView reads, through txn, what a reader's loadState and evaluate
// of this store ask for: the light state, and the response and
// deactivation record of the newest viewLicences imports.
func captureView(txn *badger.Txn, dir string) (*viewData, error) {
	rec := newRecorder(txnRecords{txn})
	st, err := loadState(rec, dir, false)
	if err != nil {
		return nil, err
	}
	for i, im := range slices.Backward(st.imports) {
		if len(st.imports)-i > viewLicences {
			break
		}
		for _, key := range []string{prefixResponse + string(im.id), prefixDeact + string(im.id)} {
			if _, _, err := rec.get(key); err != nil {
				return nil, err
			}
		}
	}
	return &rec.v, nil
}

// writeView writes v as the read view of dir, bound to Badger's files as
// they are now. The caller holds the writers' session (kv.DB.AfterClose,
// or kv.TrySession). A failure leaves no view, or the old one, which no
// longer matches the files: readers then read Badger.
func writeView(dir string, v *viewData) error {
	files, err := storeFiles(dir)
	if err != nil {
		return err
	}
	v.Files = files
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s\n", viewVersion, hex.EncodeToString(sum[:]))
	b.Write(body)
	tmp := filepath.Join(dir, "."+viewFileName+".tmp")
	if err := kv.WriteSecretFile(tmp, b.Bytes()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, viewFileName)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// removeView deletes dir's read view (a writer that could not capture
// one leaves none rather than an old one).
func removeView(dir string) { os.Remove(filepath.Join(dir, viewFileName)) }

// readView returns dir's read view when it is whole and Badger's files are
// still the ones it was written beside; ok is false otherwise (read Badger).
func readView(dir string) (v *viewData, ok bool) {
	f, err := os.Open(filepath.Join(dir, viewFileName))
	if err != nil {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(f, maxViewSize+1))
	f.Close()
	if err != nil || len(b) > maxViewSize {
		return nil, false
	}
	head, body, found := bytes.Cut(b, []byte("\n"))
	version, sum, _ := strings.Cut(string(head), " ")
	want := sha256.Sum256(body)
	if !found || version != viewVersion || sum != hex.EncodeToString(want[:]) {
		return nil, false
	}
	v = new(viewData)
	if json.Unmarshal(body, v) != nil || v.Gets == nil {
		return nil, false
	}
	files, err := storeFiles(dir)
	if err != nil || !slices.Equal(files, v.Files) {
		return nil, false
	}
	return v, true
}
