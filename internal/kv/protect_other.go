//go:build !windows

package kv

// protectDir changes nothing here: the directory was created with mode
// 0700, its protection on Unix (an existing directory is left as its
// owner made it).
func protectDir(dir string) error { return nil }

// protectFile changes nothing here: WriteSecretFile made the file 0600.
func protectFile(path string) error { return nil }
