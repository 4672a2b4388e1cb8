package fsaccess

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/airlock-license/airlock/internal/kv"
)

// A store this process may use keeps the store layer's error; so do the
// lock, space and missing-store errors.
func TestExplainKeepsOtherErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("x"), 0o600)
	damaged := fmt.Errorf("%w: open %s: bad", kv.ErrStoreDamaged, dir)
	for _, err := range []error{damaged, kv.ErrLocked, kv.ErrDiskFull, kv.ErrNoStore} {
		for _, write := range []bool{false, true} {
			if got := Explain(dir, write, err); got != err {
				t.Errorf("Explain(%v, write %v) = %v", err, write, got)
			}
		}
	}
	if Explain(dir, true, nil) != nil {
		t.Error("no error became one")
	}
}

// Without write permission on its own store, the owner is told to give it
// back (root is not refused by modes, so this runs as another user only).
func TestExplainOwnStoreNotWritable(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("modes do not refuse root (TestMessagesThatMislead runs the real tool as another user)")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("x"), 0o600)
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	err := Explain(dir, true, errors.New("badger: cannot write LOCK"))
	var a *Error
	if !errors.As(err, &a) || !errors.Is(err, ErrAccess) || !a.Write || a.ReadOnly {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "chmod -R u+rwX") {
		t.Errorf("no next step: %v", err)
	}
}

// Every message says what to do, in one line, and never "damaged".
func TestErrorMessages(t *testing.T) {
	for _, e := range []*Error{
		{Dir: "/s", Path: "/s", ReadOnly: true, Write: true},
		{Dir: "/s", Path: "/s", User: "nobody", Owner: "root"},
		{Dir: "/s", Path: "/s/LOCK", Write: true, User: "nobody", Owner: "ada"},
		{Dir: "/s/store", Path: "/s", Write: true, User: "ada", Owner: "ada"},
		{Dir: "/s", Path: "/s", Write: true},
	} {
		msg := e.Error()
		if strings.Contains(msg, "damaged") || strings.Contains(msg, "\n") || !strings.Contains(msg, "; ") {
			t.Errorf("%+v: %q", e, msg)
		}
		if !e.ReadOnly && !strings.Contains(msg, "permission denied") {
			t.Errorf("%+v: %q", e, msg)
		}
	}
}
