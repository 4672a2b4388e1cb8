//go:build !windows && !darwin

package main

// defaultDir is the desk directory when neither --dir nor ISSUER_DIR names
// one.
const defaultDir = "/var/lib/airlock-issuer"
