// Command issuer is the vendor licence desk's tool, run on an offline
// signing machine: it creates the vendor key, sells product keys, signs
// activation requests into licences, takes back deactivation receipts,
// revokes licences and exports the ledger. It is a thin front end over
// package issuer.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
	"github.com/airlock-license/airlock/internal/kv"
	"github.com/airlock-license/airlock/issuer"
)

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cliutil.Run(newApp(), args, stdin, stdout, stderr)
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "issuer",
		Usage: "the licence desk: sell product keys, sign activation requests, keep the ledger",
		Description: `The vendor's side of airlock, on an offline signing machine:

   issuer init --name "Example Vendor Licensing" --email licensing@example.com
   issuer export-key -o vendor.asc                  # embed this in the product
   issuer keys create --product astera --version 9 --features dataflow,workflow --clients 2
   issuer sign request.req -o response.lic          # the customer's request, from USB or QR
   issuer deactivate receipt.deact                  # frees the activation
   issuer ledger --csv -o ledger.csv

The vendor key's passphrase comes from --passphrase-file, ISSUER_PASSPHRASE_FILE,
or a prompt; never from a flag value.
Exit codes: 0 success; 1 refused or failed; 2 bad usage.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "desk `DIR`: the ledger and the encrypted vendor key", EnvVars: []string{"ISSUER_DIR"}, Value: defaultDir},
			&cli.StringFlag{Name: "passphrase-file", Usage: "read the vendor key's passphrase from `FILE` (first line)", EnvVars: []string{"ISSUER_PASSPHRASE_FILE"}},
			&cli.StringFlag{Name: "gpg", Usage: "the gpg `PROGRAM` for a key held by GnuPG", EnvVars: []string{"ISSUER_GPG"}, Value: "gpg"},
			&cli.DurationFlag{Name: "lock-wait", Usage: "how long to wait for another process using the desk", EnvVars: []string{"ISSUER_LOCK_WAIT"}, Value: kv.DefaultLockWait},
		},
		Commands: cliutil.Commands(
			initCommand(), exportKeyCommand(), keysCommand(), inspectCommand(), signCommand(),
			deactivateCommand(), revokeCommand(), revocationsCommand(), ledgerCommand(),
		),
	}
}

func open(c *cli.Context, command string, create bool) (*issuer.Desk, error) {
	return issuer.OpenDesk(deskConfig(c, command), create)
}

// openRead opens the desk for a command that only reads it: nothing is
// written, so listings and exports work on a full disk.
func openRead(c *cli.Context, command string) (*issuer.Desk, error) {
	return issuer.OpenDeskReadOnly(deskConfig(c, command))
}

func deskConfig(c *cli.Context, command string) issuer.Config {
	return issuer.Config{
		// No Logger: the desk's only diagnostics are Badger's own log
		// lines, which would print around the command's one-line error
		// (that error already carries what Badger reported).
		Dir: c.String("dir"), LockWait: c.Duration("lock-wait"), Command: "issuer " + command, GPG: c.String("gpg"),
	}
}

// unlock opens the desk and unlocks its vendor key, asking for the
// passphrase once.
func unlock(c *cli.Context, command string) (*issuer.Desk, error) {
	d, err := open(c, command, false)
	if err != nil {
		return nil, err
	}
	need, err := d.NeedsPassphrase()
	if err != nil {
		d.Close()
		return nil, err
	}
	var pass []byte
	if need {
		if pass, err = cliutil.Passphrase(c.String("passphrase-file"), "vendor key passphrase: ", false); err != nil {
			d.Close()
			return nil, err
		}
	}
	if err := d.Unlock(pass); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create the vendor signing key (or adopt one held by GnuPG)",
		Description: `Creates an OpenPGP Ed25519 key, its secret part encrypted with a passphrase
(from --passphrase-file, ISSUER_PASSPHRASE_FILE, or asked twice), or, with
--gpg-key, uses a key that stays in GnuPG (a smartcard or token behind
gpg-agent works the same; GNUPGHOME is honoured). --rotate replaces the key of
an existing desk and keeps its ledger (the current key must be unlocked; its
secret file is kept beside as vendor-FINGERPRINT.sec.asc, to delete once no
longer wanted); export the keys with export-key --all.

Examples:
   issuer init --name "Example Vendor Licensing" --email licensing@example.com
   issuer init --gpg-key 0123456789ABCDEF0123456789ABCDEF01234567`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "the key's `NAME` (your company's licensing)"},
			&cli.StringFlag{Name: "email", Usage: "the key's `EMAIL`"},
			&cli.StringFlag{Name: "gpg-key", Usage: "use the GnuPG key with this full `FINGERPRINT`"},
			&cli.BoolFlag{Name: "rotate", Usage: "replace the current vendor key (the ledger is kept); --passphrase-file is then the current key's"},
			&cli.StringFlag{Name: "new-passphrase-file", Usage: "with --rotate: the new key's passphrase `FILE` (asked if absent)"},
		},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			opts := issuer.InitOptions{Name: c.String("name"), Email: c.String("email"), GPGKey: c.String("gpg-key"), Rotate: c.Bool("rotate")}
			if opts.GPGKey == "" && opts.Name == "" {
				return cliutil.Usagef("give --name and --email for a new key, or --gpg-key; see issuer init --help")
			}
			dir := c.String("dir")
			_, statErr := os.Stat(dir)
			fresh := os.IsNotExist(statErr)
			d, err := open(c, "init", true)
			if err != nil {
				return err
			}
			defer d.Close()
			if opts.Rotate {
				need, err := d.NeedsPassphrase()
				if err != nil {
					return err
				}
				if need {
					if opts.CurrentPassphrase, err = cliutil.Passphrase(c.String("passphrase-file"), "current vendor key passphrase: ", false); err != nil {
						return err
					}
				}
			}
			if opts.GPGKey == "" {
				file := c.String("passphrase-file")
				if opts.Rotate {
					file = c.String("new-passphrase-file")
				}
				if opts.Passphrase, err = cliutil.Passphrase(file, "new vendor key passphrase: ", true); err != nil {
					return err
				}
			}
			pub, err := d.Init(opts)
			if err != nil {
				if fresh {
					// Leave no empty desk behind a failed first init.
					d.Close()
					os.RemoveAll(dir)
				}
				return fmt.Errorf("init: %w", err)
			}
			os.Chmod(dir, 0o700) // the ledger and the secret key are the desk's alone
			fmt.Fprintf(c.App.Writer, "vendor key %s (%s)\n", pub.Fingerprint(), pub.UserID())
			fmt.Fprintf(c.App.Writer, "next: issuer export-key -o vendor.asc, and embed vendor.asc in the product\n")
			return nil
		},
	}
}

func exportKeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "export-key",
		Usage: "write the vendor public key that products embed",
		Description: `Writes the armored public key (armored blocks, one per key with --all: every key
this desk has signed with, for products that must accept licences across a key
rotation).

Example: issuer export-key -o vendor.asc`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (- for stdout)", Value: "-"},
			&cli.BoolFlag{Name: "all", Usage: "every vendor key this desk has used"},
		},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			d, err := openRead(c, "export-key")
			if err != nil {
				return err
			}
			defer d.Close()
			keys, err := d.VendorKeys(c.Bool("all"))
			if err != nil {
				return err
			}
			var b []byte
			for _, k := range keys {
				b = append(b, k.Armor()...)
			}
			out, err := cliutil.CreateOutput(c, c.String("output"), "")
			if err != nil {
				return err
			}
			return out.Finish(b, "")
		},
	}
}

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "sell product keys and list them",
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return cliutil.Usagef("unknown command \"keys %s\"; use keys create or keys list", c.Args().First())
			}
			return cliutil.Usagef("keys needs a command: create, list or revoke; see issuer keys --help")
		},
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create product keys for a sale; prints them, one a line",
				Description: `Each key carries, in the ledger, what it entitles to: the product and its major
version, the features, the number of clients, and how many hosts it may
activate at once. A request whose machine binding is weak (fewer than 3
identifiers, or none that stays with the machine when its disk or files are
copied) is refused when signed, unless the key was sold with
--allow-weak-binding (for containers, whose identity is what their operator
provisions: see activator fingerprint --help).

Example: issuer keys create --product astera --version 9 --features dataflow,workflow --clients 2 --count 3`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "product", Usage: "product `ID`"},
					&cli.IntFlag{Name: "version", Usage: "the `MAJOR` version it activates", Value: -1},
					&cli.StringFlag{Name: "features", Usage: "comma-separated `FEATURES`"},
					&cli.IntFlag{Name: "clients", Usage: "`N` clients may connect at once"},
					&cli.IntFlag{Name: "activations", Usage: "`N` hosts may hold it at once", Value: 1},
					&cli.StringFlag{Name: "expires", Usage: "licences end on `DATE` (2027-12-31 or RFC 3339)"},
					&cli.IntFlag{Name: "count", Usage: "create `N` keys with this entitlement", Value: 1},
					&cli.BoolFlag{Name: "allow-weak-binding", Usage: "sell the keys for hosts that cannot be bound firmly (containers): their weak requests are signed"},
					&cli.IntFlag{Name: "transfers", Usage: "`N` moves per 30 days: reinstalls from a new store (a lost store) or with changed identifiers, and deactivations (a move to another machine); 0 for none", Value: issuer.DefaultTransfers},
				},
				Action: func(c *cli.Context) error {
					if err := cliutil.NoArgs(c); err != nil {
						return err
					}
					if c.String("product") == "" || c.Int("version") < 0 || !c.IsSet("clients") {
						return cliutil.Usagef("--product, --version and --clients are required; see issuer keys create --help")
					}
					switch {
					case !format.ValidProduct(c.String("product")):
						return cliutil.Usagef("--product %q: use 1-64 of a-z, 0-9, '.', '_', '-'", c.String("product"))
					case c.Int("clients") < 1 || c.Int("clients") > format.MaxClients:
						return cliutil.Usagef("--clients must be 1 to %d", format.MaxClients)
					case c.Int("activations") < 1:
						return cliutil.Usagef("--activations must be 1 or more")
					case c.Int("count") < 1 || c.Int("count") > issuer.MaxKeysPerCall:
						return cliutil.Usagef("--count must be 1 to %d", issuer.MaxKeysPerCall)
					}
					o := issuer.KeyOptions{Product: c.String("product"), Version: c.Int("version"), Features: issuer.ParseFeatures(c.String("features")),
						Clients: c.Int("clients"), Activations: c.Int("activations"), Count: c.Int("count"), AllowWeakBinding: c.Bool("allow-weak-binding"),
						Transfers: c.Int("transfers")}
					switch n := c.Int("transfers"); {
					case n < 0 || n > issuer.MaxTransfers:
						return cliutil.Usagef("--transfers must be 0 to %d", issuer.MaxTransfers)
					case n == 0:
						o.Transfers = -1 // none
					}
					if e := c.String("expires"); e != "" {
						t, err := parseDate(e)
						if err != nil {
							return cliutil.Usagef("--expires %q: want 2027-12-31 or 2027-12-31T23:59:59Z", e)
						}
						o.Expires = &t
					}
					d, err := open(c, "keys create", false)
					if err != nil {
						return err
					}
					defer d.Close()
					keys, err := d.CreateKeys(o)
					// Keys committed before an error (a disk that filled
					// up between two transactions) are in the ledger:
					// printed, and counted in the error, never hidden.
					for _, k := range keys {
						fmt.Fprintln(c.App.Writer, k.Key)
					}
					if err != nil && len(keys) > 0 {
						return fmt.Errorf("keys create: only %d of %d keys were created (printed above; the ledger has them); create the other %d once this is fixed: %w",
							len(keys), o.Count, o.Count-len(keys), err)
					}
					return err
				},
			},
			{
				Name:      "revoke",
				Usage:     "stop a product key from activating anything more (a refund, a leak)",
				ArgsUsage: "PRODUCT_KEY",
				Description: `Licences already issued with the key stay valid until revoked one by one
(issuer revoke LICENSE_ID).

Example: issuer keys revoke C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH --reason "posted on a forum"`,
				Flags: []cli.Flag{&cli.StringFlag{Name: "reason", Usage: "`REASON`, for the ledger"}},
				Action: func(c *cli.Context) error {
					if c.Args().Len() != 1 {
						return cliutil.Usagef("keys revoke takes one product key; see issuer keys revoke --help")
					}
					d, err := open(c, "keys revoke", false)
					if err != nil {
						return err
					}
					defer d.Close()
					if err := d.RevokeKey(c.Args().First(), c.String("reason")); err != nil {
						return fmt.Errorf("keys revoke: %w", err)
					}
					fmt.Fprintf(c.App.Writer, "product key %s revoked; it activates nothing more\n", c.Args().First())
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "list product keys with their entitlement and activations in use",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					if err := cliutil.NoArgs(c); err != nil {
						return err
					}
					d, err := openRead(c, "keys list")
					if err != nil {
						return err
					}
					defer d.Close()
					keys, err := d.Keys()
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return cliutil.WriteJSON(c.App.Writer, keys)
					}
					for _, k := range keys {
						exp := ""
						if k.Expires != nil {
							exp = ", expires " + k.Expires.Format("2006-01-02")
						}
						if k.Revoked != nil {
							exp += ", REVOKED " + k.Revoked.Format("2006-01-02")
						}
						if k.AllowWeakBinding {
							exp += ", weak binding allowed"
						}
						fmt.Fprintf(c.App.Writer, "%s  %s %d  [%s]  %d clients  %d/%d activations  %d/%d transfers in 30 days%s\n",
							k.Key, k.Product, k.Version, strings.Join(k.Features, ","), k.Clients, k.Used, k.Activations, k.RecentTransfers, k.TransferLimit(), exp)
					}
					return nil
				},
			},
		},
	}
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Second), nil // the whole day
	}
	return time.Parse(time.RFC3339, s)
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show any artifact, whether its signature holds, and a request's history",
		ArgsUsage: "FILE|-",
		Description: `Shows the content of a request, response, deactivation receipt or revocation
list (armored, binary or QR text) and checks its signature with the key it
should carry. For a request from a host that activated before, it shows which
machine identifiers changed since: the view for "is this a reinstall?" disputes.

Example: issuer inspect request.req`,
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("inspect takes one file (or -); see issuer inspect --help")
			}
			data, err := cliutil.ReadInput(c, format.MaxEncodedSize, c.Args().First())
			if err != nil {
				return err
			}
			d, err := openRead(c, "inspect")
			if err != nil {
				return err
			}
			defer d.Close()
			in, err := d.Inspect(data)
			if err != nil {
				return fmt.Errorf("inspect: %w", err)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "kind:      %s\n", in.Kind)
			fmt.Fprintf(w, "signature: %s\n", in.Signature)
			if in.Binding != "" {
				fmt.Fprintf(w, "binding:   %s\n", in.Binding)
			}
			b, _ := json.MarshalIndent(in.Payload, "", "  ")
			fmt.Fprintf(w, "content:\n%s\n", b)
			for _, h := range in.History {
				fmt.Fprintf(w, "history:   %s\n", h)
			}
			if !in.Valid {
				return errors.New("the signature does not hold")
			}
			return nil
		},
	}
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign activation requests into licences",
		ArgsUsage: "FILE... | - | --qr-text TEXT",
		Description: `Verifies each request (signed by the host key it carries), checks its product
key (sold, not expired, the right product and major version) and the
activations left, records the activation, then writes the licence. The same
request signed twice gives the same licence; a host that already holds an
activation of the key (a reinstall) gets a new licence without using another.

One request goes to -o FILE (default: the request's name with .lic; stdout for
-); several go to -o DIR, one NAME.lic each, with the key unlocked once. A bad
request is reported and does not stop the others; the exit code is then 1.

A request whose machine binding is weak (fewer than 3 identifiers, or none that
stays with the machine: a copy of that host's disk or files would carry the
licence elsewhere) is refused, unless --allow-weak-binding or its product key
was sold with --allow-weak-binding; the ledger records the binding of every
activation, and what allowed a weak one.

A reinstall (a request from the machine of a live activation of the key) that
comes from a new store (the host lost its store: a new host key) or reports
other identifiers than the licence it replaces (a replaced part, or a clone)
puts the old licence on the revocation lists and counts as a transfer of the
product key (keys create --transfers, default 3 per 30 days with
deactivations, shown by keys list), past which the request is refused unless
--force. A reinstall from the same store on the same identifiers is free: that
store refuses the old licence by itself.

A licence the desk revoked keeps its activation: neither a new request from
that machine nor its deactivation receipt frees it (issuer deactivate --force
does, recorded in the ledger).

Examples:
   issuer sign request.req -o response.lic
   issuer sign incoming/*.req -o outgoing/
   issuer sign --qr-text 'AL1:...' -o response.lic`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "`FILE` for one request, DIR for several (- for stdout)"},
			&cli.StringFlag{Name: "qr-text", Usage: "the request as the `TEXT` a QR scanner read (AL1:...)"},
			&cli.BoolFlag{Name: "allow-weak-binding", Usage: "sign requests whose machine binding is weak (recorded in the ledger)"},
			&cli.BoolFlag{Name: "force", Usage: "sign a reinstall past its product key's reinstall limit (recorded in the ledger)"},
		},
		Action: func(c *cli.Context) error {
			var names []string
			var reqs [][]byte
			if t := c.String("qr-text"); t != "" {
				if c.Args().Len() > 0 {
					return cliutil.Usagef("give files or --qr-text, not both")
				}
				names, reqs = []string{"qr-text"}, [][]byte{[]byte(t)}
			} else {
				if c.Args().Len() == 0 {
					return cliutil.Usagef("sign needs request files, - for stdin, or --qr-text; see issuer sign --help")
				}
				for _, a := range c.Args().Slice() {
					data, err := cliutil.ReadInput(c, format.MaxEncodedSize, a)
					if err != nil {
						return err
					}
					names, reqs = append(names, a), append(reqs, data)
				}
			}
			if len(reqs) > 1 && (c.Bool("allow-weak-binding") || c.Bool("force")) {
				return cliutil.Usagef("--allow-weak-binding and --force are decisions about one request: sign that request alone")
			}
			outs, err := outputsFor(c, names)
			if err != nil {
				return err
			}
			// Every output is created before anything is signed, so that a
			// bad path fails before an activation is recorded.
			files := make([]*cliutil.Output, len(outs))
			abort := func() {
				for _, f := range files {
					f.Abort()
				}
			}
			for i, o := range outs {
				if files[i], err = cliutil.CreateOutput(c, o, ""); err != nil {
					abort()
					return err
				}
				// Many files: one filesystem sync at the end, not one each
				// (the ledger has them all already).
				files[i].NoSync = len(outs) > 1
			}
			if len(outs) > 1 {
				defer cliutil.SyncFS(c.String("output"))
			}
			d, err := unlock(c, "sign")
			if err != nil {
				abort()
				return err
			}
			defer d.Close()
			res, stopped := d.SignAllWith(names, reqs, issuer.SignOptions{AllowWeakBinding: c.Bool("allow-weak-binding"), Force: c.Bool("force")})
			if stopped != nil && res == nil {
				abort()
				return stopped
			}
			// With stopped set, the batch stopped part way (a full disk):
			// the licences recorded before are written all the same, and
			// the requests after are counted in one line, not one each.
			failed := 0
			for i, r := range res {
				if r.Err != nil && r.Err == stopped {
					files[i].Abort()
					continue
				}
				if r.Err != nil {
					failed++
					files[i].Abort()
					fmt.Fprintf(c.App.ErrWriter, "issuer: %s: %s\n", r.Name, strings.Join(strings.Fields(r.Err.Error()), " "))
					continue
				}
				if err := files[i].Finish(r.Signed.Response, ""); err != nil {
					failed++
					fmt.Fprintf(c.App.ErrWriter, "issuer: %s: licence %s is recorded but could not be written (%v); sign the same request again to get it\n", r.Name, r.Signed.LicenseID, err)
					continue
				}
				note := ""
				switch {
				case r.Signed.Reissued:
					note = " (signed before: the same licence again)"
				case r.Signed.Reinstall:
					note = " (reinstall on the same host: no new activation)"
				}
				msg := c.App.Writer
				if outs[i] == "-" {
					msg = c.App.ErrWriter
				}
				if r.Signed.Unrevoked != "" {
					fmt.Fprintf(c.App.ErrWriter, "issuer: warning: %s: the licence this reinstall replaces, %s, could not be put on the revocation list (nearly full): it stays valid on any copy of the old store\n", r.Name, r.Signed.Unrevoked)
				}
				fmt.Fprintf(msg, "%s: licence %s for %s (%s) -> %s; %d of %d activations used%s\n", r.Name, r.Signed.LicenseID,
					r.Signed.Licensee.Name, r.Signed.Licensee.Organization, outs[i], r.Signed.Used, r.Signed.Allowed, note)
			}
			if stopped != nil {
				notSigned := 0
				for _, r := range res {
					if r.Err == stopped {
						notSigned++
					}
				}
				return fmt.Errorf("the batch stopped after %d of %d requests (their outcomes are above); the other %d were not signed: %w",
					len(res)-notSigned, len(res), notSigned, stopped)
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d requests not signed", failed, len(res))
			}
			return nil
		},
	}
}

func outputsFor(c *cli.Context, names []string) ([]string, error) {
	o := c.String("output")
	outs := make([]string, len(names))
	if len(names) > 1 {
		if o == "" || o == "-" {
			return nil, cliutil.Usagef("several requests need -o DIR")
		}
		if fi, err := os.Stat(o); err != nil || !fi.IsDir() {
			return nil, cliutil.Usagef("-o %s: several requests need an existing directory", o)
		}
		seen := map[string]bool{}
		for i, n := range names {
			outs[i] = filepath.Join(o, strings.TrimSuffix(filepath.Base(n), filepath.Ext(n))+".lic")
			if seen[outs[i]] {
				return nil, cliutil.Usagef("two requests would both be written to %s; rename one", outs[i])
			}
			seen[outs[i]] = true
		}
		return outs, nil
	}
	switch {
	case o != "":
		if fi, err := os.Stat(o); err == nil && fi.IsDir() {
			o = filepath.Join(o, strings.TrimSuffix(filepath.Base(names[0]), filepath.Ext(names[0]))+".lic")
		}
		outs[0] = o
	case names[0] == "-" || names[0] == "qr-text":
		outs[0] = "-"
	default:
		outs[0] = strings.TrimSuffix(names[0], filepath.Ext(names[0])) + ".lic"
	}
	return outs, nil
}

func deactivateCommand() *cli.Command {
	return &cli.Command{
		Name:      "deactivate",
		Usage:     "take back a host's deactivation receipt and free its activation",
		ArgsUsage: "RECEIPT|-",
		Description: `Verifies the receipt against the host key recorded for that licence and frees
the activation, once: the same receipt again frees nothing.

A deactivation counts as a transfer of its product key (keys create
--transfers, default 3 per 30 days, with reinstalls that move a licence); past
that it is refused unless --force, recorded in the ledger. The receipt of a
revoked licence is refused unless --force: revoking keeps the activation in
use, so that the same machine cannot take it again.

Example: issuer deactivate receipt.deact`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "free the activation past the key's transfer limit, or of a revoked licence (recorded in the ledger)"}},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("deactivate takes one receipt file (or -); see issuer deactivate --help")
			}
			data, err := cliutil.ReadInput(c, format.MaxEncodedSize, c.Args().First())
			if err != nil {
				return err
			}
			d, err := open(c, "deactivate", false)
			if err != nil {
				return err
			}
			defer d.Close()
			r, err := d.DeactivateWith(data, c.Bool("force"))
			if err != nil {
				return fmt.Errorf("deactivate: %w", err)
			}
			switch {
			case r.AlreadyFreed:
				fmt.Fprintf(c.App.Writer, "licence %s was already deactivated; nothing changed\n", r.LicenseID)
			case r.SupersededBy != "":
				fmt.Fprintf(c.App.Writer, "licence %s had been replaced by %s (a reinstall); nothing is freed\n", r.LicenseID, r.SupersededBy)
			default:
				fmt.Fprintf(c.App.Writer, "licence %s deactivated; product key %s has an activation free\n", r.LicenseID, r.ProductKey)
			}
			return nil
		},
	}
}

func revokeCommand() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke a licence (it reaches hosts with the next revocation list)",
		ArgsUsage: "LICENSE_ID",
		Description: `Example: issuer revoke 7MWCP5AXEZ2HEBFNQXQQDKH3Z4 --reason "refunded"
Then: issuer revocations -o revocations.lst, and have hosts import it.`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "reason", Usage: "`REASON`, shown to the host"}},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("revoke takes one licence id; see issuer revoke --help")
			}
			id := format.ID(strings.ToUpper(c.Args().First()))
			if !id.Valid() {
				return cliutil.Usagef("%q is not a licence id (26 characters of A-Z and 2-7)", c.Args().First())
			}
			d, err := open(c, "revoke", false)
			if err != nil {
				return err
			}
			defer d.Close()
			if err := d.Revoke(id, c.String("reason")); err != nil {
				return fmt.Errorf("revoke: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "licence %s revoked; write the list with issuer revocations -o FILE\n", id)
			return nil
		},
	}
}

func revocationsCommand() *cli.Command {
	return &cli.Command{
		Name:  "revocations",
		Usage: "sign the list of revoked licences for hosts to import",
		Description: `The list's serial grows with every revocation; hosts apply newer lists and refuse
older ones.

Example: issuer revocations -o revocations.lst`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (- for stdout)", Value: "-"}},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			out, err := cliutil.CreateOutput(c, c.String("output"), "")
			if err != nil {
				return err
			}
			d, err := unlock(c, "revocations")
			if err != nil {
				out.Abort()
				return err
			}
			defer d.Close()
			list, serial, err := d.Revocations()
			if err != nil {
				out.Abort()
				return err
			}
			if err := out.Finish(list, ""); err != nil {
				return err
			}
			if !out.Stdout {
				fmt.Fprintf(c.App.Writer, "revocation list %d written to %s\n", serial, out.Name())
			}
			return nil
		},
	}
}

func ledgerCommand() *cli.Command {
	return &cli.Command{
		Name:  "ledger",
		Usage: "export the ledger: product keys, activations, deactivations, revocations",
		Description: `--csv writes one event a row (UTC times; cells a spreadsheet would run as a
formula are neutralised); --json writes everything, responses included.

Example: issuer ledger --csv -o ledger.csv`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "JSON"},
			&cli.BoolFlag{Name: "csv", Usage: "CSV, one event a row"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (- for stdout)", Value: "-"},
		},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			if c.Bool("json") && c.Bool("csv") {
				return cliutil.Usagef("choose --json or --csv")
			}
			d, err := openRead(c, "ledger")
			if err != nil {
				return err
			}
			defer d.Close()
			l, err := d.Ledger()
			if err != nil {
				return err
			}
			var b strings.Builder
			switch {
			case c.Bool("json"):
				err = l.WriteJSON(&b)
			default:
				err = l.WriteCSV(&b)
			}
			if err != nil {
				return err
			}
			out, err := cliutil.CreateOutput(c, c.String("output"), "")
			if err != nil {
				return err
			}
			return out.Finish([]byte(b.String()), "")
		},
	}
}
