//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "benchcmp runs on Linux only (it measures against the Debian builds of gpg and sq)")
	os.Exit(2)
}
