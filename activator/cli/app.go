// Package cli is the host admin's command-line tool, activator, as a
// library: a product's own activator is a few lines over it, with the
// product's identity and its vendor keys compiled in.
//
//	package main
//
//	import (
//		_ "embed"
//
//		"github.com/airlock-license/airlock/activator/cli"
//	)
//
//	//go:embed vendor.asc
//	var vendorKeys []byte // issuer export-key -o vendor.asc
//
//	func main() {
//		cli.Main(cli.Product{Name: "astera-activator", ID: "astera", Version: "9.1.0", VendorKeys: vendorKeys})
//	}
//
// In such a build no flag, environment variable or file changes the keys
// the tool trusts, or the product and version it licenses: it sees the
// licence exactly as the product does. samples/activator is the sample
// product's own activator.
//
// The generic activator (cmd/activator, [RunDevelopment]) is a development
// build: it trusts whatever key --vendor-key or ACTIVATOR_VENDOR_KEY names
// and says so in its help and its status. What it imports under another
// key never displaces, hides or blocks a licence that the product's keys
// verify (see package activator, "Trust"); but its own verdict is only as
// good as the key it was given.
//
// Exit codes: 0 success; 1 refused or failed; 2 bad usage; 3 (status,
// check) not active or not enabled.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/airlock-license/airlock/activator"
	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/cliutil"
)

// Product is what a product's own activator compiles in.
type Product struct {
	// Name is the command's name in help and messages, e.g.
	// "astera-activator"; empty means "activator".
	Name string
	// ID is the product identifier as the vendor issues it, e.g. "astera".
	ID string
	// Version is the product's version, e.g. "9.1.0": licences must cover
	// its major version.
	Version string
	// VendorKeys is the vendor's public key set, armored or binary, one
	// key or several, as `issuer export-key` writes it (typically a
	// //go:embed file). It is the tool's only trust anchor.
	VendorKeys []byte
	// Dir is the default store directory; empty means [DefaultDir].
	// --dir and ACTIVATOR_DIR choose another (a store is not a trust
	// anchor: whatever it holds is verified with VendorKeys).
	Dir string
}

// Main runs a product's own activator on the process's arguments and
// exits with its exit code.
func Main(p Product) { os.Exit(Run(p, os.Args, os.Stdin, os.Stdout, os.Stderr)) }

// Run runs a product's own activator and returns its exit code. A Product
// that is not usable (no valid vendor key, a bad identifier or version) is
// reported as a build mistake, exit 1.
func Run(p Product, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	t := &tool{product: &p}
	if err := t.checkProduct(); err != nil {
		fmt.Fprintf(stderr, "%s: this activator was built wrongly: %v; rebuild it with the product's identifier, version and vendor key\n", t.name(), err)
		return cliutil.ExitFailed
	}
	return cliutil.Run(t.app(), args, stdin, stdout, stderr)
}

// RunDevelopment runs the generic development build, which takes the
// vendor key, product and version from its flags and environment.
func RunDevelopment(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cliutil.Run((&tool{}).app(), args, stdin, stdout, stderr)
}

// tool is one build of the activator: a product's own (product set) or the
// development build (product nil).
type tool struct {
	product *Product
	keys    *format.KeySet // parsed product keys
}

func (t *tool) name() string {
	if t.product != nil && t.product.Name != "" {
		return t.product.Name
	}
	return "activator"
}

func (t *tool) checkProduct() error {
	p := t.product
	switch {
	case !format.ValidProduct(p.ID):
		return fmt.Errorf("product identifier %q is not valid", p.ID)
	case p.Version == "":
		return errors.New("no product version")
	}
	if _, err := format.MajorVersion(p.Version); err != nil {
		return fmt.Errorf("product version %q is not a version such as 9.1.0", p.Version)
	}
	keys, err := format.ParseKeySet(p.VendorKeys)
	if err != nil {
		return fmt.Errorf("vendor keys: %v", err)
	}
	t.keys = keys
	return nil
}

// devNotice is what the development build says of itself.
const devNotice = `This is the generic development build of activator: it trusts whatever vendor
key --vendor-key or ACTIVATOR_VENDOR_KEY names, so what it reports is only as good
as that key. A licensed product ships its own activator with its vendor keys
compiled in (Go package github.com/airlock-license/airlock/activator/cli); on a
production host use that one. Licences this build imports under another key
never displace, hide or block the licence the product's own keys verify.

`

func (t *tool) app() *ucli.App {
	dir := DefaultDir
	if t.product != nil && t.product.Dir != "" {
		dir = t.product.Dir
	}
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: "dir", Usage: "licence store `DIR` (created with mode 0700)", EnvVars: []string{"ACTIVATOR_DIR"}, Value: dir},
		&ucli.DurationFlag{Name: "lock-wait", Usage: "how long to wait for another process using the store", EnvVars: []string{"ACTIVATOR_LOCK_WAIT"}, Value: activator.DefaultLockWait},
	}
	usage := "activate this host offline: request a licence, import it, check it"
	intro := ""
	product := "the product"
	if t.product == nil {
		flags = append(flags,
			&ucli.StringFlag{Name: "vendor-key", Usage: "vendor public key `FILE` (armored or binary): the key this development build trusts", EnvVars: []string{"ACTIVATOR_VENDOR_KEY"}},
			&ucli.StringFlag{Name: "product", Usage: "product `ID` as the vendor issues it", EnvVars: []string{"ACTIVATOR_PRODUCT"}},
			&ucli.StringFlag{Name: "product-version", Usage: "the running product's `VERSION`, e.g. 9.1.0", EnvVars: []string{"ACTIVATOR_PRODUCT_VERSION"}},
		)
		usage += " (DEVELOPMENT BUILD: trusts the vendor key it is given)"
		intro = devNotice
	} else {
		product = t.product.ID + " " + t.product.Version
	}
	return &ucli.App{
		Name:  t.name(),
		Usage: usage,
		Description: intro + `The host admin's side of airlock for ` + product + `. On an isolated server:

   1. ` + t.name() + ` request --name "Ada Admin" --org "Example Bank" --product-key XXXXX-XXXXX-XXXXX-XXXXX-XXXXX --qr request.png
   2. carry the request file (or a photo of the QR code) to the vendor
   3. ` + t.name() + ` import response.lic
   4. ` + t.name() + ` status

Exit codes: 0 success; 1 refused or failed; 2 bad usage; 3 (status, check) not active or not enabled.`,
		Flags: flags,
		Commands: cliutil.Commands(
			t.fingerprintCommand(), t.requestCommand(), t.importCommand(), t.statusCommand(), t.checkCommand(), t.deactivateCommand(), t.receiptCommand(), t.backupCommand(), t.restoreCommand(),
		),
	}
}

// productID returns the product identifier, from the build or the flags.
func (t *tool) productID(c *ucli.Context) (string, error) {
	if t.product != nil {
		return t.product.ID, nil
	}
	p := c.String("product")
	if p == "" {
		return "", cliutil.Usagef("no product given; set --product or ACTIVATOR_PRODUCT")
	}
	if !format.ValidProduct(p) {
		return "", cliutil.Usagef("--product %q is not a product identifier (a-z, 0-9, '.', '_', '-')", p)
	}
	return p, nil
}

// config builds the library configuration from the build and the flags.
func (t *tool) config(c *ucli.Context, command string) (activator.Config, error) {
	// No Logger: a command's only diagnostics would be Badger's own log
	// lines, printed around the command's one-line error, which already
	// carries what Badger reported. They are dropped.
	cfg := activator.Config{
		Dir: c.String("dir"), Command: t.name() + " " + command, LockWait: c.Duration("lock-wait"),
	}
	if t.product != nil {
		cfg.Product, cfg.Version, cfg.VendorKeys = t.product.ID, t.product.Version, t.keys
		return cfg, nil
	}
	var err error
	if cfg.Product, err = t.productID(c); err != nil {
		return cfg, err
	}
	cfg.Version = c.String("product-version")
	if cfg.Version == "" {
		return cfg, cliutil.Usagef("no product version given; set --product-version or ACTIVATOR_PRODUCT_VERSION")
	}
	if _, err := format.MajorVersion(cfg.Version); err != nil {
		return cfg, cliutil.Usagef("--product-version %q is not a version such as 9.1.0", cfg.Version)
	}
	path := c.String("vendor-key")
	if path == "" {
		return cfg, cliutil.Usagef("no vendor key: set --vendor-key or ACTIVATOR_VENDOR_KEY (the vendor's exported public key); a product's own activator has it built in")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("vendor key: %v", err)
	}
	if cfg.VendorKeys, err = format.ParseKeySet(b); err != nil {
		return cfg, fmt.Errorf("vendor key %s: %v", path, err)
	}
	return cfg, nil
}

// trustLine says which keys this build trusts, for status.
func (t *tool) trustLine(cfg activator.Config) string {
	var fps []string
	for _, k := range cfg.VendorKeys.Keys() {
		fps = append(fps, string(k.Fingerprint()))
	}
	if t.product == nil {
		return "development build, trusting the vendor key it was given (" + strings.Join(fps, ", ") + "); the product's own activator decides what the product sees"
	}
	return "vendor keys built into " + t.name() + " (" + strings.Join(fps, ", ") + ")"
}
