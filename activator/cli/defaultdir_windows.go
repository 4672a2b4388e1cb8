//go:build windows

package cli

// DefaultDir is the store directory when neither the product nor --dir
// nor ACTIVATOR_DIR names one. On Windows it names its drive: the Unix
// default, /var/lib/airlock, is relative to the current drive there, so
// the same command run from C: and from D: would use two stores.
// ProgramData is where Windows keeps machine-wide data of services; the
// store's own ACL keeps it from the users who may read ProgramData.
const DefaultDir = `C:\ProgramData\airlock`
