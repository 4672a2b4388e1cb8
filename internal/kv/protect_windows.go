//go:build windows

package kv

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// protectDir gives a store directory that airlock created the protected
// DACL of protectedDACL, inherited by everything created in it.
func protectDir(dir string) error { return protect(dir, true) }

// protectFile gives a secret file the protected DACL of protectedDACL.
func protectFile(path string) error { return protect(path, false) }

func protect(path string, dir bool) error {
	user, err := processUserSID()
	if err != nil {
		return fmt.Errorf("protect %s: this process's account: %v", path, err)
	}
	sddl, err := protectedDACL(user, dir)
	if err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("protect %s: %v", path, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("protect %s: %v", path, err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		return fmt.Errorf("protect %s: set its access control list: %v", path, err)
	}
	return nil
}

// processUserSID returns the SID of the account the process runs as (its
// token's user, not a thread's impersonation).
func processUserSID() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", err
	}
	return u.User.Sid.String(), nil
}
