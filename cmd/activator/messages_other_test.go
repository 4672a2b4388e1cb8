//go:build !linux

package main

import (
	"os/exec"
	"testing"
)

// runAs says how a row's command runs.
type runAs int

const (
	asSelf          runAs = iota
	asOtherUser           // as another user (Linux only here)
	asReadOnlyMount       // on a read-only mount (Linux only here)
)

func prepareRun(t *testing.T, as runAs, h *msgHost, cmd *exec.Cmd) *exec.Cmd {
	t.Skip("needs Linux")
	return cmd
}
