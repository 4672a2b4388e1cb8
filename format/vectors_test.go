package format

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "regenerate testdata/vectors (and missing fixture keys)")

// minVectors guards against the vectors silently disappearing.
const minVectors = 25

// fileVector is a vector as read back from testdata/vectors.
type fileVector struct {
	name   string
	header map[string]string
	input  []byte
}

// readVectors parses every file in testdata/vectors. Other packages' tests
// read the same files the same way: the header says what must happen.
func readVectors(t testing.TB) []fileVector {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", "vectors", "*.txt"))
	if len(paths) < minVectors {
		t.Fatalf("found %d test vectors in testdata/vectors, want at least %d (run make vectors)", len(paths), minVectors)
	}
	var out []fileVector
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		head, body, ok := bytes.Cut(data, []byte("\n\n"))
		if !ok {
			t.Fatalf("%s: no blank line after the header", p)
		}
		v := fileVector{name: strings.TrimSuffix(filepath.Base(p), ".txt"), header: map[string]string{}}
		sc := bufio.NewScanner(bytes.NewReader(head))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			k, val, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("%s: bad header line %q", p, line)
			}
			v.header[k] = val
		}
		v.input = body
		if v.header["input"] == "binary" {
			b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\n", ""))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			v.input = b
		}
		out = append(out, v)
	}
	return out
}

func TestVectors(t *testing.T) {
	if *update {
		f := loadFixtures(t, true)
		writeVectors(t, buildVectors(t, f))
	}
	f := loadFixtures(t, false)
	for _, v := range readVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			now, err := time.Parse(time.RFC3339, v.header["now"])
			if err != nil {
				t.Fatal(err)
			}
			kind := Kind(v.header["kind"])
			var got error
			var a *Artifact
			if v.header["pinned"] == "self" {
				a, _, got = VerifyRequest(v.input, now)
			} else {
				pub, err := os.ReadFile(filepath.Join(keyDir(), v.header["pinned"]+".pub.asc"))
				if err != nil {
					t.Fatal(err)
				}
				keys, err := ParseKeySet(pub)
				if err != nil {
					t.Fatal(err)
				}
				a, got = Verify(v.input, VerifyOptions{Keys: keys, Kinds: []Kind{kind}, Now: now})
			}
			expect := v.header["expect"]
			if expect == "ok" {
				if got != nil {
					t.Fatalf("want success, got %v", got)
				}
				if a.Kind != kind {
					t.Fatalf("kind %s, want %s", a.Kind, kind)
				}
				if v.header["pinned"] != "self" && a.Signer.Fingerprint() != f.pub[v.header["pinned"]].Fingerprint() {
					t.Fatalf("signer %s", a.Signer)
				}
				return
			}
			want, ok := outcomes[expect]
			if !ok {
				t.Fatalf("unknown expect %q", expect)
			}
			if !errors.Is(got, want) {
				t.Fatalf("want %v, got %v", want, got)
			}
			// Exactly one sentinel matches: the outcome is unambiguous.
			for name, other := range outcomes {
				if other != want && errors.Is(got, other) {
					t.Errorf("error %q also matches %s", got, name)
				}
			}
			if msg := got.Error(); strings.Contains(msg, "\n") || msg == "" {
				t.Errorf("error is not one line: %q", msg)
			}
		})
	}
}

// TestVectorsUpToDate regenerates every vector in memory and compares it
// with the committed file, so the files are exactly what the committed
// generator makes.
func TestVectorsUpToDate(t *testing.T) {
	f := loadFixtures(t, false)
	vs := buildVectors(t, f)
	files := readVectors(t)
	if len(files) != len(vs) {
		t.Fatalf("%d vector files, generator makes %d (%v); run make vectors", len(files), len(vs), vectorNames(vs))
	}
	for _, x := range vs {
		data, err := os.ReadFile(filepath.Join("testdata", "vectors", x.name+".txt"))
		if err != nil {
			t.Fatalf("%s: %v; run make vectors", x.name, err)
		}
		if !bytes.Equal(data, x.render()) {
			t.Errorf("%s differs from what the generator makes; run make vectors", x.name)
		}
	}
}
