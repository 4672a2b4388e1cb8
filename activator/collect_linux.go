//go:build !windows && !darwin

package activator

// collectHost reads this machine's identifiers from the Linux sources
// (see CollectFingerprint). Other Unix systems read the same paths; what
// they lack is Missing.
func collectHost(product string) *HostFingerprint { return collect(product, defaultSources()) }
