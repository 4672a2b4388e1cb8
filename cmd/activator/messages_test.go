package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
	"github.com/airlock-license/airlock/internal/testutil"
)

// The product key of the scripts (TEST ONLY).
const testProductKey = "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH"

// msgCase is one row of TestMessagesThatMislead: a store and an input damaged
// the way the row says, the real activator run on them, and what it must
// say.
type msgCase struct {
	name string
	// setup prepares the row's directory (a store with a pending request,
	// whose response is resp.lic, unless it says otherwise) and returns the
	// activator's arguments after --dir.
	setup func(t *testing.T, h *msgHost) []string
	as    runAs // how the command runs: as this user, another, on a read-only mount
	code  int
	want  []string // in stderr (stdout when code is 0)
	not   []string // never in stderr
	// refused: the store's files must be byte-identical afterwards.
	refused bool
	// next follows the message's advice, which must work.
	next func(t *testing.T, h *msgHost)
}

// TestMessagesThatMislead is issue 12 part 3's table: every refusal is one
// line, true, with a next step that works; nothing decided from bytes not
// yet verified is said of the host; text inputs may carry a byte-order mark
// and CRLF line ends; Badger's own log lines never reach the terminal; a
// refused import leaves every file of the store byte-identical.
func TestMessagesThatMislead(t *testing.T) {
	e := newCLIEnv(t)
	vendor := testutil.FixtureKey(t, "vendor")
	cases := []msgCase{
		{
			name: "read-only filesystem, import",
			setup: func(t *testing.T, h *msgHost) []string {
				return []string{"import", h.path("resp.lic")}
			},
			as: asReadOnlyMount, code: 1,
			want:    []string{"read-only filesystem", "remount"},
			not:     []string{"damaged", "support"},
			refused: true,
		},
		{
			name: "read-only filesystem, request",
			setup: func(t *testing.T, h *msgHost) []string {
				return []string{"request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", testProductKey, "-o", h.path("again.req")}
			},
			as: asReadOnlyMount, code: 1,
			want:    []string{"read-only filesystem", "remount"},
			not:     []string{"damaged", "support"},
			refused: true,
		},
		{
			name: "permission: import into a store this user may read but not write",
			setup: func(t *testing.T, h *msgHost) []string {
				h.shareStore(t, 0o755, 0o644)
				return []string{"import", h.path("resp.lic")}
			},
			as: asOtherUser, code: 1,
			want:    []string{"permission denied", "may not write", "as root"},
			not:     []string{"damaged", "support"},
			refused: true,
		},
		{
			name: "permission: status of a store this user may not read",
			setup: func(t *testing.T, h *msgHost) []string {
				return []string{"status"}
			},
			as: asOtherUser, code: 1,
			want:    []string{"permission denied", "may not read", "as root"},
			not:     []string{"damaged", "support"},
			refused: true,
		},
		{
			name: "licence altered in the store, its response imported again",
			setup: func(t *testing.T, h *msgHost) []string {
				h.activator(t, 0, "import", h.path("resp.lic"))
				h.alter(t, "response/")
				out := h.activator(t, 3, "status")
				for _, w := range []string{"altered", "request a new licence"} {
					if !strings.Contains(out, w) {
						t.Errorf("status of the altered store does not say %q:\n%s", w, out)
					}
				}
				return []string{"import", h.path("resp.lic")}
			},
			code:    1,
			want:    []string{"damaged or altered", "request a new licence"},
			not:     []string{"import it again", "import the response again"},
			refused: true,
			next: func(t *testing.T, h *msgHost) {
				h.activator(t, 0, "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", testProductKey, "-o", h.path("new.req"))
				h.respond(t, "new.req", "new.lic", time.Now())
				h.activator(t, 0, "import", h.path("new.lic"))
			},
		},
		{
			name: "host key altered in the store, a new request",
			setup: func(t *testing.T, h *msgHost) []string {
				h.activator(t, 0, "import", h.path("resp.lic"))
				h.alter(t, "hostkey")
				out := h.activator(t, 3, "status")
				if strings.Contains(out, "another host key") || !strings.Contains(out, "damaged or altered") {
					t.Errorf("status of a store with an altered host key:\n%s", out)
				}
				return []string{"request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", testProductKey, "-o", h.path("new.req")}
			},
			// A request opens the store for writing: not byte-identical, but
			// nothing is recorded.
			code: 1,
			want: []string{"host key", "damaged or altered", "move", "aside"},
			next: func(t *testing.T, h *msgHost) {
				if err := os.Rename(h.store, h.store+".old"); err != nil {
					t.Fatal(err)
				}
				h.activator(t, 0, "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", testProductKey, "-o", h.path("new.req"))
				h.respond(t, "new.req", "new.lic", time.Now())
				h.activator(t, 0, "import", h.path("new.lic"))
			},
		},
		{
			name: "armored response cut short",
			setup: func(t *testing.T, h *msgHost) []string {
				b := h.read(t, "resp.lic")
				h.write(t, "cut.lic", b[:len(b)/2])
				return []string{"import", h.path("cut.lic")}
			},
			code:    1,
			want:    []string{"cut short", "copy the whole file again"},
			not:     []string{"more than one armored block"},
			refused: true,
		},
		{
			name: "a bit of the signature's (unverified) time flipped, hours ahead",
			setup: func(t *testing.T, h *msgHost) []string {
				at := time.Now().Truncate(time.Second)
				h.respond(t, "req.req", "dated.lic", at)
				bin := h.binary(t, "dated.lic")
				h.write(t, "flipped.bin", flipTimeAhead(t, bin, at))
				return []string{"import", h.path("flipped.bin")}
			},
			code:    1,
			want:    []string{"signature does not verify", "damaged or altered"},
			not:     []string{"clock", "behind"},
			refused: true,
		},
		{
			name: "a genuine signature nine hours ahead of this host",
			setup: func(t *testing.T, h *msgHost) []string {
				h.respond(t, "req.req", "ahead.lic", time.Now().Add(9*time.Hour))
				return []string{"import", h.path("ahead.lic")}
			},
			code:    1,
			want:    []string{"this host's clock is behind"},
			refused: true,
		},
		{
			name: "the one-pass signature's type flipped",
			setup: func(t *testing.T, h *msgHost) []string {
				bin := h.binary(t, "resp.lic")
				if bin[0] != 0xc4 || bin[3] != 0x00 {
					t.Fatalf("unexpected one-pass signature packet % x", bin[:6])
				}
				bin[3] ^= 0x01
				h.write(t, "ops.bin", bin)
				return []string{"import", h.path("ops.bin")}
			},
			code:    1,
			want:    []string{"one-pass signature", "damaged or altered"},
			not:     []string{"signature type is 0x00"},
			refused: true,
		},
		{
			name: "response saved with a byte-order mark (Notepad)",
			setup: func(t *testing.T, h *msgHost) []string {
				h.write(t, "bom.lic", append([]byte("\ufeff"), h.read(t, "resp.lic")...))
				return []string{"import", h.path("bom.lic")}
			},
			code: 0,
			want: []string{"imported"},
		},
		{
			name: "response with a byte-order mark and CRLF line ends",
			setup: func(t *testing.T, h *msgHost) []string {
				h.write(t, "bomcrlf.lic", bomCRLF(h.read(t, "resp.lic")))
				return []string{"import", h.path("bomcrlf.lic")}
			},
			code: 0,
			want: []string{"imported"},
		},
		{
			name: "QR text with a byte-order mark and CRLF",
			setup: func(t *testing.T, h *msgHost) []string {
				h.write(t, "resp.qr", bomCRLF([]byte(format.EncodeQRText(h.binary(t, "resp.lic"))+"\n")))
				return []string{"import", h.path("resp.qr")}
			},
			code: 0,
			want: []string{"imported"},
		},
		{
			name: "product key pasted from a file with a byte-order mark and CRLF",
			setup: func(t *testing.T, h *msgHost) []string {
				// What "$(cat key.txt)" gives of a key saved by Notepad.
				return []string{"request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", "\ufeff" + testProductKey + "\r", "-o", h.path("key.req")}
			},
			code: 0,
			want: []string{"written to"},
		},
		{
			name: "vendor key file with a byte-order mark and CRLF",
			setup: func(t *testing.T, h *msgHost) []string {
				h.write(t, "vendor-bom.asc", bomCRLF(vendor.Public().Armor()))
				h.env = append(h.env, "ACTIVATOR_VENDOR_KEY="+h.path("vendor-bom.asc"))
				return []string{"import", h.path("resp.lic")}
			},
			code: 0,
			want: []string{"imported"},
		},
		{
			name: "store damaged (KEYREGISTRY cut): Badger's own log lines",
			setup: func(t *testing.T, h *msgHost) []string {
				p := filepath.Join(h.store, "KEYREGISTRY")
				b := h.readAbs(t, p)
				if err := os.WriteFile(p, b[:10], 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"import", h.path("resp.lic")}
			},
			code:    1,
			want:    []string{"store damaged"},
			not:     []string{"level=", "badger:", "Cleaning up"},
			refused: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newMsgHost(t, e)
			args := append([]string{"--dir", h.store}, c.setup(t, h)...)
			before := treeSum(t, h.store)
			stdout, stderr, code := h.run(t, c.as, args...)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			out := stderr
			if c.code == 0 {
				out = stdout
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not say %q:\nstdout: %s\nstderr: %s", w, stdout, stderr)
				}
			}
			for _, w := range c.not {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr says %q:\n%s", w, stderr)
				}
			}
			if n := strings.Count(strings.TrimRight(stderr, "\n"), "\n"); stderr != "" && n > 0 {
				t.Errorf("stderr is %d lines, want one:\n%s", n+1, stderr)
			}
			if c.code != 0 && stderr == "" {
				t.Errorf("refused without a message")
			}
			if c.refused {
				if after := treeSum(t, h.store); after != before {
					t.Errorf("the refusal changed the store's files:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			}
			if c.next != nil && !t.Failed() {
				c.next(t, h)
			}
		})
	}
}

// msgHost is one row's directory: a store, and the files of its rows.
type msgHost struct {
	e     *cliEnv
	dir   string
	store string
	env   []string
}

// newMsgHost makes a store with a pending request (req.req) and the
// vendor's response to it (resp.lic, armored).
func newMsgHost(t *testing.T, e *cliEnv) *msgHost {
	dir, err := os.MkdirTemp(e.dir, "row-")
	if err != nil {
		t.Fatal(err)
	}
	h := &msgHost{e: e, dir: dir, store: filepath.Join(dir, "store"), env: append([]string(nil), e.baseEnv...)}
	h.activator(t, 0, "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", testProductKey, "-o", h.path("req.req"))
	h.respond(t, "req.req", "resp.lic", time.Now())
	return h
}

func (h *msgHost) path(name string) string { return filepath.Join(h.dir, name) }

func (h *msgHost) read(t *testing.T, name string) []byte { return h.readAbs(t, h.path(name)) }

func (h *msgHost) readAbs(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *msgHost) write(t *testing.T, name string, b []byte) {
	if err := os.WriteFile(h.path(name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// binary returns the binary message of an artifact file.
func (h *msgHost) binary(t *testing.T, name string) []byte {
	bin, _, err := format.Decode(h.read(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(bin)
}

// respond writes the vendor's response to a request, signed at at.
func (h *msgHost) respond(t *testing.T, req, out string, at time.Time) {
	msg, err := testutil.Respond(testutil.FixtureKey(t, "vendor"), h.read(t, req), at, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.write(t, out, format.Armor(msg, format.KindResponse))
}

// activator runs the activator on the row's store as this user and
// requires exit code want; it returns stdout.
func (h *msgHost) activator(t *testing.T, want int, args ...string) string {
	t.Helper()
	stdout, stderr, code := h.run(t, asSelf, append([]string{"--dir", h.store}, args...)...)
	if code != want {
		t.Fatalf("activator %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout
}

func (h *msgHost) run(t *testing.T, as runAs, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(h.e.bin, args...)
	cmd.Env, cmd.Dir = h.env, h.dir
	if as != asSelf {
		cmd = prepareRun(t, as, h, cmd)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// alter flips a byte in the middle of each stored value under prefix, as
// an edit of the store's files by hand would (through Badger, so that the
// store still opens).
func (h *msgHost) alter(t *testing.T, prefix string) {
	d, err := kv.Open(h.store, false, time.Second, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = d.Update(func(txn *badger.Txn) error {
		return kv.Scan(txn, prefix, func(k string, v []byte) error {
			v[len(v)/2] ^= 0x01
			n++
			return txn.Set([]byte(k), v)
		})
	})
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil || n == 0 {
		t.Fatalf("alter %s: %d values, %v", prefix, n, err)
	}
}

// shareStore gives the store's directory and files these modes, so that
// another user may read it.
func (h *msgHost) shareStore(t *testing.T, dirMode, fileMode os.FileMode) {
	entries, err := os.ReadDir(h.store)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		os.Chmod(filepath.Join(h.store, ent.Name()), fileMode)
	}
	os.Chmod(h.store, dirMode)
}

// treeSum lists every file of dir with its size and SHA-256.
func treeSum(t *testing.T, dir string) string {
	var lines []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			lines = append(lines, fmt.Sprintf("%s %d %x", rel, len(b), sha256.Sum256(b)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// bomCRLF is text as Notepad saves it: a UTF-8 byte-order mark, CRLF line
// ends.
func bomCRLF(b []byte) []byte {
	return append([]byte("\ufeff"), bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))...)
}

// flipTimeAhead flips one bit of the signature creation time subpacket
// (type 2) of a message signed at at, the lowest bit at or above 2^15
// seconds (9 hours) that is zero, so that the time reads hours later.
func flipTimeAhead(t *testing.T, bin []byte, at time.Time) []byte {
	var want [6]byte
	want[0], want[1] = 5, 0x82 // subpacket length 5, type 2 (critical, as go-crypto writes it)
	binary.BigEndian.PutUint32(want[2:], uint32(at.Unix()))
	i := bytes.Index(bin, want[:])
	if i < 0 || bytes.Contains(bin[i+1:], want[:]) {
		t.Fatalf("creation time subpacket not found once")
	}
	ts := uint32(at.Unix())
	for b := 15; b < 31; b++ {
		if ts&(1<<b) == 0 {
			binary.BigEndian.PutUint32(bin[i+2:], ts|1<<b)
			return bin
		}
	}
	t.Fatal("no bit to flip")
	return nil
}
