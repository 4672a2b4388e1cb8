package activator

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolPermAddr is struct ethtool_perm_addr with room for any hardware
// address.
type ethtoolPermAddr struct {
	cmd  uint32
	size uint32
	data [32]byte
}

// ifreqData is struct ifreq as SIOCETHTOOL reads it: the name, then a
// pointer to the ethtool request (a Go pointer, so that the request stays
// alive and in place while the kernel reads it), padded to the union.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

// permanentAddress returns the burnt-in MAC address of a network interface
// (ETHTOOL_GPERMADDR): "" and nil when the driver reports none; an error
// when this process could not ask, because the interface is not in its
// network namespace (sysfs may list another namespace's) or it may not
// open a socket (RestrictAddressFamilies=). Any user may ask.
func permanentAddress(iface string) (string, error) {
	var ifr ifreqData
	if len(iface) >= len(ifr.name) {
		return "", fmt.Errorf("interface name %q too long", iface)
	}
	// Any socket carries the ioctl to the device layer: an AF_UNIX one
	// where a unit allows no other family.
	var fd int
	var err error
	for _, family := range []int{unix.AF_INET, unix.AF_UNIX, unix.AF_NETLINK} {
		if fd, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("no socket to ask the permanent address of %s: %w", iface, err)
	}
	defer unix.Close(fd)
	const ethtoolGPermAddr = 0x20
	req := &ethtoolPermAddr{cmd: ethtoolGPermAddr, size: 32}
	copy(ifr.name[:], iface)
	ifr.data = unsafe.Pointer(req)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(req)
	switch {
	case errors.Is(errno, unix.EOPNOTSUPP), errors.Is(errno, unix.EINVAL):
		return "", nil // the driver keeps no permanent address
	case errno != 0:
		return "", fmt.Errorf("the permanent address of %s: %w", iface, errno)
	case req.size != 6:
		return "", nil
	}
	parts := make([]string, 6)
	for i, b := range req.data[:6] {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":"), nil
}
