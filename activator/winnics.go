package activator

import (
	"fmt"
	"slices"
	"strings"
)

// The Windows choice of physical NICs for the mac component, a pure
// function over what the system reports so that it is tested on every OS.

// netAdapter is one network adapter as Windows reports it.
type netAdapter struct {
	Name        string // the friendly name ("Ethernet 2"), for reasons only
	Description string // the driver's description ("Intel(R) Ethernet Connection I219-LM")
	IfType      uint32 // IANA ifType: 6 ethernet, 71 IEEE 802.11, 24 loopback, 131 tunnel, ...
	TunnelType  uint32 // TUNNEL_TYPE, 0 when none
	// FlagsKnown is set when GetIfEntry2Ex answered for the adapter, so
	// that Hardware and Filter hold its InterfaceAndOperStatusFlags.
	FlagsKnown bool
	Hardware   bool // HardwareInterface: a device driver's NIC, not a software one
	Filter     bool // FilterInterface: an NDIS filter over another NIC
	// PnPID is the adapter's device instance id ("PCI\VEN_8086&...",
	// "USB\VID_...", "ROOT\..."), from the registry; "" when unknown.
	PnPID     string
	Current   []byte // the current address (GetAdaptersAddresses)
	Permanent []byte // the burnt-in address (MIB_IF_ROW2), nil or zero when none
}

// Interface types that may hold a physical NIC (IANA ifType).
const (
	ifTypeEthernet  = 6
	ifTypeIEEE80211 = 71
)

// virtualMarkers are words in the descriptions of software adapters that
// claim the ethernet type: Hyper-V's virtual switch ports on a host
// ("Hyper-V Virtual Ethernet Adapter"; a Hyper-V guest's "Microsoft
// Hyper-V Network Adapter" is its NIC and is kept), VMware's and
// VirtualBox's host-only adapters, VPN and TAP adapters, Wi-Fi Direct's
// virtual adapter, teaming's multiplexor (whose address is a member's),
// WAN miniports, Bluetooth PAN, loopback adapters and the kernel debugger's.
var virtualMarkers = []string{
	"virtual", "vpn", "tap-windows", "tap adapter", "tunnel", "loopback", "miniport",
	"bluetooth", "multiplexor", "kernel debug", "pseudo",
}

// readAdapters returns the mac component from the adapters read.
func readAdapters(read func() ([]netAdapter, error)) (string, ComponentState, string) {
	if read == nil {
		return "", Missing, "no network adapters could be listed"
	}
	adapters, err := read()
	if err != nil {
		return winFailed("the network adapters (GetAdaptersAddresses)", err)
	}
	return physicalMACs(adapters)
}

// physicalMACs keeps the physical NICs among adapters and returns their
// MACs as the mac component: sorted, comma-joined, lowercase, colon
// separated, as on Linux. A NIC counts when it is ethernet or Wi-Fi, no
// tunnel, a hardware interface (not a filter), not on USB or a software
// bus (its device instance id), and its description names no software
// adapter. Its burnt-in address is taken where the driver reports one, as
// on Linux (so a MAC changed in the adapter's settings, or Wi-Fi's random
// addresses, change nothing); otherwise its current address, unless that
// is all zeros, a group address, or locally administered (set by
// software). A burnt-in address that is locally administered counts: the
// virtual hardware of QEMU/KVM (52:54:00:...) reports one, and Linux
// counts it too.
func physicalMACs(adapters []netAdapter) (string, ComponentState, string) {
	var macs, skipped []string
	for _, a := range adapters {
		name := a.Name
		if name == "" {
			name = a.Description
		}
		if why := notPhysical(a); why != "" {
			skipped = append(skipped, name+" "+why)
			continue
		}
		addr := a.Permanent
		if !usableMAC(addr) {
			addr = a.Current
			switch {
			case !usableMAC(addr):
				skipped = append(skipped, name+" no MAC")
				continue
			case addr[0]&0x02 != 0:
				skipped = append(skipped, name+" MAC set by software")
				continue
			}
		}
		macs = append(macs, formatMAC(addr))
	}
	if len(macs) == 0 {
		reason := "no physical network interface with a fixed MAC address"
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

// notPhysical says why an adapter is not a physical NIC, or "".
func notPhysical(a netAdapter) string {
	pnp := strings.ToUpper(a.PnPID)
	desc := strings.ToLower(a.Description)
	switch {
	case a.IfType != ifTypeEthernet && a.IfType != ifTypeIEEE80211:
		return fmt.Sprintf("not ethernet or Wi-Fi (type %d)", a.IfType)
	case a.TunnelType != 0:
		return "tunnel"
	case a.FlagsKnown && a.Filter:
		return "filter"
	case a.FlagsKnown && !a.Hardware:
		return "virtual"
	case strings.HasPrefix(pnp, `USB\`):
		return "on USB"
	case strings.HasPrefix(pnp, `ROOT\`), strings.HasPrefix(pnp, `SWD\`), strings.HasPrefix(pnp, "{"):
		return "virtual"
	case !a.FlagsKnown && pnp == "":
		return "not known to be hardware"
	}
	for _, m := range virtualMarkers {
		if strings.Contains(desc, m) {
			return "virtual"
		}
	}
	return ""
}

// usableMAC reports a 6-byte unicast address that is not all zeros.
func usableMAC(a []byte) bool {
	if len(a) != 6 || a[0]&0x01 != 0 {
		return false
	}
	return slices.ContainsFunc(a, func(b byte) bool { return b != 0 })
}

func formatMAC(a []byte) string {
	parts := make([]string, len(a))
	for i, b := range a {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}
