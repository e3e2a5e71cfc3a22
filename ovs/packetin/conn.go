package packetin

import (
	"context"
	"encoding"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"antrea.io/libOpenflow/common"
	"antrea.io/libOpenflow/openflow15"
	"antrea.io/libOpenflow/util"
)

// ofVersion is OpenFlow 1.5, the version the programmer negotiates too.
const ofVersion = 6

// requestTimeout bounds a request's wait for its reply.
const requestTimeout = 10 * time.Second

// Conn is one service connection to a bridge. Packet-ins go to the handler
// given to Dial; requests (meter changes, meter statistics) may be made
// from any goroutine.
type Conn struct {
	conn    net.Conn
	handle  func(PacketIn)
	wmu     sync.Mutex
	xid     atomic.Uint32
	mu      sync.Mutex
	waiters map[uint32]chan util.Message
	done    chan struct{}
	err     error
}

// SocketPath is the bridge's management socket in the OVS run directory.
func SocketPath(runDir, bridge string) string {
	return filepath.Join(runDir, bridge+".mgmt")
}

// Dial connects to the management socket at path and asks for packet-ins,
// which handle receives one at a time on the connection's reader
// goroutine: it must not block (hand the packet on or drop it), or the
// switch queues and then drops packet-ins for this connection.
func Dial(ctx context.Context, path string, handle func(PacketIn)) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	c := &Conn{conn: nc, handle: handle, waiters: map[uint32]chan util.Message{}, done: make(chan struct{})}
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("openflow handshake on %s: %w", path, err)
	}
	go c.read()
	// NXT_PACKET_IN2 carries the controller action's userdata; a
	// nonzero miss_send_len is what makes a service connection receive
	// packet-ins at all.
	cfg := openflow15.NewSetConfig()
	cfg.MissSendLen = 0xffff
	if _, err := c.do(ctx, openflow15.NewSetPacketInFormat(openflow15.OFPUTIL_PACKET_IN_NXT2), cfg); err != nil {
		c.Close()
		return nil, fmt.Errorf("ask %s for packet-ins: %w", path, err)
	}
	return c, nil
}

// handshake exchanges Hello messages; the switch must speak OpenFlow 1.5.
func (c *Conn) handshake() error {
	h, err := common.NewHello(ofVersion)
	if err != nil {
		return err
	}
	if err := c.write(h); err != nil {
		return err
	}
	c.conn.SetReadDeadline(time.Now().Add(requestTimeout))
	defer c.conn.SetReadDeadline(time.Time{})
	b, err := readMessage(c.conn)
	if err != nil {
		return err
	}
	if b[1] != openflow15.Type_Hello {
		return fmt.Errorf("expected hello, got message type %d", b[1])
	}
	if b[0] < ofVersion {
		return fmt.Errorf("switch offers OpenFlow version %#x, OpenFlow 1.5 (0x06) is needed (bridge protocols)", b[0])
	}
	return nil
}

// Done is closed when the connection ends; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is open).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// readMessage reads one OpenFlow message: its header's length frames it.
func readMessage(r io.Reader) ([]byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[2:4]))
	if n < 8 {
		return nil, fmt.Errorf("openflow message of length %d", n)
	}
	b := make([]byte, n)
	copy(b, hdr[:])
	if _, err := io.ReadFull(r, b[8:]); err != nil {
		return nil, err
	}
	return b, nil
}

// read dispatches every message until the connection fails.
func (c *Conn) read() {
	var err error
	defer func() {
		c.err = err
		c.conn.Close()
		close(c.done)
	}()
	for {
		var b []byte
		if b, err = readMessage(c.conn); err != nil {
			return
		}
		xid := binary.BigEndian.Uint32(b[4:8])
		switch b[1] {
		case openflow15.Type_EchoRequest:
			rep := openflow15.NewEchoReply()
			rep.Xid = xid
			if err = c.write(rep); err != nil {
				return
			}
			continue
		case openflow15.Type_Experimenter:
			if pi, ok, perr := parsePacketIn2(b); ok {
				if perr == nil && c.handle != nil {
					c.handle(pi)
				}
				continue
			}
		}
		c.mu.Lock()
		w := c.waiters[xid]
		c.mu.Unlock()
		if w == nil {
			continue // not waited for (a late reply, a port status)
		}
		msg, perr := openflow15.Parse(b)
		if perr != nil {
			msg = &parseFailure{err: perr}
		}
		select {
		case w <- msg:
		default:
		}
	}
}

// parseFailure stands for a reply that could not be parsed.
type parseFailure struct {
	util.Message
	err error
}

// message is what the library's messages are: marshalable, with a header.
type message interface {
	encoding.BinaryMarshaler
}

// write sends one message as is.
func (c *Conn) write(m message) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode openflow message: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	_, err = c.conn.Write(b)
	if err != nil {
		return fmt.Errorf("send openflow message: %w", err)
	}
	return nil
}

// xidMessage is a request whose xid can be set.
type xidMessage struct {
	msg    message
	setXID func(uint32)
}

// withXID pairs a library message with the setter of its header's xid.
func withXID(m message) xidMessage {
	switch v := m.(type) {
	case *openflow15.VendorHeader:
		return xidMessage{v, func(x uint32) { v.Header.Xid = x }}
	case *openflow15.SwitchConfig:
		return xidMessage{v, func(x uint32) { v.Header.Xid = x }}
	case *openflow15.MeterMod:
		return xidMessage{v, func(x uint32) { v.Header.Xid = x }}
	case *openflow15.MultipartRequest:
		return xidMessage{v, func(x uint32) { v.Header.Xid = x }}
	case *common.Header:
		return xidMessage{v, func(x uint32) { v.Xid = x }}
	}
	panic(fmt.Sprintf("packetin: no xid setter for %T", m))
}

// do sends msgs followed by a barrier and waits for the barrier's reply:
// the first error any of them caused is returned, and so is the reply to
// the last message when it has one (a multipart reply), else nil.
func (c *Conn) do(ctx context.Context, msgs ...message) (util.Message, error) {
	all := append(msgs, openflow15.NewBarrierRequest())
	ch := make(chan util.Message, len(all)+1)
	xids := make([]uint32, len(all))
	c.mu.Lock()
	for i := range all {
		xids[i] = c.xid.Add(1)
		c.waiters[xids[i]] = ch
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		for _, x := range xids {
			delete(c.waiters, x)
		}
		c.mu.Unlock()
	}()
	for i, m := range all {
		xm := withXID(m)
		xm.setXID(xids[i])
		if err := c.write(xm.msg); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var reply util.Message
	for {
		select {
		case msg := <-ch:
			switch v := msg.(type) {
			case *parseFailure:
				return nil, fmt.Errorf("parse reply: %w", v.err)
			case *openflow15.ErrorMsg:
				return nil, &Error{Type: v.Type, Code: v.Code}
			case *openflow15.VendorError:
				return nil, &Error{Type: v.Type, Code: v.Code}
			case *common.Header:
				if v.Type == openflow15.Type_BarrierReply {
					return reply, nil
				}
			default:
				reply = msg
			}
		case <-c.done:
			return nil, fmt.Errorf("connection closed: %w", c.err)
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the switch: %w", ctx.Err())
		}
	}
}

// Error is an OpenFlow error message the switch answered with.
type Error struct {
	// Type and Code are the OpenFlow error's (ofp_error_msg).
	Type, Code uint16
}

func (e *Error) Error() string {
	return fmt.Sprintf("openflow error type %d code %d", e.Type, e.Code)
}
