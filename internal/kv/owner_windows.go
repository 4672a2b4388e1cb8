//go:build windows

package kv

// keepOwner changes nothing on Windows: files created in the store inherit
// the directory's ACL, so whoever may use the directory may use its files.
func keepOwner(dir string) error { return nil }
