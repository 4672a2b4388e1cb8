// Command astera-activator is the sample product's own activator: the
// whole host admin's tool (package activator/cli) with the product's
// identity and its vendor key compiled in. A vendor builds theirs the same
// way, with the key that `issuer export-key` writes:
//
//	issuer export-key -o vendor.asc
//	go build -o astera-activator .
//
// Nothing at run time changes what it trusts: it has no --vendor-key flag,
// and ACTIVATOR_VENDOR_KEY, ACTIVATOR_PRODUCT and ACTIVATOR_PRODUCT_VERSION
// mean nothing to it. Its vendor.asc is the SAMPLE key of samples/data
// (NOT FOR PRODUCTION: its secret half is published).
package main

import (
	_ "embed"
	"io"
	"os"

	"github.com/airlock-license/airlock/activator/cli"
)

//go:embed vendor.asc
var vendorKeys []byte

// product is what this build licenses and trusts.
var product = cli.Product{Name: "astera-activator", ID: "astera", Version: "9.1.0", VendorKeys: vendorKeys}

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cli.Run(product, args, stdin, stdout, stderr)
}
