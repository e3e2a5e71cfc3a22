package sandbox

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// DialTCPFrom connects from inside the workload using source address src,
// which need not be the workload's own: add it to eth0 first with
// Exec("ip", "addr", "add", ...). Spoofing tests use it to send what a
// compromised workload would.
func (w *Workload) DialTCPFrom(src netip.Addr, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNS(w.NetNS, func() error {
		d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
		var err error
		c, err = d.Dial("tcp", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: dial tcp %s from %s: %w", w.Name, addr, src, err)
	}
	return c, nil
}
