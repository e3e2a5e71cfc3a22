// Package netdev holds the interface settings a workload port needs when it
// is attached to an Open vSwitch userspace (netdev) datapath: used by the CNI
// plugin for pods and by the test sandbox for its namespaces.
package netdev

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ifreqPtr is struct ifreq with a pointer in its union, the shape
// SIOCETHTOOL wants.
type ifreqPtr struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtoolValue is struct ethtool_value of the legacy ETHTOOL_[GS]* commands.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ethtool issues one legacy ethtool command on ifname in the calling
// thread's network namespace.
func ethtool(ifname string, cmd, data uint32) (uint32, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("ethtool socket: %w", err)
	}
	defer unix.Close(fd)
	v := ethtoolValue{cmd: cmd, data: data}
	var ifr ifreqPtr
	copy(ifr.name[:unix.IFNAMSIZ-1], ifname)
	ifr.data = unsafe.Pointer(&v)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return 0, fmt.Errorf("ethtool cmd %#x on %s: %w", cmd, ifname, errno)
	}
	runtime.KeepAlive(&v)
	return v.data, nil
}

// SetTxChecksum turns TX checksum offload of ifname (in the calling
// thread's network namespace) on or off, like `ethtool -K ifname tx off`.
// Off is what a veth attached to a userspace (netdev) bridge needs: with it
// on, the kernel hands OVS packets whose L4 checksum is still partial, and
// the userspace datapath's conntrack marks every such connection +inv.
func SetTxChecksum(ifname string, on bool) error {
	var d uint32
	if on {
		d = 1
	}
	if _, err := ethtool(ifname, unix.ETHTOOL_STXCSUM, d); err != nil {
		return err
	}
	got, err := ethtool(ifname, unix.ETHTOOL_GTXCSUM, 0)
	if err != nil {
		return err
	}
	if got != d {
		return fmt.Errorf("tx checksum offload on %s is %d after setting %d", ifname, got, d)
	}
	return nil
}
