// Command activator is the host admin's tool: it shows the machine
// fingerprint, creates an activation request, imports the vendor's response
// or revocation list, reports the licence status and deactivates. It is a
// thin front end over package activator.
package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
)

// embeddedVendorKey is the vendor's public key, Base64 of the binary key,
// set at build time for a product's own build of this tool:
//
//	go build -ldflags "-X main.embeddedVendorKey=$(base64 -w0 vendor.pub.gpg)" ./cmd/activator
var embeddedVendorKey string

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cliutil.Run(newApp(), args, stdin, stdout, stderr)
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "activator",
		Usage: "activate this host offline: request a licence, import it, check it",
		Description: `The host admin's side of airlock. On an isolated server:

   1. activator request --name "Ada Admin" --org "Example Bank" --product-key XXXXX-XXXXX-XXXXX-XXXXX-XXXXX --qr request.png
   2. carry the request file (or a photo of the QR code) to the vendor
   3. activator import response.lic
   4. activator status

Exit codes: 0 success; 1 refused or failed; 2 bad usage; 3 (status, check) not active or not enabled.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "licence store `DIR` (created with mode 0700)", EnvVars: []string{"ACTIVATOR_DIR"}, Value: "/var/lib/airlock"},
			&cli.StringFlag{Name: "vendor-key", Usage: "vendor public key `FILE` (armored or binary); default: the key built into this binary", EnvVars: []string{"ACTIVATOR_VENDOR_KEY"}},
			&cli.StringFlag{Name: "product", Usage: "product `ID` as the vendor issues it", EnvVars: []string{"ACTIVATOR_PRODUCT"}},
			&cli.StringFlag{Name: "product-version", Usage: "the running product's `VERSION`, e.g. 9.1.0", EnvVars: []string{"ACTIVATOR_PRODUCT_VERSION"}},
			&cli.DurationFlag{Name: "lock-wait", Usage: "how long to wait for another process using the store", EnvVars: []string{"ACTIVATOR_LOCK_WAIT"}, Value: activator.DefaultLockWait},
		},
		Commands: cliutil.Commands(
			fingerprintCommand(), requestCommand(), importCommand(), statusCommand(), checkCommand(), deactivateCommand(), receiptCommand(),
		),
	}
}

// config builds the library configuration from the global flags.
func config(c *cli.Context, command string, needKeys bool) (activator.Config, error) {
	cfg := activator.Config{
		Dir: c.String("dir"), Product: c.String("product"), Version: c.String("product-version"),
		Command: "activator " + command, LockWait: c.Duration("lock-wait"), Logger: slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if cfg.Product == "" {
		return cfg, cliutil.Usagef("no product given; set --product or ACTIVATOR_PRODUCT")
	}
	if !format.ValidProduct(cfg.Product) {
		return cfg, cliutil.Usagef("--product %q is not a product identifier (a-z, 0-9, '.', '_', '-')", cfg.Product)
	}
	if cfg.Version == "" {
		return cfg, cliutil.Usagef("no product version given; set --product-version or ACTIVATOR_PRODUCT_VERSION")
	}
	if _, err := format.MajorVersion(cfg.Version); err != nil {
		return cfg, cliutil.Usagef("--product-version %q is not a version such as 9.1.0", cfg.Version)
	}
	keys, err := vendorKeys(c.String("vendor-key"))
	if err != nil {
		return cfg, err
	}
	cfg.VendorKeys = keys
	return cfg, nil
}

func vendorKeys(path string) (*format.KeySet, error) {
	var data []byte
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("vendor key: %v", err)
		}
		data = b
	case embeddedVendorKey != "":
		b, err := base64.StdEncoding.DecodeString(embeddedVendorKey)
		if err != nil {
			return nil, fmt.Errorf("the vendor key built into this binary is not Base64: %v", err)
		}
		data = b
	default:
		return nil, cliutil.Usagef("no vendor key: set --vendor-key or ACTIVATOR_VENDOR_KEY (the vendor's exported public key)")
	}
	keys, err := format.ParseKeySet(data)
	if err != nil {
		return nil, fmt.Errorf("vendor key %s: %v", path, err)
	}
	return keys, nil
}

func fingerprintCommand() *cli.Command {
	return &cli.Command{
		Name:  "fingerprint",
		Usage: "show the machine identifiers that bind a licence to this host",
		Description: `Lists each identifier airlock reads (machine-id, DMI product UUID, physical NIC
addresses, root filesystem), as the hashed value that leaves the host (never the
raw value), and says which are missing or unreadable and why.

Example: activator --product astera fingerprint --json`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			product := c.String("product")
			if product == "" {
				return cliutil.Usagef("no product given; set --product or ACTIVATOR_PRODUCT")
			}
			if !format.ValidProduct(product) {
				return cliutil.Usagef("product %q is not a product identifier", product)
			}
			h := activator.CollectFingerprint(product)
			out := c.App.Writer
			if c.Bool("json") {
				return cliutil.WriteJSON(out, h)
			}
			found := 0
			for _, cs := range h.Components {
				switch cs.State {
				case activator.Found:
					found++
					fmt.Fprintf(out, "%-18s %s\n", cs.Name, cs.Hash)
				default:
					fmt.Fprintf(out, "%-18s %s: %s\n", cs.Name, cs.State, cs.Reason)
				}
			}
			fmt.Fprintf(out, "%d identifiers found; a licence issued now keeps working while %d of them still match\n", found, format.DefaultThreshold(found))
			if found == 0 {
				return errors.New("no machine identifier could be read; a licence cannot be bound to this host")
			}
			return nil
		},
	}
}

func requestCommand() *cli.Command {
	return &cli.Command{
		Name:      "request",
		Usage:     "create a signed activation request to carry to the vendor",
		ArgsUsage: " ",
		Description: `Checks the product key (a mistyped key is refused before anything is written),
creates the host key on first use, and writes the request signed by it, bound to
this machine's fingerprint. Carry the file, or a photo of the QR code, to the vendor.

Example: activator request --name "Ada Admin" --org "Example Bank" \
           --product-key C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH --qr request.png --qr-terminal`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "licensee `NAME`, as on the order"},
			&cli.StringFlag{Name: "org", Usage: "licensee `ORGANIZATION`"},
			&cli.StringFlag{Name: "product-key", Usage: "the product `KEY` (case, dashes and spaces do not matter)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the request to `FILE` (- for stdout); default request-<ID>.req"},
			&cli.StringFlag{Name: "qr", Usage: "also write the request as a QR code to `FILE.png`"},
			&cli.BoolFlag{Name: "qr-terminal", Usage: "also show the QR code in the terminal"},
		},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			for _, f := range []string{"name", "org", "product-key"} {
				if c.String(f) == "" {
					return cliutil.Usagef("--%s is required; see activator request --help", f)
				}
			}
			// A mistyped key is refused before the store is even opened.
			if _, err := format.ParseProductKey(c.String("product-key")); err != nil {
				return fmt.Errorf("%v; nothing was written", err)
			}
			cfg, err := config(c, "request", true)
			if err != nil {
				return err
			}
			// The output files are created before the store is touched, so
			// that a bad path leaves no orphan pending request behind.
			out := c.String("output")
			outFile, err := cliutil.CreateOutput(c, out, ".request-*.tmp")
			if err != nil {
				return err
			}
			var pngFile *cliutil.Output
			if png := c.String("qr"); png != "" {
				if pngFile, err = cliutil.CreateOutput(c, png, ""); err != nil {
					outFile.Abort()
					return err
				}
			}
			s, err := activator.OpenStore(cfg, true)
			if err != nil {
				outFile.Abort()
				pngFile.Abort()
				return err
			}
			defer s.Close()
			req, err := s.Request(activator.RequestOptions{Name: c.String("name"), Organization: c.String("org"), ProductKey: c.String("product-key")})
			if err != nil {
				outFile.Abort()
				pngFile.Abort()
				return err
			}
			if err := outFile.Finish(req.Armored, "request-"+string(req.ID)+".req"); err != nil {
				return fmt.Errorf("request %s is stored but could not be written: %v", req.ID, err)
			}
			msg := c.App.ErrWriter
			if out != "-" {
				msg = c.App.Writer
			}
			if pngFile != nil {
				b, version, err := req.QRCode()
				if err == nil {
					err = pngFile.Finish(b, "")
				}
				if err != nil {
					return fmt.Errorf("write %s: %v", pngFile.Name(), err)
				}
				fmt.Fprintf(msg, "QR code written to %s (version %d, error correction M)\n", pngFile.Name(), version)
				if version > activator.MaxQRVersion {
					fmt.Fprintf(msg, "note: the QR code is large (version %d); if a phone cannot read it, carry the file instead\n", version)
				}
			}
			if c.Bool("qr-terminal") {
				q, err := req.QRTerminal(true)
				if err != nil {
					return err
				}
				fmt.Fprint(msg, q)
			}
			if out != "-" {
				fmt.Fprintf(msg, "request %s written to %s (identifiers: %s)\n", req.ID, outFile.Name(), strings.Join(req.Components, ", "))
				fmt.Fprintf(msg, "carry it to your vendor; then run: activator import <response file>\n")
			}
			return nil
		},
	}
}

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import the vendor's response (licence) or a revocation list",
		ArgsUsage: "FILE|-",
		Description: `Verifies the file (armored, binary, or the AL1: text a QR scanner yields) against
the vendor key, checks that it answers a request of this host, this machine, this
product and version, and is valid now; then records it. A refusal changes nothing
and says why in one line.

A host holds one licence per product. A new licence replaces the one in force
when it grants at least as much (every feature, as many clients, a validity that
ends no earlier); one that grants less is refused with what would be lost, unless
--replace. The replaced licence still holds an activation at the vendor: free it
with activator receipt LICENSE_ID and the vendor's issuer deactivate.

Examples: activator import response.lic
          activator import --replace smaller.lic`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "replace", Usage: "accept a licence that grants less than the one in force"}},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("import takes one file (or - for stdin); see activator import --help")
			}
			data, err := cliutil.ReadInput(c, format.MaxEncodedSize, c.Args().First())
			if err != nil {
				return err
			}
			cfg, err := config(c, "import", true)
			if err != nil {
				return err
			}
			s, err := activator.OpenStore(cfg, false)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.Import(data, activator.ImportOptions{Replace: c.Bool("replace")})
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			out := c.App.Writer
			switch {
			case res.Kind == format.KindRevocations && res.Unchanged:
				fmt.Fprintf(out, "revocation list %d is already in effect\n", res.Serial)
			case res.Kind == format.KindRevocations:
				fmt.Fprintf(out, "revocation list %d applied\n", res.Serial)
			case res.Unchanged:
				fmt.Fprintf(out, "licence %s is already active; nothing changed\n", res.LicenseID)
			default:
				fmt.Fprintf(out, "licence %s imported\n", res.LicenseID)
			}
			if res.Replaced != "" {
				if len(res.Lost) > 0 {
					fmt.Fprintf(out, "it replaces licence %s, losing %s\n", res.Replaced, strings.Join(res.Lost, ", "))
				} else {
					fmt.Fprintf(out, "it replaces licence %s\n", res.Replaced)
				}
				if res.ReplacedOtherKey {
					fmt.Fprintf(out, "licence %s came from another product key, whose activation the vendor still counts; to free it: activator receipt %s -o receipt.deact\n", res.Replaced, res.Replaced)
				}
			}
			printStatus(out, cfg, res.Status)
			return nil
		},
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the licence state; exit 0 only while a licence is active",
		Description: `Re-verifies the stored licence (signature, binding to this host, validity) and
prints its state, features and client limit, and any problem with what to do.

Exit codes: 0 active; 3 not active (inactive, expired, suspended, revoked); 1 error.
Example: activator status --json`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			cfg, snap, err := status(c)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := cliutil.WriteJSON(c.App.Writer, snap); err != nil {
					return err
				}
			} else {
				printStatus(c.App.Writer, cfg, snap)
			}
			if !snap.Active() {
				return &cliutil.NotActiveError{Msg: "licence " + string(snap.State)}
			}
			return nil
		},
	}
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "exit 0 when FEATURE is licensed, 3 when it is not",
		ArgsUsage: "FEATURE",
		Description: `For scripts: activator check workflow && start-workflow-engine
Exit codes: 0 enabled; 3 not enabled; 1 error; 2 bad usage.`,
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("check takes one feature name; see activator check --help")
			}
			_, snap, err := status(c)
			if err != nil {
				return err
			}
			if f := c.Args().First(); !snap.Enabled(f) {
				return &cliutil.NotActiveError{Msg: fmt.Sprintf("%s is not enabled (licence %s)", f, snap.State)}
			}
			return nil
		},
	}
}

func status(c *cli.Context) (activator.Config, *activator.Snapshot, error) {
	cfg, err := config(c, c.Command.Name, true)
	if err != nil {
		return cfg, nil, err
	}
	// A read-only open is several times cheaper, writes nothing while it
	// reads (so it works on a full disk), and is shared with other readers.
	s, err := activator.OpenStoreReadOnly(cfg)
	if errors.Is(err, activator.ErrNoStore) {
		return cfg, &activator.Snapshot{State: activator.StateInactive, Features: []string{}, Licenses: []activator.LicenseInfo{},
			Problems: []string{"no licence store at " + cfg.Dir + "; run activator request"}}, nil
	}
	if err != nil {
		return cfg, nil, err
	}
	defer s.Close()
	snap, err := s.Status()
	return cfg, snap, err
}

func deactivateCommand() *cli.Command {
	return &cli.Command{
		Name:  "deactivate",
		Usage: "remove the licence from this host and write the receipt for the vendor",
		Description: `Removes the active licence (it can never be imported here again) and writes a
receipt signed by the host key; the vendor imports it to free the activation for
another host.

Example: activator deactivate -o receipt.deact`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the receipt to `FILE` (- for stdout); default receipt-<LICENSE>.deact"}},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs(c); err != nil {
				return err
			}
			cfg, err := config(c, "deactivate", true)
			if err != nil {
				return err
			}
			// The receipt's file is created before the licence is removed; the
			// store keeps the receipt too (activator receipt writes it again).
			out, err := cliutil.CreateOutput(c, c.String("output"), ".receipt-*.tmp")
			if err != nil {
				return err
			}
			s, err := activator.OpenStore(cfg, false)
			if err != nil {
				out.Abort()
				return err
			}
			defer s.Close()
			receipt, id, err := s.Deactivate()
			if err != nil {
				out.Abort()
				return fmt.Errorf("deactivate: %w", err)
			}
			if err := out.Finish(receipt, "receipt-"+string(id)+".deact"); err != nil {
				return fmt.Errorf("licence %s is deactivated but the receipt could not be written (%v); run activator receipt %s -o FILE", id, err, id)
			}
			if !out.Stdout {
				fmt.Fprintf(c.App.Writer, "licence %s deactivated; carry %s to your vendor to free the activation\n", id, out.Name())
			}
			return nil
		},
	}
}

func receiptCommand() *cli.Command {
	return &cli.Command{
		Name:      "receipt",
		Usage:     "write the deactivation receipt of a deactivated or replaced licence",
		ArgsUsage: "LICENSE_ID",
		Description: `Writes again the receipt that deactivate wrote (the store keeps every receipt it
signed), or, for a licence that another licence replaced on this host, signs its
receipt now, so that the vendor frees the activation it still holds. Like a
deactivation, a receipt ends every request made before it.

Example: activator receipt 7MWCP5AXEZ2HEBFNQXQQDKH3Z4 -o receipt.deact`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the receipt to `FILE` (- for stdout)", Value: "-"}},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("receipt takes one licence id; see activator receipt --help")
			}
			cfg, err := config(c, "receipt", true)
			if err != nil {
				return err
			}
			s, err := activator.OpenStore(cfg, false)
			if err != nil {
				return err
			}
			defer s.Close()
			b, err := s.Receipt(format.ID(strings.ToUpper(c.Args().First())))
			if err != nil {
				return err
			}
			out, err := cliutil.CreateOutput(c, c.String("output"), "")
			if err != nil {
				return err
			}
			return out.Finish(b, "")
		},
	}
}

func printStatus(w io.Writer, cfg activator.Config, s *activator.Snapshot) {
	fmt.Fprintf(w, "state:    %s\n", s.State)
	fmt.Fprintf(w, "product:  %s %s\n", cfg.Product, cfg.Version)
	for _, l := range s.Licenses {
		fmt.Fprintf(w, "licence:  %s, for %s (%s), issued %s\n", l.LicenseID, l.Licensee.Name, l.Licensee.Organization, l.Issued.Format("2006-01-02"))
		valid := "perpetual"
		if l.NotAfter != nil {
			valid = "until " + l.NotAfter.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "validity: %s\n", valid)
	}
	if s.Active() {
		fmt.Fprintf(w, "features: %s\n", strings.Join(s.Features, ", "))
		fmt.Fprintf(w, "clients:  %d\n", s.Clients)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "problem:  %s\n", p)
	}
}
