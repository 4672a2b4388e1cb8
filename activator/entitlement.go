package activator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/airlock-license/airlock/format"
)

// A host holds one licence per product. A new licence replaces the one in
// force when it grants at least as much: every feature, as many clients,
// every licensed major version, a validity that ends no earlier. One that
// grants less replaces it only when the admin says so (--replace), after
// being told what would be lost. Licences of several product keys do not
// add up (a base key and an add-on): the one in force is the whole
// entitlement, so the vendor sells one key with every feature (an upgrade
// key) instead; such a key replaces the old licence by the rule above.
//
// A licence whose request is older than the one in force replaces it only
// when it grants more; granting the same, it would change nothing but the
// licence id (and the desk has usually revoked it as superseded).

// change is what replacing cur by next would gain and lose.
type change struct {
	lost, gained []string
}

func compareGrants(cur, next *format.Response) change {
	var c change
	for _, f := range cur.Features {
		if !slices.Contains(next.Features, f) {
			c.lost = append(c.lost, "feature "+f)
		}
	}
	for _, f := range next.Features {
		if !slices.Contains(cur.Features, f) {
			c.gained = append(c.gained, "feature "+f)
		}
	}
	switch a, b := cur.Limits.Clients, next.Limits.Clients; {
	case b < a:
		c.lost = append(c.lost, fmt.Sprintf("%d client seats (the new licence has %d)", a, b))
	case b > a:
		c.gained = append(c.gained, fmt.Sprintf("%d client seats (instead of %d)", b, a))
	}
	for _, v := range cur.Versions {
		if !slices.Contains(next.Versions, v) {
			c.lost = append(c.lost, "major version "+strconv.Itoa(v))
		}
	}
	for _, v := range next.Versions {
		if !slices.Contains(cur.Versions, v) {
			c.gained = append(c.gained, "major version "+strconv.Itoa(v))
		}
	}
	switch a, b := cur.NotAfter, next.NotAfter; {
	case a == nil && b != nil:
		c.lost = append(c.lost, "perpetual validity (the new licence ends "+b.String()+")")
	case a != nil && b == nil:
		c.gained = append(c.gained, "perpetual validity")
	case a != nil && b.Before(a.Time):
		c.lost = append(c.lost, "validity until "+a.String()+" (the new licence ends "+b.String()+")")
	case a != nil && a.Before(b.Time):
		c.gained = append(c.gained, "validity until "+b.String())
	}
	return c
}

func joinList(s []string) string { return strings.Join(s, ", ") }
