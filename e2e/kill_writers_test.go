//go:build linux

package e2e

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKillEveryWriter (issue 12, part 4) kills every command that writes,
// on the host and at the desk, at random moments of its run (calibrated by
// one uninterrupted run), and then checks that nothing already stored was
// lost and that the next command works: the store or ledger opens, what the
// command wrote is either whole or absent, and running it again (or the
// step after it) succeeds.
func TestKillEveryWriter(t *testing.T) {
	n := rounds(6, 40)
	rng := faultRand(t)
	w := newWorld(t)
	w.initDesk()
	key := w.newKey(100000, "dataflow,workflow")
	w.activate(key, "base")

	type killCase struct {
		name    string
		prepare func(i int) []string                    // the command to kill
		check   func(i int, killed bool, args []string) // after it ended or was killed
	}
	keysListed := func(when string) int {
		p := w.run("issuer", "keys", "list")
		if p.code != 0 {
			t.Fatalf("%s: issuer keys list: %s", when, p)
		}
		return strings.Count(p.stdout.String(), "\n")
	}
	cases := []killCase{{
		name: "activator request",
		prepare: func(i int) []string {
			return []string{"activator", "request", "--name", "Ada Admin", "--org", "Example Bank", "--product-key", key, "-o", fmt.Sprintf("kreq%03d.req", i)}
		},
		check: func(i int, killed bool, args []string) {
			when := fmt.Sprintf("request %d (killed %v)", i, killed)
			w.activeLicence(when)
			if f := filepath.Join(w.root, args[len(args)-1]); exists(f) {
				// Whole, or not there: the desk reads it.
				w.mustWhen(when+": the request written", "issuer", "inspect", f)
			} else if !killed {
				t.Fatalf("%s: ended without writing %s", when, f)
			}
			w.request(key, fmt.Sprintf("kreq%03d-again.req", i))
		},
	}, {
		name: "activator deactivate",
		prepare: func(i int) []string {
			w.activate(key, fmt.Sprintf("kdeact%03d", i))
			return []string{"activator", "deactivate", "-o", fmt.Sprintf("kdeact%03d.deact", i)}
		},
		check: func(i int, killed bool, args []string) {
			when := fmt.Sprintf("deactivate %d (killed %v)", i, killed)
			id := licenceID(t, filepath.Join(w.root, fmt.Sprintf("kdeact%03d.lic", i)))
			st, _ := w.status(when)
			receipt := fmt.Sprintf("kdeact%03d-receipt.deact", i)
			if len(st.active()) == 1 && st.active()[0] == id {
				if !killed {
					t.Fatalf("%s: reported success, but licence %s is still active", when, id)
				}
				w.mustWhen(when+": deactivate again", "activator", "deactivate", "-o", receipt)
			} else {
				// Deactivated: the store keeps the receipt, and the desk takes it.
				w.mustWhen(when+": the receipt again", "activator", "receipt", id, "-o", receipt)
			}
			// --force: the rounds move one key more often than its transfers allow.
			w.mustWhen(when+": the desk frees the activation", "issuer", "deactivate", "--force", receipt)
		},
	}, {
		name: "activator import (revocation list)",
		prepare: func(i int) []string {
			// A reinstall on this machine: the desk revokes the licence it
			// replaces, so each round's list is new.
			w.activate(key, fmt.Sprintf("krev%03d", i))
			file := fmt.Sprintf("krev%03d.rev", i)
			w.must("issuer", "revocations", "-o", file)
			return []string{"activator", "import", file}
		},
		check: func(i int, killed bool, args []string) {
			when := fmt.Sprintf("revocation list %d (killed %v)", i, killed)
			w.activeLicence(when)
			w.mustWhen(when+": import again", args[0], args[1:]...)
		},
	}, {
		name: "activator receipt (of a replaced licence)",
		prepare: func(i int) []string {
			old := w.activeLicence(fmt.Sprintf("receipt %d", i))
			w.activate(key, fmt.Sprintf("krcpt%03d", i)) // replaces old
			return []string{"activator", "receipt", old, "-o", fmt.Sprintf("krcpt%03d.deact", i)}
		},
		check: func(i int, killed bool, args []string) {
			when := fmt.Sprintf("receipt %d (killed %v)", i, killed)
			w.activeLicence(when)
			again := fmt.Sprintf("krcpt%03d-again.deact", i)
			w.mustWhen(when+": the receipt again", "activator", "receipt", args[2], "-o", again)
			p := w.run("issuer", "deactivate", "--force", again)
			if p.code != 0 && !strings.Contains(p.stderr.String(), "already") {
				t.Fatalf("%s: the desk takes the receipt: %s", when, p)
			}
		},
	}, {
		name: "issuer revocations",
		prepare: func(i int) []string {
			return []string{"issuer", "revocations", "-o", fmt.Sprintf("kexp%03d.rev", i)}
		},
		check: func(i int, killed bool, args []string) {
			when := fmt.Sprintf("revocations %d (killed %v)", i, killed)
			out := fmt.Sprintf("kexp%03d-again.rev", i)
			w.mustWhen(when+": export again", "issuer", "revocations", "-o", out)
			w.mustWhen(when+": the host imports it", "activator", "import", out)
		},
	}, {
		name: "issuer keys create",
		prepare: func(i int) []string {
			return []string{"issuer", "keys", "create", "--product", "astera", "--version", "9", "--features", "dataflow",
				"--clients", "1", "--count", "5"}
		},
		check: func(i int, killed bool, args []string) {
			when := fmt.Sprintf("keys create %d (killed %v)", i, killed)
			before := keysListed(when)
			w.mustWhen(when+": create again", args[0], args[1:]...)
			if after := keysListed(when); after != before+5 {
				t.Fatalf("%s: keys list shows %d lines after creating 5 more, %d before", when, after, before)
			}
		},
	}, {
		name: "issuer deactivate",
		prepare: func(i int) []string {
			w.activate(key, fmt.Sprintf("kideact%03d", i))
			file := fmt.Sprintf("kideact%03d.deact", i)
			w.must("activator", "deactivate", "-o", file)
			return []string{"issuer", "deactivate", "--force", file}
		},
		check: func(i int, killed bool, args []string) {
			when := fmt.Sprintf("issuer deactivate %d (killed %v)", i, killed)
			keysListed(when)
			p := w.run(args[0], args[1:]...)
			if p.code != 0 && !strings.Contains(p.stderr.String(), "already") {
				t.Fatalf("%s: deactivate again: %s", when, p)
			}
		},
	}, {
		name: "issuer revoke",
		prepare: func(i int) []string {
			// The licences the deactivate rounds freed (a revocation of
			// this machine's licence in force would end its signing).
			id := licenceID(t, filepath.Join(w.root, fmt.Sprintf("kdeact%03d.lic", i)))
			return []string{"issuer", "revoke", id, "--reason", "refunded"}
		},
		check: func(i int, killed bool, args []string) {
			when := fmt.Sprintf("issuer revoke %d (killed %v)", i, killed)
			p := w.run(args[0], args[1:]...)
			if p.code != 0 && !strings.Contains(p.stderr.String(), "already") {
				t.Fatalf("%s: revoke again: %s", when, p)
			}
			out := fmt.Sprintf("kirev%03d.rev", i)
			w.mustWhen(when+": the list", "issuer", "revocations", "-o", out)
			if b, _ := os.ReadFile(filepath.Join(w.root, out)); !strings.Contains(string(b), "BEGIN PGP") {
				t.Fatalf("%s: the revocation list is not armored", when)
			}
		},
	}}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			parent := w.t
			w.t = t
			defer func() { w.t = parent }()
			args := c.prepare(0)
			cal := w.mustWhen(c.name+", uninterrupted", args[0], args[1:]...)
			c.check(0, false, args)
			window := max(30*time.Millisecond, cal.took*5/4)
			killed := 0
			for i := 1; i <= n; i++ {
				args := c.prepare(i)
				delay := time.Duration(rng.Int64N(int64(window)))
				p := w.killAfter(delay, args[0], args[1:]...)
				if !p.killed() && p.code != 0 {
					t.Fatalf("%s, round %d: ended on its own and failed: %s", c.name, i, p)
				}
				if p.killed() {
					killed++
				}
				c.check(i, p.killed(), args)
			}
			t.Logf("%s: %d runs killed within %v of the start, %d ended first; every next command worked", c.name, killed, window.Round(time.Millisecond), n-killed)
		})
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// mustWhen runs a program and fails the test, saying when, unless it exits 0.
func (w *world) mustWhen(when, prog string, args ...string) *proc {
	w.t.Helper()
	p := w.run(prog, args...)
	if p.code != 0 {
		w.t.Fatalf("%s: %s", when, p)
	}
	return p
}

// requestFile makes a request into file and returns file.
func (w *world) requestFile(key, file string) string {
	w.t.Helper()
	w.request(key, file)
	return file
}

// ext4Disk is a loop-mounted ext4 filesystem (errors=remount-ro) that a
// test can make fail: fail has the kernel record a filesystem error, which
// remounts it read-only at once, as a disk error does; repair unmounts it,
// runs e2fsck and mounts it again, as an admin would.
type ext4Disk struct {
	t          *testing.T
	img, dir   string
	loop, name string
}

func mountExt4(t *testing.T, sizeMiB int) *ext4Disk {
	t.Helper()
	if os.Geteuid() != 0 {
		skipUnlessCI(t, "a loop-mounted ext4 needs root; run the tests as root to check a read-only remount")
	}
	d := &ext4Disk{t: t, img: filepath.Join(t.TempDir(), "disk.img"), dir: filepath.Join(t.TempDir(), "mnt")}
	os.Mkdir(d.dir, 0o700)
	if err := os.WriteFile(d.img, nil, 0o600); err != nil || os.Truncate(d.img, int64(sizeMiB)<<20) != nil {
		t.Fatalf("disk image: %v", err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", d.img).CombinedOutput(); err != nil {
		skipUnlessCI(t, "mkfs.ext4: %v: %s (install e2fsprogs)", err, out)
	}
	out, err := exec.Command("losetup", "-f", "--show", d.img).CombinedOutput()
	if err != nil {
		skipUnlessCI(t, "losetup: %v: %s; a read-only remount is not checked", err, out)
	}
	d.loop = strings.TrimSpace(string(out))
	d.name = filepath.Base(d.loop)
	exec.Command("blockdev", "--setrw", d.loop).Run()
	t.Cleanup(func() {
		exec.Command("umount", d.dir).Run()
		exec.Command("losetup", "-d", d.loop).Run()
	})
	d.mount()
	if _, err := os.Stat(filepath.Join("/sys/fs/ext4", d.name, "trigger_fs_error")); err != nil {
		// A kernel feature, not a package CI could install: skipped even there.
		t.Skipf("this kernel has no /sys/fs/ext4/%s/trigger_fs_error; a read-only remount is not checked", d.name)
	}
	return d
}

func (d *ext4Disk) mount() {
	d.t.Helper()
	if out, err := exec.Command("mount", "-o", "errors=remount-ro", d.loop, d.dir).CombinedOutput(); err != nil {
		d.t.Fatalf("mount %s: %v: %s", d.loop, err, out)
	}
}

func (d *ext4Disk) fail() {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join("/sys/fs/ext4", d.name, "trigger_fs_error"), []byte("airlock test: disk error\n"), 0o200); err != nil {
		d.t.Fatalf("trigger a filesystem error: %v", err)
	}
}

func (d *ext4Disk) repair() {
	d.t.Helper()
	if out, err := exec.Command("umount", d.dir).CombinedOutput(); err != nil {
		d.t.Fatalf("umount %s: %v: %s", d.dir, err, out)
	}
	// e2fsck exits 1 when it fixed something; more is a failure, but 8 (an
	// operational error) is also what it says while the filesystem is
	// still mounted elsewhere: in the mount namespace of another test's
	// simulated machine made meanwhile (unshare -m copies every mount),
	// whose last process (a wineserver, say) may linger for seconds.
	// Tried again for up to 15 s.
	for try := 1; ; try++ {
		out, err := exec.Command("e2fsck", "-fy", d.loop).CombinedOutput()
		var ee *exec.ExitError
		if err == nil || errors.As(err, &ee) && ee.ExitCode() == 1 {
			break
		}
		if errors.As(err, &ee) && ee.ExitCode() == 8 && try < 30 {
			time.Sleep(500 * time.Millisecond)
			continue
		}
		d.t.Fatalf("e2fsck %s: %v: %s", d.loop, err, out)
	}
	d.mount()
}

// TestReadOnlyRemountDuringImport has the kernel remount the store's
// filesystem read-only (a disk error) at random moments of an import: the
// import either completed or says in one line that the filesystem is
// read-only (not that the store is damaged); status still reads the store
// and shows the licence in force before or the new one; and after the
// admin's repair (e2fsck) nothing the import reported stored is lost and
// importing again works.
func TestReadOnlyRemountDuringImport(t *testing.T) {
	n := rounds(5, 30)
	rng := faultRand(t)
	disk := mountExt4(t, 64)
	w := newWorld(t)
	w.host = filepath.Join(disk.dir, "host")
	w.initDesk()
	key := w.newKey(1000, "dataflow,workflow")
	w.activate(key, "ro-base")
	w.request(key, "ro-cal.req")
	w.sign("ro-cal.req", "ro-cal.lic")
	cal := w.must("activator", "import", "ro-cal.lic")
	active := w.activeLicence("after the calibration import")
	window := max(40*time.Millisecond, cal.took*5/4)
	var failed int
	for i := range n {
		req, lic := fmt.Sprintf("ro%03d.req", i), fmt.Sprintf("ro%03d.lic", i)
		w.request(key, req)
		next := w.sign(req, lic)
		delay := time.Duration(rng.Int64N(int64(window)))
		p := w.command(childTimeout, "activator", "import", lic)
		w.startProc(p)
		time.Sleep(delay)
		disk.fail()
		w.wait(p)
		when := fmt.Sprintf("round %d (disk error after %v; %s active before, %s new)", i, delay, active, next)
		if p.code != 0 {
			failed++
			msg := strings.TrimSpace(p.stderr.String())
			if strings.Contains(msg, "\n") || strings.Contains(strings.ToLower(msg), "damaged") || !strings.Contains(msg, "read-only") {
				t.Fatalf("%s: the failed import must say in one line that the filesystem is read-only, not call the store damaged: %s", when, p)
			}
		}
		got := w.activeLicence(when + ", read-only")
		if got != active && got != next || p.code == 0 && got != next {
			t.Fatalf("%s: import exit %d, the active licence is %s", when, p.code, got)
		}
		disk.repair()
		got = w.activeLicence(when + ", after e2fsck")
		if p.code == 0 && got != next {
			t.Fatalf("%s: the import reported success, but after the repair %s is active", when, got)
		}
		if got != next {
			if r := w.run("activator", "import", lic); r.code != 0 {
				t.Fatalf("%s: after the repair, the import fails: %s", when, r)
			}
		}
		if got := w.activeLicence(when + ", imported again"); got != next {
			t.Fatalf("%s: after the repair the active licence is %s, not %s", when, got, next)
		}
		active = next
	}
	t.Logf("%d imports hit by a disk error: %d failed and were imported again after e2fsck", n, failed)
}

// TestStoreOfAnotherUser runs the commands as a user who may not read the
// store (a monitoring account, or the admin without sudo): each says in
// one line that permission is denied and whom to run as, never that the
// store is damaged, and no file changes (issue 12: such errors sent admins
// to support).
func TestStoreOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		skipUnlessCI(t, "running a command as another user needs root")
	}
	w := newWorld(t)
	w.initDesk()
	key := w.newKey(10, "dataflow,workflow")
	w.activate(key, "perm")
	w.request(key, "perm2.req")
	w.sign("perm2.req", "perm2.lic")
	// The user may reach the binaries, the working directory and the
	// licence file, not the store (mode 0700, root's).
	// Only the test's own directories, up to (never including) the system's
	// temporary directory, whose mode (1777) must stay.
	for _, d := range []string{binDir, w.root, filepath.Dir(w.root)} {
		if filepath.Clean(d) == filepath.Clean(os.TempDir()) || filepath.Dir(d) == d {
			continue
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(w.root, "perm2.lic"), 0o644)
	os.Chmod(w.vendorKey, 0o644)
	before := digestDir(t, w.host)
	for _, args := range [][]string{
		{"status"}, {"check", "workflow"}, {"import", "perm2.lic"}, {"backup", "-o", "-"},
		{"request", "--name", "A", "--org", "B", "--product-key", key, "--unprivileged", "-o", "-"},
	} {
		p := w.command(childTimeout, "activator", args...)
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		w.startProc(p)
		w.wait(p)
		msg := strings.TrimSpace(p.stderr.String())
		if p.code != 1 || strings.Contains(msg, "\n") || strings.Contains(msg, "damaged") || !strings.Contains(msg, "permission denied") || !strings.Contains(msg, "owner") {
			t.Errorf("as another user: want exit 1 and one line saying permission is denied and whom to run as: %s", p)
		}
	}
	if !maps.Equal(before, digestDir(t, w.host)) {
		t.Fatal("commands of another user changed the store's files")
	}
}

// digestDir maps each file of dir to its mode and content's SHA-256.
func digestDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := e.Info()
		out[e.Name()] = fmt.Sprintf("%v %x", fi.Mode(), sha256.Sum256(b))
	}
	return out
}
