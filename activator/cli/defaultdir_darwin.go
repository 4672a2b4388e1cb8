//go:build darwin

package cli

// DefaultDir is the store directory when neither the product nor --dir
// nor ACTIVATOR_DIR names one. macOS has no /var/lib; machine-wide data of
// daemons lives in /Library/Application Support, which only root may
// write.
const DefaultDir = "/Library/Application Support/airlock"
