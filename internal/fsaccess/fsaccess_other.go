//go:build !unix

package fsaccess

// dirWritable cannot be asked without writing here: the files' own checks
// (opened for writing, never written) decide.
func dirWritable(dir string) error { return nil }

// ownerOf is unknown here: the message names no owner.
func ownerOf(path string) string { return "" }

// currentUser is unknown here.
func currentUser() string { return "" }
