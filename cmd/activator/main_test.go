package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

// The scripts in testdata/script drive the real activator command. The
// vendor's side is played by the small `vendor` command below, which signs
// with package format and the fixture vendor key of format's test vectors
// (TEST ONLY), so that these tests need nothing of the issuer; e2e/ drives
// the two real tools together.

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"activator": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
		"vendor":    func() { os.Exit(vendorMain(os.Args[1:])) },
		"holdstore": func() { os.Exit(holdStore(os.Args[1:])) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exitcode N prog args...: run prog and require exit status N.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: exitcode N command [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
		},
	})
}

// vendorMain is a minimal licence desk for the scripts:
//
//	vendor key -o FILE                       export the vendor public key
//	vendor respond REQUEST -o FILE [flags]   answer a request
//	vendor revoke SERIAL -o FILE [LICENSE...] sign a revocation list
func vendorMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "vendor: key | respond | revoke")
		return 2
	}
	fs := flag.NewFlagSet("vendor "+args[0], flag.ContinueOnError)
	out := fs.String("o", "", "output file")
	features := fs.String("features", "dataflow,workflow", "features")
	clients := fs.Int("clients", 2, "clients")
	versions := fs.String("versions", "9", "major versions")
	notAfter := fs.String("not-after", "", "RFC 3339 end of validity")
	qr := fs.Bool("qr", false, "write QR text instead of armor")
	cmd := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	key, err := testutil.LoadFixtureKey("vendor")
	if err == nil {
		err = vendorDo(key, cmd, fs.Args(), *out, *features, *clients, *versions, *notAfter)
	}
	if err == nil && *qr {
		err = toQRText(*out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vendor:", err)
		return 1
	}
	return 0
}

// toQRText rewrites an armored artifact file as its AL1: QR text.
func toQRText(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	bin, _, err := format.Decode(b)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(format.EncodeQRText(bin)+"\n"), 0o644)
}

func vendorDo(key *format.PrivateKey, cmd string, args []string, out, features string, clients int, versions, notAfter string) error {
	now := time.Now()
	var data []byte
	switch cmd {
	case "key":
		data = key.Public().Armor()
	case "respond":
		in, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		var vs []int
		for _, v := range strings.Split(versions, ",") {
			n, _ := strconv.Atoi(v)
			vs = append(vs, n)
		}
		var end *format.Time
		if notAfter != "" {
			t, err := time.Parse(time.RFC3339, notAfter)
			if err != nil {
				return err
			}
			na := format.NewTime(t)
			end = &na
		}
		var id format.ID
		msg, err := testutil.Respond(key, in, now, func(r *format.Response) {
			r.Versions, r.Features, r.Limits.Clients, r.NotAfter = vs, strings.Split(features, ","), clients, end
			id = r.LicenseID
		})
		if err != nil {
			return err
		}
		data = format.Armor(msg, format.KindResponse)
		fmt.Println(id)
	case "licenseid":
		b, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		a, err := format.DecodeUnverified(b)
		if err != nil {
			return err
		}
		data = []byte(a.Payload.(*format.Response).LicenseID)
	case "revoke":
		serial, _ := strconv.ParseUint(args[0], 10, 64)
		rv := []format.ID{}
		for _, id := range args[1:] {
			// A response file stands for its licence id.
			if b, err := os.ReadFile(id); err == nil {
				a, err := format.DecodeUnverified(b)
				if err != nil {
					return err
				}
				id = string(a.Payload.(*format.Response).LicenseID)
			}
			rv = append(rv, format.ID(id))
		}
		slices.Sort(rv)
		msg, err := format.Sign(key, &format.Revocations{Serial: serial, Issued: format.NewTime(now), Revoked: rv}, now)
		if err != nil {
			return err
		}
		data = format.Armor(msg, format.KindRevocations)
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return os.WriteFile(out, data, 0o644)
}
