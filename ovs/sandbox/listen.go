package sandbox

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Sockets for tests that play both ends of a connection themselves —
// sending data nobody asked for, say, to see whether a connection's reply
// direction still gets through — unlike the echo servers of probe.go.

// Listen opens a TCP listener on port inside the workload; the caller
// accepts and closes.
func (w *Workload) Listen(port int) (net.Listener, error) {
	var ln net.Listener
	err := inNS(w.NetNS, func() error {
		var err error
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: listen tcp/%d: %w", w.Name, port, err)
	}
	return ln, nil
}

// ListenPacket opens a UDP socket on port inside the workload for a test
// that plays the server side itself.
func (w *Workload) ListenPacket(port int) (net.PacketConn, error) {
	var pc net.PacketConn
	err := inNS(w.NetNS, func() error {
		var err error
		pc, err = net.ListenPacket("udp", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: listen udp/%d: %w", w.Name, port, err)
	}
	return pc, nil
}

// DialUDP opens a UDP socket inside the workload connected to addr.
func (w *Workload) DialUDP(addr netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := inNS(w.NetNS, func() error {
		var err error
		c, err = net.Dial("udp", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: dial udp %s: %w", w.Name, addr, err)
	}
	return c, nil
}
