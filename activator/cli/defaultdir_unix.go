//go:build !windows && !darwin

package cli

// DefaultDir is the store directory when neither the product nor --dir
// nor ACTIVATOR_DIR names one.
const DefaultDir = "/var/lib/airlock"
