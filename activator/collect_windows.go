//go:build windows

package activator

// collectHost reads this machine's identifiers. The windows sources are not
// written yet (issue 13): the Linux paths are read, and what is missing
// here is Missing.
func collectHost(product string) *HostFingerprint { return collect(product, defaultSources()) }
