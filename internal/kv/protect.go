package kv

import (
	"fmt"
	"strings"
)

// The protection of a store and of the desk's secret key on Windows,
// where the file mode that guards them on Unix (0700 directories, 0600
// files) means nothing: a directory made under C:\ProgramData, say,
// inherits an ACL that lets every user read it. A store directory that
// airlock creates, and each secret key file it writes, get a protected
// DACL instead (see protectedDACL); the files created in the directory
// inherit it. The DACL is built here, as text, so that it is tested on
// every OS; protect_windows.go applies it.

// Well-known SIDs of the DACL (SDDL's SY and BA).
const (
	sidLocalSystem    = "S-1-5-18"
	sidAdministrators = "S-1-5-32-544"
)

// validSID reports a SID's string form, S-1-<authority>-<sub-authority>...
// (an authority of 1 to 15 digits, then 1 to 15 sub-authorities of 1 to
// 10 digits each), the only text that goes into the SDDL from outside it.
// Not a regular expression: compiling that one cost every process of
// the tools 0.5 ms and 2,000 allocations at start-up.
func validSID(s string) bool {
	rest, ok := strings.CutPrefix(s, "S-1-")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "-")
	if len(parts) < 2 || len(parts) > 16 {
		return false
	}
	for i, p := range parts {
		limit := 10
		if i == 0 {
			limit = 15
		}
		if len(p) == 0 || len(p) > limit || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// protectedDACL returns the SDDL of the DACL that a store directory (dir)
// or a secret file gets on Windows: "P", protected, so that no entry is
// inherited from the parent directory, and full control (FA) for
// LocalSystem, the Administrators group and user, the SID of the account
// this process runs as (the product's service account when it runs as
// one; an administrator's own account otherwise). On a directory the
// entries are inherited by the files and directories created in it
// (OICI). user is left out where it is one of the other two; a user that
// is no SID is refused rather than written into the SDDL.
//
// For example, for a service account:
//
//	D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-80-1234-...)
func protectedDACL(user string, dir bool) (string, error) {
	if !validSID(user) {
		return "", fmt.Errorf("protect the store: %q is not a SID", user)
	}
	inherit := ""
	if dir {
		inherit = "OICI"
	}
	ace := func(sid string) string { return "(A;" + inherit + ";FA;;;" + sid + ")" }
	sddl := "D:P" + ace("SY") + ace("BA")
	if user != sidLocalSystem && user != sidAdministrators {
		sddl += ace(user)
	}
	return sddl, nil
}
