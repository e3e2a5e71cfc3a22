package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// The probes create their sockets on a thread switched into the workload's
// namespace (see inNS); a socket keeps the namespace it was created in, so
// all later I/O happens from ordinary goroutines. No external tool is run.

// echoServer is the io.Closer returned by ListenTCP/ListenUDP.
type echoServer struct {
	close func() error
	once  sync.Once
	err   error
	wg    sync.WaitGroup
}

// Close stops the server and waits for its goroutines.
func (s *echoServer) Close() error {
	s.once.Do(func() {
		s.err = s.close()
		s.wg.Wait()
	})
	return s.err
}

// ListenTCP starts a TCP echo server on port (all addresses, both families)
// inside the workload, the target that ProbeTCP and DialTCP talk to. It runs
// until the returned Closer is closed, which also closes open connections.
func (w *Workload) ListenTCP(port int) (io.Closer, error) {
	ln, err := w.Listen(port)
	if err != nil {
		return nil, err
	}
	var (
		mu     sync.Mutex
		conns  = map[net.Conn]struct{}{}
		closed bool
	)
	s := &echoServer{}
	s.close = func() error {
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		return ln.Close()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = struct{}{}
			mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				_, _ = io.Copy(c, c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	return s, nil
}

// ListenUDP starts a UDP echo server on port inside the workload; each
// datagram is sent back to its source. It runs until closed.
func (w *Workload) ListenUDP(port int) (io.Closer, error) {
	pc, err := w.ListenPacket(port)
	if err != nil {
		return nil, err
	}
	s := &echoServer{close: pc.Close}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	return s, nil
}

// DialTCP opens a TCP connection from inside the workload, for tests that
// need more than a yes/no (keeping a connection open across a policy
// change, say). The connection is usable from any goroutine.
func (w *Workload) DialTCP(addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNS(w.NetNS, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr.String(), timeout)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: dial tcp %s: %w", w.Name, addr, err)
	}
	return c, nil
}

// token returns random bytes so an echo cannot be confused with stale data.
func token() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

// ProbeTCP reports whether a TCP connection from the workload to addr can be
// made and carries data both ways (connect, write, read the echo from a
// ListenTCP server) within timeout. A policy that lets SYNs through but
// drops data, or one-way flows, therefore fails it.
func (w *Workload) ProbeTCP(addr netip.AddrPort, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	c, err := w.DialTCP(addr, timeout)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	tok := token()
	if _, err := c.Write(tok); err != nil {
		return false
	}
	got := make([]byte, len(tok))
	if _, err := io.ReadFull(c, got); err != nil {
		return false
	}
	return bytes.Equal(got, tok)
}

// ProbeUDP reports whether a datagram from the workload to addr is echoed
// back (by a ListenUDP server) within timeout. It resends every 200 ms, as
// UDP gives no other way to tell loss from denial.
func (w *Workload) ProbeUDP(addr netip.AddrPort, timeout time.Duration) bool {
	return w.ProbeUDPFrom(0, addr, timeout)
}

// ProbeUDPFrom is ProbeUDP from source port srcPort (0: any), for
// protocols that fix both ports (DHCP: 68 → 67).
func (w *Workload) ProbeUDPFrom(srcPort int, addr netip.AddrPort, timeout time.Duration) bool {
	var c net.Conn
	err := inNS(w.NetNS, func() error {
		var err error
		d := net.Dialer{LocalAddr: &net.UDPAddr{Port: srcPort}}
		c, err = d.Dial("udp", addr.String())
		return err
	})
	if err != nil {
		return false
	}
	defer c.Close()
	tok := token()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		if _, err := c.Write(tok); err != nil {
			// ECONNREFUSED from an ICMP port unreachable: try again later,
			// the server may just not be up yet.
			time.Sleep(50 * time.Millisecond)
		}
		next := time.Now().Add(200 * time.Millisecond)
		if next.After(deadline) {
			next = deadline
		}
		_ = c.SetReadDeadline(next)
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			if bytes.Equal(buf[:n], tok) {
				return true
			}
		}
	}
	return false
}

// Ping reports whether an ICMP (or ICMPv6) echo request from the workload to
// addr is answered within timeout. It uses a raw socket through the standard
// library's "ip4:icmp"/"ip6:ipv6-icmp" networks (root needed, as for
// everything here) rather than ping(8) or golang.org/x/net/icmp; unprivileged
// ICMP sockets are off in fresh namespaces (ping_group_range "1 0"). A
// request is resent every 200 ms until timeout.
func (w *Workload) Ping(addr netip.Addr, timeout time.Duration) bool {
	addr = addr.Unmap()
	if addr.Is6() {
		return w.icmpExchange(addr, 128, 0, 129, 16, timeout)
	}
	return w.icmpExchange(addr, 8, 0, 0, 16, timeout)
}

// ICMPQuery reports whether an ICMP (IPv4) request of type typ and code
// code from the workload to addr is answered with replyType within
// timeout, so that tests can tell rules matching ICMP types and codes
// apart: Linux answers echo requests of any code (8 → 0) and timestamp
// requests (13 → 14, 12 bytes of timestamps).
func (w *Workload) ICMPQuery(addr netip.Addr, typ, code, replyType uint8, timeout time.Duration) bool {
	size := 16
	if typ == 13 {
		size = 12
	}
	return w.icmpExchange(addr.Unmap(), typ, code, replyType, size, timeout)
}

// icmpExchange sends requests with a random identifier and size bytes of
// random data, resending every 200 ms, until a reply of replyType carries
// the identifier and the data's first 4 bytes (what a timestamp reply
// keeps of its request).
func (w *Workload) icmpExchange(addr netip.Addr, reqType, code, replyType uint8, size int, timeout time.Duration) bool {
	network, laddr := "ip4:icmp", "0.0.0.0"
	if addr.Is6() {
		network, laddr = "ip6:ipv6-icmp", "::"
	}
	var pc net.PacketConn
	if err := inNS(w.NetNS, func() error {
		var err error
		pc, err = net.ListenPacket(network, laddr)
		return err
	}); err != nil {
		return false
	}
	defer pc.Close()

	id := binary.BigEndian.Uint16(token())
	payload := token()[:size]
	dst := &net.IPAddr{IP: net.IP(addr.AsSlice())}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for seq := uint16(1); time.Now().Before(deadline); seq++ {
		msg := make([]byte, 8+len(payload))
		msg[0], msg[1] = reqType, code
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], seq)
		copy(msg[8:], payload)
		if addr.Is4() {
			binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		} // the kernel fills in the ICMPv6 checksum (it needs the pseudo-header)
		_, _ = pc.WriteTo(msg, dst)
		next := time.Now().Add(200 * time.Millisecond)
		if next.After(deadline) {
			next = deadline
		}
		_ = pc.SetReadDeadline(next)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				break
			}
			ipFrom, ok := from.(*net.IPAddr)
			if !ok || !ipFrom.IP.Equal(dst.IP) || n < 12 {
				continue
			}
			if buf[0] == replyType && binary.BigEndian.Uint16(buf[4:]) == id && bytes.Equal(buf[8:12], payload[:4]) {
				return true
			}
		}
	}
	return false
}

// icmpChecksum is the Internet checksum (RFC 1071) of b.
func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
