package activator

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-license/airlock/format"
)

// TestFormatVectorsThroughImport feeds format's test vectors (the files in
// format/testdata/vectors) to a host's import, pinned to the same fixture
// vendor key: every vector format refuses is refused here with the same
// error, the store unchanged; the valid responses, made for another store,
// are refused as not requested.
func TestFormatVectorsThroughImport(t *testing.T) {
	outcomes := map[string]error{
		"malformed": format.ErrMalformed, "too-large": format.ErrTooLarge, "packet-sequence": format.ErrPacketSequence,
		"unsigned": format.ErrUnsigned, "unknown-signer": format.ErrUnknownSigner, "bad-signature": format.ErrBadSignature,
		"weak-hash": format.ErrWeakHash, "key-expired": format.ErrKeyExpired, "key-revoked": format.ErrKeyRevoked,
		"clock-behind": format.ErrClockBehind, "wrong-kind": format.ErrWrongKind, "unsupported-version": format.ErrUnsupportedVersion,
	}
	paths, _ := filepath.Glob(filepath.Join("..", "format", "testdata", "vectors", "*.txt"))
	if len(paths) < 25 {
		t.Fatalf("found %d vectors", len(paths))
	}
	e := newEnv(t)
	s := e.store()
	e.request(s)
	before := storeDump(t, s)
	n := 0
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		head, body, _ := bytes.Cut(data, []byte("\n\n"))
		h := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(head))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
				h[k] = v
			}
		}
		if h["pinned"] != "vendor" || h["kind"] != "response" {
			continue
		}
		if h["input"] == "binary" {
			body, _ = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\n", ""))
		}
		want := outcomes[h["expect"]]
		if h["expect"] == "ok" {
			want = ErrNotRequested
		}
		_, err := s.Import(body, ImportOptions{})
		if !errors.Is(err, want) {
			t.Errorf("%s: want %v, got %v", filepath.Base(p), want, err)
		}
		n++
	}
	if storeDump(t, s) != before {
		t.Fatal("a refused vector changed the store")
	}
	if n < 20 {
		t.Fatalf("only %d response vectors found", n)
	}
	t.Logf("%d response vectors imported", n)
}
