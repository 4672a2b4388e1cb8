// Package e2e drives the real activator and issuer binaries together, as
// the host admin and the licence desk would, in testscript files under
// testdata. The binaries are built once per run from this checkout.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airlock-license/airlock/internal/testutil"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "airlock-e2e")
	if err != nil {
		panic(err)
	}
	for _, tool := range []string{"activator", "issuer"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, tool), "../cmd/"+tool).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", tool, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	os.Chmod(dir, 0o755)
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestScripts(t *testing.T) {
	canSimulate := testutil.CanSimulateMachine()
	gpg, gpgErr := exec.LookPath("gpg")
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
			e.Setenv("ACTIVATOR_PRODUCT", "astera")
			e.Setenv("ACTIVATOR_PRODUCT_VERSION", "9.1.0")
			e.Setenv("ACTIVATOR_DIR", e.WorkDir+"/host")
			e.Setenv("ISSUER_DIR", e.WorkDir+"/desk")
			e.Setenv("ISSUER_PASSPHRASE_FILE", e.WorkDir+"/passphrase")
			if err := os.WriteFile(filepath.Join(e.WorkDir, "passphrase"), []byte("correct horse battery staple\n"), 0o600); err != nil {
				return err
			}
			if gpgErr == nil {
				// A short GNUPGHOME: gpg-agent's socket path is limited.
				home, err := os.MkdirTemp("", "gpg")
				if err != nil {
					return err
				}
				os.Chmod(home, 0o700)
				e.Setenv("GNUPGHOME", home)
				e.Defer(func() {
					exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
					os.RemoveAll(home)
				})
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "machines":
				// A second machine needs root and namespaces; CI must have them.
				if !canSimulate && os.Getenv("CI") == "true" {
					return false, fmt.Errorf("cannot simulate a second machine (unshare -m -n as root), required in CI")
				}
				return canSimulate, nil
			case "gpg":
				if gpgErr != nil && os.Getenv("CI") == "true" {
					return false, fmt.Errorf("gpg is required in CI: %v", gpgErr)
				}
				return gpgErr == nil && gpg != "", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"activator": tool("activator"),
			"issuer":    tool("issuer"),
			// othermachine ID PROG ARGS...: run PROG on a simulated second
			// machine whose machine-id is ID (see testutil.OtherMachine).
			"othermachine": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: othermachine ID prog [args...]")
				}
				idFile := ts.MkAbs("machine-id-" + args[0])
				if err := os.WriteFile(idFile, []byte(fmt.Sprintf("%032x\n", args[0])), 0o444); err != nil {
					ts.Fatalf("%v", err)
				}
				mount, err := exec.LookPath("mount")
				if err != nil {
					ts.Fatalf("%v", err)
				}
				prog := args[1]
				if prog == "activator" || prog == "issuer" {
					prog = filepath.Join(binDir, prog)
				}
				full := append([]string{"-m", "-n", "sh", "-c", testutil.OtherMachineScript, "sh", mount, idFile, prog}, args[2:]...)
				err = ts.Exec("unshare", full...)
				if neg && err == nil {
					ts.Fatalf("unexpected success on the other machine")
				}
				if !neg && err != nil {
					ts.Fatalf("on the other machine: %v", err)
				}
			},
			// exitcode N PROG ARGS...: run PROG and require exit status N.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				var want int
				fmt.Sscan(args[0], &want)
				err := ts.Exec(args[1], args[2:]...)
				got := 0
				if ee, ok := err.(*exec.ExitError); ok {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
		},
	})
}

// tool runs one of the built binaries as a script command.
func tool(name string) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		err := ts.Exec(filepath.Join(binDir, name), args...)
		if neg && err == nil {
			ts.Fatalf("unexpected success")
		}
		if !neg && err != nil {
			ts.Fatalf("%s: %v", name, err)
		}
	}
}
