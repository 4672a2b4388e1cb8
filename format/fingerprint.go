package format

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// Well-known fingerprint component names. Collectors may add others that
// follow the same syntax (1 to 32 characters of a-z, 0-9 and '-').
const (
	ComponentMachineID        = "machine-id"         // the OS installation's id (/etc/machine-id)
	ComponentMachineGUID      = "machine-guid"       // the Windows installation's id (MachineGuid in the registry)
	ComponentDMIProduct       = "dmi-product-uuid"   // the SMBIOS system UUID (firmware, or the hypervisor's VM id)
	ComponentDMIBoardSerial   = "dmi-board-serial"   // the SMBIOS baseboard serial number
	ComponentDMIChassisSerial = "dmi-chassis-serial" // the SMBIOS chassis serial number
	ComponentPlatformUUID     = "platform-uuid"      // a Mac's IOPlatformUUID (its Hardware UUID)
	ComponentPlatformSerial   = "platform-serial"    // a Mac's serial number (IOPlatformSerialNumber)
	ComponentHypervisorUUID   = "hypervisor-uuid"    // a VM id the hypervisor exposes apart from SMBIOS (Xen)
	ComponentMAC              = "mac"                // the physical NICs' addresses
	ComponentRootDisk         = "root-disk"          // the root filesystem's id (from its UUID)
	ComponentDiskSerial       = "disk-serial"        // the serial number of the disk that holds the root filesystem
	ComponentOperatorID       = "operator-id"        // a secret the operator provisions with a container
)

// machineBound names the components whose value stays with the machine
// (its firmware, its board, its NICs, the hypervisor's record of the VM)
// when its disk, an image of the disk or its files are copied elsewhere.
// Every other component, unknown names included, is portable: a copy of the
// disk, its image or its files can carry it (machine-id and operator-id are
// files, machine-guid is in the registry on the disk, root-disk is in the
// filesystem, disk-serial goes with the disk and with many VM clones).
var machineBound = map[string]bool{
	ComponentDMIProduct: true, ComponentDMIBoardSerial: true, ComponentDMIChassisSerial: true,
	ComponentHypervisorUUID: true, ComponentMAC: true,
	ComponentPlatformUUID: true, ComponentPlatformSerial: true,
}

// rootOnly names the machine-bound components that Linux lets only root
// read (the SMBIOS files are mode 0400): a licensed product running as a
// service account cannot check them.
var rootOnly = map[string]bool{ComponentDMIProduct: true, ComponentDMIBoardSerial: true, ComponentDMIChassisSerial: true}

// RootOnly reports whether a machine-bound component is one that Linux
// lets only root read (the SMBIOS identifiers).
func RootOnly(name string) bool { return rootOnly[name] }

// MachineBound reports whether a component's value stays with the machine
// when its disk, an image of it or its files are copied to another (see
// [Binding]).
func MachineBound(name string) bool { return machineBound[name] }

// StrongComponents is the fewest components of a binding that is not weak.
const StrongComponents = 3

// Binding says how firmly a fingerprint ties a licence to one machine. Most
// callers want [Fingerprint.Binding].
type Binding struct {
	Components   int      `json:"components"`    // components recorded
	Names        []string `json:"names"`         // their names, sorted
	MachineBound int      `json:"machine_bound"` // of them, those that stay with the machine
	// MachineBoundUnprivileged counts those of them that a process without
	// root can read everywhere (not the SMBIOS ones, which Linux keeps to
	// root): what a licensed product running as a service account checks.
	MachineBoundUnprivileged int `json:"machine_bound_unprivileged"`
	// Threshold is how many must match for a licence issued now: see
	// [IssueThreshold].
	Threshold int `json:"threshold"`
	// Weak is set when fewer than [StrongComponents] were recorded, or when
	// none stays with the machine, or none that a process without root can
	// read (the licensed product runs as a service account), or fewer than
	// [StrongComponents] remain without the root-only ones: a copy of the
	// disk, its image or the host's files, or another machine given the
	// same one or two identifiers, then carries the licence, as far as the
	// product can tell. Reason says which, in one line.
	Weak   bool   `json:"weak"`
	Reason string `json:"reason,omitempty"`
}

// Binding analyses the fingerprint's components.
func (f Fingerprint) Binding() Binding {
	b := Binding{Components: len(f.Components)}
	var unprivileged []string
	for name := range f.Components {
		b.Names = append(b.Names, name)
		if !rootOnly[name] {
			unprivileged = append(unprivileged, name)
		}
		if machineBound[name] {
			b.MachineBound++
			if !rootOnly[name] {
				b.MachineBoundUnprivileged++
			}
		}
	}
	sort.Strings(b.Names)
	b.Threshold = IssueThreshold(f)
	switch {
	case b.Components < StrongComponents:
		b.Weak = true
		b.Reason = fmt.Sprintf("only %d machine identifier(s) (%s), fewer than %d", b.Components, strings.Join(b.Names, ", "), StrongComponents)
	case b.MachineBound == 0:
		b.Weak = true
		b.Reason = fmt.Sprintf("every identifier (%s) can be copied with the disk, an image of it or its files; none stays with the machine", strings.Join(b.Names, ", "))
	case b.MachineBoundUnprivileged == 0:
		b.Weak = true
		b.Reason = fmt.Sprintf("the only identifiers that stay with the machine are SMBIOS ones, which Linux lets only root read, so the licensed product, running without root, checks only identifiers that a copy of the disk or files carries (%s)", strings.Join(b.Names, ", "))
	case len(unprivileged) < StrongComponents:
		sort.Strings(unprivileged)
		b.Weak = true
		b.Reason = fmt.Sprintf("the licensed product, running without root, can check only %d identifier(s) (%s), fewer than %d: the SMBIOS ones are readable by root alone", len(unprivileged), strings.Join(unprivileged, ", "), StrongComponents)
	}
	return b
}

// String describes the binding in one line, e.g. "strong: 4 identifiers
// (2 stay with the machine), 3 must match".
func (b Binding) String() string {
	if b.Weak {
		return "weak: " + b.Reason
	}
	stay := "stay"
	if b.MachineBound == 1 {
		stay = "stays"
	}
	return fmt.Sprintf("strong: %d identifiers (%d %s with the machine), %d must match", b.Components, b.MachineBound, stay, b.Threshold)
}

// IssueThreshold is the threshold a licence desk SHOULD give a response to
// a request with fingerprint f: [DefaultThreshold] of its n components,
// raised to one more than the number of portable components (those that
// are not [MachineBound]) and capped at n. So a licence needs at least one
// identifier that stays with the machine, whenever it recorded one: a VM
// cloned with its disk (same machine-id, root-disk and disk serial) and a
// new MAC and SMBIOS UUID does not match, while on a machine with enough
// machine-bound identifiers a replaced NIC still does.
func IssueThreshold(f Fingerprint) int {
	n := len(f.Components)
	portable := 0
	for name := range f.Components {
		if !machineBound[name] {
			portable++
		}
	}
	return min(n, max(DefaultThreshold(n), portable+1))
}

// componentValueLen is the length of a hashed component value: 16 bytes of
// HMAC-SHA-256 in unpadded Base64url.
const componentValueLen = 22

// Fingerprint identifies a machine by a set of named, hashed components.
// A request carries the components found on the host; a response carries
// them back with the Threshold that a host must meet.
type Fingerprint struct {
	// Components maps a component name to its hashed value (see
	// [HashComponent]).
	Components map[string]string `json:"components"`
	// Threshold is how many recorded components must match; set in a
	// response, absent (zero) in a request.
	Threshold int `json:"threshold,omitempty"`
}

// HashComponent returns the value that leaves the host for one raw
// identifier: HMAC-SHA-256 keyed by the product identifier over the raw
// value, truncated to 128 bits, in unpadded Base64url. Raw identifiers never
// leave the host, and two products see unlinkable values.
func HashComponent(product, raw string) string {
	m := hmac.New(sha256.New, []byte(product))
	m.Write([]byte(raw))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// DefaultThreshold is the match threshold for n recorded components: all
// but one when 3 or more were recorded (so never fewer than 2), and all of
// them when 1 or 2 were. Replacing one NIC keeps the licence on a host with
// 3 or more identifiers; copying it to another machine, where at most a
// cloned identifier or two match, does not.
//
// DESIGN.md's rule, "all but one", would give 1 of 2: a host with only a
// machine-id and a root filesystem id (a VM without DMI and without a
// physical NIC) would then match every clone of its disk. With two
// identifiers there is no redundancy to spend on tolerance, so both must
// match.
func DefaultThreshold(n int) int {
	if n <= 2 {
		return max(1, n)
	}
	return n - 1
}

// minThreshold is the smallest threshold a response may carry for n
// recorded components.
func minThreshold(n int) int {
	if n >= 3 {
		return 2
	}
	return 1
}

func (f Fingerprint) validate(inResponse bool) error {
	n := len(f.Components)
	if n == 0 {
		return fieldError("fingerprint.components", "is empty; at least one machine identifier is required")
	}
	if n > MaxComponents {
		return fieldError("fingerprint.components", fmt.Sprintf("has %d entries, at most %d allowed", n, MaxComponents))
	}
	for name, v := range f.Components {
		if !componentName(name) {
			return fieldError("fingerprint.components", fmt.Sprintf("has an invalid name %q", name))
		}
		if len(v) != componentValueLen {
			return fieldError("fingerprint.components."+name, "is not a hashed identifier")
		}
		if b, err := base64.RawURLEncoding.Strict().DecodeString(v); err != nil || len(b) != 16 {
			return fieldError("fingerprint.components."+name, "is not a hashed identifier")
		}
	}
	if !inResponse {
		if f.Threshold != 0 {
			return fieldError("fingerprint.threshold", "belongs in a response, not a request")
		}
		return nil
	}
	if f.Threshold < minThreshold(n) || f.Threshold > n {
		return fieldError("fingerprint.threshold", fmt.Sprintf("is %d; with %d components it must be %d to %d", f.Threshold, n, minThreshold(n), n))
	}
	return nil
}

// Match compares the recorded fingerprint with the one computed now. It
// counts the recorded components whose value is the same now; a component
// missing now counts as not matching. Needed is the recorded Threshold, or
// [DefaultThreshold] when it is zero (a request's fingerprint).
func Match(recorded, current Fingerprint) MatchResult {
	r := MatchResult{Total: len(recorded.Components), Needed: recorded.Threshold}
	if r.Needed == 0 {
		r.Needed = DefaultThreshold(r.Total)
	}
	for name, v := range recorded.Components {
		if cur, ok := current.Components[name]; ok && hmac.Equal([]byte(cur), []byte(v)) {
			r.Matched++
		} else {
			r.Changed = append(r.Changed, name)
		}
	}
	sort.Strings(r.Changed)
	return r
}

// MatchResult is the outcome of [Match].
type MatchResult struct {
	Matched int      // recorded components that match now
	Needed  int      // components that must match
	Total   int      // components recorded
	Changed []string // names of recorded components that differ or are missing now
}

// OK reports whether enough components match.
func (r MatchResult) OK() bool { return r.Total > 0 && r.Matched >= r.Needed }

// Err returns nil when r is OK, and a [*HostMismatchError] otherwise.
func (r MatchResult) Err() error {
	if r.OK() {
		return nil
	}
	return &HostMismatchError{Matched: r.Matched, Needed: r.Needed, Total: r.Total}
}
