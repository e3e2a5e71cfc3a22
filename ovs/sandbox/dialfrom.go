package sandbox

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// DialFrom connects ("tcp" or "udp") from inside the workload from the
// fixed source src (address and port), so that a test can send the very
// 5-tuple another workload uses. The address must be one of the
// workload's (or added with Exec("ip", "addr", "add", ...)).
func (w *Workload) DialFrom(network string, src, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	var local net.Addr = net.TCPAddrFromAddrPort(src)
	if network == "udp" {
		local = net.UDPAddrFromAddrPort(src)
	}
	var c net.Conn
	err := inNS(w.NetNS, func() error {
		d := net.Dialer{Timeout: timeout, LocalAddr: local}
		var err error
		c, err = d.Dial(network, addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: dial %s %s from %s: %w", w.Name, network, addr, src, err)
	}
	return c, nil
}
