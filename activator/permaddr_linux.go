package activator

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// permanentAddress returns the burnt-in MAC address of a network interface
// (ETHTOOL_GPERMADDR), or "" when the driver reports none. Any user may
// ask.
func permanentAddress(iface string) string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	const ethtoolGPermAddr = 0x20
	// Both on the heap (which does not move), the request kept alive
	// across the call: the kernel reads it through a pointer in ifr.
	req := new(struct {
		cmd  uint32
		size uint32
		data [32]byte
	})
	req.cmd, req.size = ethtoolGPermAddr, uint32(len(req.data))
	ifr := new(struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	})
	if len(iface) >= len(ifr.name) {
		return ""
	}
	copy(ifr.name[:], iface)
	ifr.data = uintptr(unsafe.Pointer(req))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(ifr)))
	runtime.KeepAlive(req)
	if errno != 0 {
		return ""
	}
	if req.size != 6 {
		return ""
	}
	parts := make([]string, 6)
	for i, b := range req.data[:6] {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}
