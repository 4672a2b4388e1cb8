package activator

import (
	"sort"
	"time"

	"github.com/airlock-license/airlock/format"
)

// State is the licence state of a host for one product.
type State string

// The states, as `activator status --json` prints them.
const (
	StateActive    State = "active"    // a valid licence is present
	StateInactive  State = "inactive"  // no licence (or none that verifies)
	StateExpired   State = "expired"   // the licence's validity has ended
	StateSuspended State = "suspended" // time-limited and the clock was set back
	StateRevoked   State = "revoked"   // the vendor revoked the licence
)

// Snapshot is an immutable view of the licence state at one moment. A
// licensed server holds one in memory and swaps it atomically when a new
// licence arrives; most callers want [License.Enabled] instead.
type Snapshot struct {
	State    State         `json:"state"`
	Features []string      `json:"features"` // sorted; empty unless State is active
	Clients  int           `json:"clients"`  // client seats; 0 unless active
	Licenses []LicenseInfo `json:"licenses"`
	Problems []string      `json:"problems"` // one line each: what is wrong and what to do
	// Checked is the time the state was evaluated at (the trusted time).
	Checked time.Time `json:"checked"`

	features map[string]struct{}
}

// LicenseInfo describes one stored licence.
type LicenseInfo struct {
	LicenseID format.ID       `json:"license_id"`
	Product   string          `json:"product"`
	Versions  []int           `json:"versions"`
	Licensee  format.Licensee `json:"licensee"`
	Features  []string        `json:"features"`
	Clients   int             `json:"clients"`
	Issued    time.Time       `json:"issued"`
	NotBefore *time.Time      `json:"not_before,omitempty"`
	NotAfter  *time.Time      `json:"not_after,omitempty"`
	State     State           `json:"state"`
}

// Enabled reports whether feature is licensed in this snapshot.
func (s *Snapshot) Enabled(feature string) bool {
	_, ok := s.features[feature]
	return ok
}

// Active reports whether the snapshot holds an active licence.
func (s *Snapshot) Active() bool { return s.State == StateActive }

func licenseInfo(r *format.Response, state State) LicenseInfo {
	li := LicenseInfo{
		LicenseID: r.LicenseID, Product: r.Product, Versions: r.Versions, Licensee: r.Licensee,
		Features: sortedCopy(r.Features), Clients: r.Limits.Clients, Issued: r.Issued.Time, State: state,
	}
	if r.NotBefore != nil {
		t := r.NotBefore.Time
		li.NotBefore = &t
	}
	if r.NotAfter != nil {
		t := r.NotAfter.Time
		li.NotAfter = &t
	}
	return li
}

func sortedCopy(s []string) []string {
	c := append([]string{}, s...)
	sort.Strings(c)
	return c
}

// inactive returns a snapshot with no licence and the given problems.
func inactive(now time.Time, problems ...string) *Snapshot {
	return &Snapshot{State: StateInactive, Features: []string{}, Licenses: []LicenseInfo{}, Problems: append([]string{}, problems...), Checked: now, features: map[string]struct{}{}}
}
