package main

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-license/airlock/internal/testutil"
)

// TestCopiesAndClones is SECURITY.md's table of which copies and clones of
// a host a licence survives, each case on machines simulated with
// namespaces (testutil.Machine): the real activator, a fresh sysfs without
// the host's NIC, a machine-id of the case's choosing and, where the case
// says so, a root filesystem of its own (another disk, or none: a
// container). The licences are issued with the desk's threshold rule
// (format.IssueThreshold), as issuer sign issues them.
func TestCopiesAndClones(t *testing.T) {
	e := newCLIEnv(t)
	hostID := testutil.HostMachineID(t)
	newID := func() string { b := make([]byte, 16); rand.Read(b); return hex.EncodeToString(b) }
	on := func(m testutil.Machine, args ...string) (string, string, int) {
		m.Dirs = append(m.Dirs, e.dir)
		out, errb, code := m.Run(t, append([]string{e.bin}, args...), e.baseEnv)
		return string(out), string(errb), code
	}
	request := func(m *testutil.Machine, store, name string) {
		t.Helper()
		args := []string{"--dir", store, "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", "C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH", "-o", filepath.Join(e.dir, name+".req")}
		if m == nil {
			e.must(args...)
		} else if out, errb, code := on(*m, args...); code != 0 {
			t.Fatalf("request on the simulated machine: exit %d %s %s", code, out, errb)
		}
		e.respond(name+".req", name+".lic")
	}
	importOn := func(m *testutil.Machine, store, name string) {
		t.Helper()
		args := []string{"--dir", store, "import", filepath.Join(e.dir, name+".lic")}
		if m == nil {
			e.must(args...)
		} else if out, errb, code := on(*m, args...); code != 0 {
			t.Fatalf("import on the simulated machine: exit %d %s %s", code, out, errb)
		}
	}
	status := func(m testutil.Machine, store string) (string, int) {
		out, _, code := on(m, "--dir", store, "status")
		return out, code
	}

	// This machine's licence.
	here := filepath.Join(e.dir, "here")
	request(nil, here, "here")
	importOn(nil, here, "here")
	e.must("--dir", here, "status")

	t.Run("store and machine-id copied to another machine", func(t *testing.T) {
		other := testutil.Machine{MachineID: hostID, Root: testutil.NewDisk(t)}
		copyTree(t, here, filepath.Join(e.dir, "copy1"))
		if out, code := status(other, filepath.Join(e.dir, "copy1")); code != 3 || !strings.Contains(out, "another machine") {
			t.Fatalf("detected: want exit 3, \"another machine\"; exit %d\n%s", code, out)
		}
	})
	t.Run("disk clone with a new MAC and the same machine-id", func(t *testing.T) {
		// As this machine with its NIC replaced: on a machine without SMBIOS
		// identifiers the MAC is the one that stays with the machine, so the
		// licence needs it (and a replaced NIC needs a new licence).
		clone := testutil.Machine{MachineID: hostID}
		copyTree(t, here, filepath.Join(e.dir, "copy2"))
		if out, code := status(clone, filepath.Join(e.dir, "copy2")); code != 3 || !strings.Contains(out, "another machine") {
			t.Fatalf("detected: want exit 3; exit %d\n%s", code, out)
		}
	})
	t.Run("disk clone with a new MAC and machine-id", func(t *testing.T) {
		copyTree(t, here, filepath.Join(e.dir, "copy3"))
		if out, code := status(testutil.Machine{MachineID: newID()}, filepath.Join(e.dir, "copy3")); code != 3 {
			t.Fatalf("detected: want exit 3; exit %d\n%s", code, out)
		}
	})
	t.Run("copy on this machine", func(t *testing.T) {
		// Residual: the same machine (or a clone of every identifier) is the
		// same machine; the store's copy is active here too.
		copyTree(t, here, filepath.Join(e.dir, "copy4"))
		e.must("--dir", filepath.Join(e.dir, "copy4"), "status")
	})

	t.Run("container copied with its files", func(t *testing.T) {
		// Residual, the reason such a binding is weak: a container (no disk,
		// no NIC) has only its machine-id; the desk signs it only when told
		// to (issuer sign --allow-weak-binding, or a key sold for it), and a
		// copy of its files is then active in another container.
		box := testutil.Machine{MachineID: newID(), Root: "tmpfs"}
		store := filepath.Join(e.dir, "box")
		request(&box, store, "box")
		importOn(&box, store, "box")
		copyTree(t, store, filepath.Join(e.dir, "box-copy"))
		other := testutil.Machine{MachineID: box.MachineID, Root: "tmpfs"}
		if out, code := status(other, filepath.Join(e.dir, "box-copy")); code != 0 {
			t.Fatalf("a copy of a weakly bound container's files: want active (the documented residual); exit %d\n%s", code, out)
		}
	})
	t.Run("container with an operator id", func(t *testing.T) {
		box := testutil.Machine{MachineID: newID(), Root: "tmpfs", OperatorID: newID()}
		store := filepath.Join(e.dir, "opbox")
		request(&box, store, "opbox")
		importOn(&box, store, "opbox")
		copyTree(t, store, filepath.Join(e.dir, "opbox-copy"))
		// Another deployment (its own operator id), with the files copied.
		other := testutil.Machine{MachineID: box.MachineID, Root: "tmpfs", OperatorID: newID()}
		if out, code := status(other, filepath.Join(e.dir, "opbox-copy")); code != 3 || !strings.Contains(out, "another machine") {
			t.Fatalf("detected: another deployment's operator id; exit %d\n%s", code, out)
		}
		// Residual: whoever copies the operator id too carries the licence.
		if out, code := status(box, filepath.Join(e.dir, "opbox-copy")); code != 0 {
			t.Fatalf("the same operator id: want active (the documented residual); exit %d\n%s", code, out)
		}
	})
}
