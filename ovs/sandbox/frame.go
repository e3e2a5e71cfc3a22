package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Raw Ethernet frames for spoofing tests: what a compromised workload can
// put on the wire (any source MAC or address, neighbour discovery and
// router advertisements included) and what another workload receives,
// seen below its IP stack. Sockets are AF_PACKET sockets on eth0, created
// inside the workload's namespace.

// htons is the network byte order of a 16-bit protocol number, as
// AF_PACKET sockets take it.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// packetSocket opens an AF_PACKET socket bound to eth0 of the workload,
// receiving every frame of protocol proto (unix.ETH_P_ALL for all).
func (w *Workload) packetSocket(proto uint16) (int, int, error) {
	fd, ifindex := -1, 0
	err := inNS(w.NetNS, func() error {
		iface, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		ifindex = iface.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex}); err != nil {
			unix.Close(fd)
			fd = -1
			return fmt.Errorf("bind packet socket to eth0: %w", err)
		}
		return nil
	})
	if err != nil {
		return -1, 0, fmt.Errorf("sandbox: %s: %w", w.Name, err)
	}
	return fd, ifindex, nil
}

// SendFrame puts one complete Ethernet frame (destination MAC first) on
// eth0 as it is: nothing checks that its addresses are the workload's.
func (w *Workload) SendFrame(frame []byte) error {
	if len(frame) < 14 {
		return fmt.Errorf("sandbox: %s: frame of %d bytes has no Ethernet header", w.Name, len(frame))
	}
	fd, ifindex, err := w.packetSocket(binary.BigEndian.Uint16(frame[12:14]))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: htons(binary.BigEndian.Uint16(frame[12:14])), Ifindex: ifindex, Halen: 6}
	copy(to.Addr[:], frame[:6])
	if err := unix.Sendto(fd, frame, 0, to); err != nil {
		return fmt.Errorf("sandbox: %s: send frame: %w", w.Name, err)
	}
	return nil
}

// Capture records the frames a workload's eth0 receives from the moment
// it starts, for tests that must see what reached a workload (or that a
// frame never did) rather than infer it from a reply.
type Capture struct {
	fd     int
	mu     sync.Mutex
	frames [][]byte
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// StartCapture starts recording every frame eth0 receives (not those it
// sends). Stop it with Stop.
func (w *Workload) StartCapture() (*Capture, error) {
	fd, _, err := w.packetSocket(unix.ETH_P_ALL)
	if err != nil {
		return nil, err
	}
	// A receive timeout lets the reader notice Stop.
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sandbox: %s: capture timeout: %w", w.Name, err)
	}
	c := &Capture{fd: fd, stop: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	return c, nil
}

// read collects incoming frames until Stop.
func (c *Capture) read() {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				select {
				case <-c.stop:
					return
				default:
					continue
				}
			}
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		c.mu.Lock()
		c.frames = append(c.frames, append([]byte(nil), buf[:n]...))
		c.mu.Unlock()
		select {
		case <-c.stop:
			return
		default:
		}
	}
}

// Frames returns the frames received so far.
func (c *Capture) Frames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.frames...)
}

// Stop ends the capture and returns every frame it recorded.
func (c *Capture) Stop() [][]byte {
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		unix.Close(c.fd)
	})
	return c.Frames()
}
