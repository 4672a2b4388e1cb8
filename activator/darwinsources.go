package activator

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/airlock-license/airlock/format"
)

// The macOS collector's decisions, without build tags so that they are
// tested on every OS (darwinsources_test.go, testdata/darwin):
// collect_darwin.go only hands collectDarwin the real commandRunner. See
// CollectFingerprint for the components and their stability.
//
// Why programs and not IOKit: the release builds are cross-compiled
// without cgo (make dist), and IOKit and DiskArbitration are C APIs. The
// programs are Apple's own front ends to the same registry entries, in
// /usr/sbin (read-only under System Integrity Protection), run by
// absolute path with LC_ALL=C; each is bounded in time and output.

// The programs the macOS collector runs, with their arguments.
var (
	ioregCommand        = []string{"/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"}
	networksetupCommand = []string{"/usr/sbin/networksetup", "-listallhardwareports"}
	diskutilCommand     = []string{"/usr/sbin/diskutil", "info", "-plist"} // + the volume's mount point
)

// dataVolume is where macOS 10.15 and later mount the root volume group's
// Data volume; before 10.15 the root volume is one volume at "/".
const dataVolume = "/System/Volumes/Data"

// darwinSources are what the macOS collector asks of the system; tests
// give recorded answers.
type darwinSources struct {
	Run commandRunner
	// Exists reports whether a directory exists (for dataVolume).
	Exists func(path string) bool
}

// collectDarwin reads the macOS identifiers through s, in the order
// platform-uuid, platform-serial, mac, root-disk, each program run once.
// The names and the hashing are those of every platform
// (HostFingerprint.adder).
func collectDarwin(product string, s darwinSources) *HostFingerprint {
	h := &HostFingerprint{Product: product}
	add := h.adder
	uuid, serial := readPlatform(s.Run)
	add(format.ComponentPlatformUUID)(uuid.v, uuid.state, uuid.reason)
	add(format.ComponentPlatformSerial)(serial.v, serial.state, serial.reason)
	add(format.ComponentMAC)(readHardwarePorts(s.Run))
	vol := "/"
	if s.Exists != nil && s.Exists(dataVolume) {
		vol = dataVolume
	}
	add(format.ComponentRootDisk)(readVolumeUUID(s.Run, vol))
	return h
}

// runSource runs one program with the default timeout. what names it in
// reasons ("/usr/sbin/ioreg").
func runSource(run commandRunner, argv []string) ([]byte, error) {
	if run == nil {
		return nil, fs.ErrNotExist
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultCommandTimeout)
	defer cancel()
	return run(ctx, argv[0], argv[1:]...)
}

// commandFailed turns the error of running a program into a component
// state: a program that may not be run is Unverifiable, anything else
// (absent, failed, hung, too talkative) Missing.
func commandFailed(argv []string, err error) (string, ComponentState, string) {
	what := strings.Join(argv, " ")
	switch {
	case denied(err):
		return "", Unverifiable, argv[0] + " exists but this user may not run it (permission denied)"
	case errors.Is(err, fs.ErrNotExist):
		return "", Missing, argv[0] + " not present"
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return "", Missing, what + " failed (" + ee.Error() + ")"
	}
	return "", Missing, what + " failed: " + oneLine(err.Error())
}

// readPlatform returns the platform-uuid and platform-serial components
// from the IOPlatformExpertDevice entry.
func readPlatform(run commandRunner) (uuid, serial sourceValue) {
	out, err := runSource(run, ioregCommand)
	if err != nil {
		c := sourceValue{}
		c.v, c.state, c.reason = commandFailed(ioregCommand, err)
		return c, c
	}
	props, err := parseIoreg(out)
	if err != nil {
		c := sourceValue{"", Missing, "ioreg's IOPlatformExpertDevice: " + err.Error()}
		return c, c
	}
	switch v, ok := props["IOPlatformUUID"]; {
	case !ok:
		uuid = sourceValue{"", Missing, "the IOPlatformExpertDevice has no IOPlatformUUID"}
	case !isUUID(strings.ToLower(strings.TrimSpace(v))):
		uuid = sourceValue{"", Missing, "the IOPlatformUUID is not a UUID"}
	case placeholderUUID(strings.ToLower(strings.TrimSpace(v))):
		uuid = sourceValue{"", Missing, "the IOPlatformUUID is a placeholder, not an id of this machine"}
	default:
		uuid = sourceValue{strings.ToLower(strings.TrimSpace(v)), Found, ""}
	}
	switch v, ok := props["IOPlatformSerialNumber"]; {
	case !ok:
		serial = sourceValue{"", Missing, "the IOPlatformExpertDevice has no IOPlatformSerialNumber"}
	case strings.TrimSpace(v) == "" || placeholderSerial(strings.TrimSpace(v)) || !printable(strings.TrimSpace(v)):
		serial = sourceValue{"", Missing, "the IOPlatformSerialNumber is a placeholder, not a serial number"}
	default:
		serial = sourceValue{strings.TrimSpace(v), Found, ""}
	}
	return uuid, serial
}

// readHardwarePorts returns the mac component: the sorted, comma-joined,
// lowercase burnt-in addresses of the built-in Ethernet and Wi-Fi ports.
func readHardwarePorts(run commandRunner) (string, ComponentState, string) {
	out, err := runSource(run, networksetupCommand)
	if err != nil {
		return commandFailed(networksetupCommand, err)
	}
	ports, err := parseHardwarePorts(out)
	if err != nil {
		return "", Missing, "networksetup's hardware ports: " + err.Error()
	}
	var macs, skipped []string
	for _, p := range ports {
		if why := notBuiltinPort(p); why != "" {
			skipped = append(skipped, oneLine(p.Device)+" "+why)
			continue
		}
		macs = append(macs, formatMAC(parseMAC(p.Address)))
	}
	if len(macs) == 0 {
		reason := "no built-in network port with a fixed MAC address"
		if len(skipped) > 0 {
			if len(skipped) > 6 {
				skipped = append(skipped[:6], fmt.Sprintf("%d more", len(skipped)-6))
			}
			reason += " (skipped: " + strings.Join(skipped, ", ") + ")"
		}
		return "", Missing, reason
	}
	slices.Sort(macs)
	return strings.Join(slices.Compact(macs), ","), Found, ""
}

// portMarkers are words in a hardware port's name that mark a port this
// component leaves out: the Thunderbolt bridge and its member ports
// (software addresses), adapters that come and go (USB, Thunderbolt and
// dock Ethernet, a tethered iPhone or iPad, Bluetooth PAN), and software
// ports (VPN, bond, VLAN).
var portMarkers = []string{"thunderbolt", "usb", "dock", "iphone", "ipad", "bluetooth", "bridge", "vpn", "bond", "vlan", "firewire"}

// notBuiltinPort says why a hardware port does not count, or "".
func notBuiltinPort(p hardwarePort) string {
	name := strings.ToLower(p.Port)
	for _, m := range portMarkers {
		if strings.Contains(name, m) {
			return "is a " + m + " port"
		}
	}
	if !strings.HasPrefix(p.Device, "en") || len(p.Device) < 3 || strings.Trim(p.Device[2:], "0123456789") != "" {
		return "is not an Ethernet device (enN)"
	}
	a := parseMAC(p.Address)
	switch {
	case a == nil || !usableMAC(a):
		return "has no MAC address"
	case a[0]&0x02 != 0:
		return "has a locally administered MAC address"
	}
	return ""
}

// parseMAC reads "3c:22:fb:12:34:56" (case-insensitive, one or two digits
// per byte, as macOS prints them); anything else is nil.
func parseMAC(s string) []byte {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 6 {
		return nil
	}
	a := make([]byte, 6)
	for i, p := range parts {
		if len(p) == 1 {
			p = "0" + p
		}
		b, err := hex.DecodeString(p)
		if err != nil || len(b) != 1 {
			return nil
		}
		a[i] = b[0]
	}
	return a
}

// readVolumeUUID returns the root-disk component: the file system type and
// the volume UUID that diskutil reports for the volume mounted at vol, in
// lowercase, e.g. "apfs:5b4e1c3a-...".
func readVolumeUUID(run commandRunner, vol string) (string, ComponentState, string) {
	argv := append(slices.Clone(diskutilCommand), vol)
	out, err := runSource(run, argv)
	if err != nil {
		return commandFailed(argv, err)
	}
	props, err := parsePlistDict(out)
	if err != nil {
		return "", Missing, "diskutil's answer for " + vol + ": " + err.Error()
	}
	if mp, ok := props["MountPoint"]; ok && mp != vol {
		return "", Missing, fmt.Sprintf("diskutil answered for the volume at %q, not %s", oneLine(mp), vol)
	}
	uuid := strings.ToLower(strings.TrimSpace(props["VolumeUUID"]))
	fsType := strings.ToLower(strings.TrimSpace(props["FilesystemType"]))
	switch {
	case uuid == "":
		return "", Missing, "the volume at " + vol + " has no volume UUID"
	case !isUUID(uuid) || placeholderUUID(uuid):
		return "", Missing, "the volume UUID of " + vol + " is not a UUID"
	case fsType == "" || !printable(fsType) || strings.ContainsAny(fsType, ": "):
		return "", Missing, "diskutil gives no file system type for " + vol
	}
	return fsType + ":" + uuid, Found, ""
}
