//go:build !linux

package activator

import (
	"errors"
	"runtime"
)

// The Linux sources read filesystem ids and device numbers the Linux way;
// other systems have their own sources, so these report that nothing was
// read and the components stay Missing.
var errNotLinux = errors.New("not read on " + runtime.GOOS)

func statFS(path string) (uint32, [2]int32, error) { return 0, [2]int32{}, errNotLinux }

func fileDevice(path string) (uint64, error) { return 0, errNotLinux }

func blockDevice(path string) (uint64, bool) { return 0, false }
