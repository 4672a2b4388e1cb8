//go:build darwin

package main

// defaultDir is the desk directory when neither --dir nor ISSUER_DIR names
// one: where macOS keeps machine-wide data (see activator/cli.DefaultDir).
// A desk on a laptop is usually a user's own: --dir or ISSUER_DIR then
// name a directory in the user's home.
const defaultDir = "/Library/Application Support/airlock-issuer"
