// Command activator is the generic development build of the host admin's
// tool: it shows the machine fingerprint, creates an activation request,
// imports the vendor's response or revocation list, reports the licence
// status and deactivates. It trusts the vendor key it is given
// (--vendor-key, ACTIVATOR_VENDOR_KEY) and says so; a licensed product
// ships its own activator with its vendor keys compiled in, built on
// package github.com/airlock-license/airlock/activator/cli (see
// samples/activator).
package main

import (
	"io"
	"os"

	"github.com/airlock-license/airlock/activator/cli"
)

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cli.RunDevelopment(args, stdin, stdout, stderr)
}
