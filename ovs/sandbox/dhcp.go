package sandbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// SendDHCPDiscover sends what a DHCP client without an address sends: a UDP
// datagram from 0.0.0.0:68 to 255.255.255.255:67 carrying payload, from
// eth0's MAC to the broadcast MAC. The frame is built by hand and written
// to a packet socket, as DHCP clients do: a UDP socket would take one of
// eth0's addresses as the source.
func (w *Workload) SendDHCPDiscover(payload []byte) error {
	if err := w.SendFrame(dhcpDiscoverFrame(w.MAC, payload)); err != nil {
		return fmt.Errorf("sandbox: %s: send DHCP discover: %w", w.Name, err)
	}
	return nil
}

// dhcpDiscoverFrame is Ethernet + IPv4 (0.0.0.0 → 255.255.255.255) + UDP
// 68 → 67 (checksum 0: none, as IPv4 allows) + payload.
func dhcpDiscoverFrame(mac net.HardwareAddr, payload []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	b.Write(mac)
	b.Write([]byte{0x08, 0x00})
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	copy(ip[16:], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(ip[10:], icmpChecksum(ip))
	b.Write(ip)
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], 68)
	binary.BigEndian.PutUint16(udp[2:], 67)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	b.Write(udp)
	b.Write(payload)
	return b.Bytes()
}

// UDPSink records the payloads of datagrams a workload receives on one
// port, broadcasts included.
type UDPSink struct {
	pc   net.PacketConn
	mu   sync.Mutex
	seen [][]byte
	wg   sync.WaitGroup
}

// ListenUDPSink starts recording datagrams to port on any address of the
// workload (limited broadcast included).
func (w *Workload) ListenUDPSink(port int) (*UDPSink, error) {
	var pc net.PacketConn
	err := inNS(w.NetNS, func() error {
		var err error
		pc, err = net.ListenPacket("udp4", "0.0.0.0:"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: listen udp/%d: %w", w.Name, port, err)
	}
	s := &UDPSink{pc: pc}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				s.mu.Lock()
				s.seen = append(s.seen, append([]byte(nil), buf[:n]...))
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

// Received reports whether a datagram carrying exactly payload arrived.
func (s *UDPSink) Received(payload []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.seen {
		if bytes.Equal(p, payload) {
			return true
		}
	}
	return false
}

// Close stops recording.
func (s *UDPSink) Close() error {
	err := s.pc.Close()
	s.wg.Wait()
	return err
}

var _ io.Closer = (*UDPSink)(nil)
