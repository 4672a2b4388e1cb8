//go:build windows

package main

// defaultDir is the desk directory when neither --dir nor ISSUER_DIR names
// one. It names its drive: /var/lib/airlock-issuer would be relative to
// the current drive on Windows (see activator/cli.DefaultDir).
const defaultDir = `C:\ProgramData\airlock-issuer`
