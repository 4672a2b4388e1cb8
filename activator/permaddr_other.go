//go:build !linux

package activator

// permanentAddress knows no permanent address on this platform (nil
// error: the collector then takes the current address, as for a driver
// without one). The collector for other platforms is issue 13's.
func permanentAddress(string) (string, error) { return "", nil }
