//go:build darwin

package activator

import "os"

// collectHost reads this machine's identifiers from the macOS sources (see
// CollectFingerprint): the programs are run here, and what they print is
// judged by collectDarwin (darwinsources.go), tested on every OS. Every
// source may be run by a standard user and by a service account.
func collectHost(product string) *HostFingerprint {
	return collectDarwin(product, darwinSources{
		Run: runCommand,
		Exists: func(path string) bool {
			fi, err := os.Stat(path)
			return err == nil && fi.IsDir()
		},
	})
}
