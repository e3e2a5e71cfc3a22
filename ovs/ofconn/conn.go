// Package ofconn is flowgate's one OpenFlow 1.5 connection to a bridge's
// management socket: the handshake, echo replies, xids, pairing replies
// and errors with the requests that caused them, and barriers. The audit
// log's packet-ins and meters (ovs/packetin) and the programmer's flow
// bundles (ovs/openflow) are both built on it, so there is one way to
// talk OpenFlow to the switch. Messages are antrea.io/libOpenflow's.
package ofconn

import (
	"bufio"
	"context"
	"encoding"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"time"

	"antrea.io/libOpenflow/common"
	"antrea.io/libOpenflow/openflow15"
	"antrea.io/libOpenflow/util"
)

// Version is OpenFlow 1.5, the only version spoken: bundles need 1.4+,
// and 1.5 is what the bridges are set up with.
const Version = 6

// RequestTimeout bounds a request's wait for its reply.
const RequestTimeout = 10 * time.Second

// SocketPath is the bridge's management socket in the OVS run directory.
func SocketPath(runDir, bridge string) string {
	return filepath.Join(runDir, bridge+".mgmt")
}

// Conn is one connection to a bridge. Requests may be made from any
// goroutine; messages the switch sends on its own (packet-ins, port
// status) go to the handler given to Dial.
type Conn struct {
	conn   net.Conn
	handle func([]byte)
	wmu    sync.Mutex
	// bw is the write buffer, kept across writes (wmu held): a change's
	// bundle is one write, and a new 256 KiB buffer each time was most of
	// a small change's garbage.
	bw      *bufio.Writer
	mu      sync.Mutex
	nextXID uint32
	waiters []*waiter
	done    chan struct{}
	err     error
}

// waiter collects what the switch answers to the requests with xids
// lo..hi (the last one a barrier) until the barrier's reply arrives.
type waiter struct {
	lo, hi  uint32
	replies []Reply
	done    chan struct{}
}

// Reply is one message the switch answered a request with.
type Reply struct {
	// XID is the request's.
	XID uint32
	// Msg is the parsed reply (nil for an error).
	Msg util.Message
	// Err is set when the reply is an OpenFlow error.
	Err *Error
}

// Dial connects to the management socket at path. handle (may be nil)
// receives every message that answers no request, on the connection's
// reader goroutine: it must not block.
func Dial(ctx context.Context, path string, handle func([]byte)) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	c := &Conn{conn: nc, handle: handle, done: make(chan struct{})}
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("openflow handshake on %s: %w", path, err)
	}
	go c.read()
	return c, nil
}

// handshake exchanges Hello messages; the switch must speak OpenFlow 1.5.
func (c *Conn) handshake() error {
	h, err := common.NewHello(Version)
	if err != nil {
		return err
	}
	b, err := h.MarshalBinary()
	if err != nil {
		return err
	}
	if err := c.write(b); err != nil {
		return err
	}
	c.conn.SetReadDeadline(time.Now().Add(RequestTimeout))
	defer c.conn.SetReadDeadline(time.Time{})
	b, err = readMessage(c.conn)
	if err != nil {
		return err
	}
	if b[1] != openflow15.Type_Hello {
		return fmt.Errorf("expected hello, got message type %d", b[1])
	}
	if b[0] < Version {
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
	r := bufio.NewReaderSize(c.conn, 64<<10)
	for {
		var b []byte
		if b, err = readMessage(r); err != nil {
			return
		}
		xid := binary.BigEndian.Uint32(b[4:8])
		if b[1] == openflow15.Type_EchoRequest {
			rep := openflow15.NewEchoReply()
			rep.Xid = xid
			eb, _ := rep.MarshalBinary()
			// Not on this goroutine: a large request being written holds
			// the write lock, and the switch stops reading it when its
			// replies to us are not read.
			go c.write(eb)
			continue
		}
		c.mu.Lock()
		var w *waiter
		for _, x := range c.waiters {
			if x.lo <= xid && xid <= x.hi {
				w = x
				break
			}
		}
		if w == nil {
			c.mu.Unlock()
			if c.handle != nil {
				c.handle(b)
			}
			continue
		}
		rep := Reply{XID: xid}
		if b[1] == openflow15.Type_Error {
			rep.Err = parseError(b)
		} else if msg, perr := openflow15.Parse(b); perr != nil {
			rep.Err = &Error{Type: 0xffff, Message: fmt.Sprintf("unparseable reply of type %d: %v", b[1], perr)}
		} else {
			rep.Msg = msg
		}
		w.replies = append(w.replies, rep)
		last := xid == w.hi && b[1] == openflow15.Type_BarrierReply
		c.mu.Unlock()
		if last {
			close(w.done)
		}
	}
}

// write sends encoded messages as they are.
func (c *Conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(RequestTimeout))
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("send openflow message: %w", err)
	}
	return nil
}

// XIDs reserves n consecutive transaction ids and returns the first, for
// requests whose xid must be known when they are encoded (a bundle's
// messages carry theirs twice). Xid 0 is never used.
func (c *Conn) XIDs(n int) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nextXID == 0 || uint64(c.nextXID)+uint64(n)+1 > 1<<32-1 {
		c.nextXID = 1
	}
	first := c.nextXID
	c.nextXID += uint32(n)
	return first
}

// SetXID writes xid into an encoded message's header.
func SetXID(b []byte, xid uint32) { binary.BigEndian.PutUint32(b[4:8], xid) }

// Exchange sends msgs, encoded with consecutive xids first..first+len-1
// from XIDs, followed by a barrier, and waits for the barrier's reply: the
// switch answers requests in order, so everything it says about msgs has
// arrived by then. It returns every reply and error, in arrival order
// (the barrier's reply last). The messages are written in large writes,
// so a bundle of 100k flow mods costs few system calls.
func (c *Conn) Exchange(ctx context.Context, first uint32, msgs [][]byte) ([]Reply, error) {
	barrierXID := c.XIDs(1)
	bar, err := openflow15.NewBarrierRequest().MarshalBinary()
	if err != nil {
		return nil, err
	}
	SetXID(bar, barrierXID)
	if len(msgs) == 0 {
		first = barrierXID
	}
	w := &waiter{lo: first, hi: barrierXID, done: make(chan struct{})}
	c.mu.Lock()
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		for i, x := range c.waiters {
			if x == w {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
	}()
	all := make([][]byte, 0, len(msgs)+1)
	if err := c.writeAll(append(append(all, msgs...), bar)); err != nil {
		return nil, err
	}
	// The switch checks every message before the barrier's reply: a
	// large bundle gets time in proportion.
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout+time.Duration(len(msgs))*100*time.Microsecond)
	defer cancel()
	select {
	case <-w.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return w.replies, nil
	case <-c.done:
		return nil, fmt.Errorf("connection closed: %w", c.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the switch: %w", ctx.Err())
	}
}

// writeAll writes msgs through one buffer under the write lock.
func (c *Conn) writeAll(msgs [][]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(RequestTimeout + time.Duration(len(msgs))*time.Microsecond*10))
	if c.bw == nil {
		c.bw = bufio.NewWriterSize(c.conn, 256<<10)
	}
	bw := c.bw
	bw.Reset(c.conn) // nothing of a failed write is sent later
	for _, b := range msgs {
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("send openflow message: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("send openflow message: %w", err)
	}
	return nil
}

// Do sends msgs (their xids are set here) followed by a barrier: the
// first error any of them caused is returned, and so is the last reply
// that is not the barrier's (a multipart reply), else nil.
func (c *Conn) Do(ctx context.Context, msgs ...encoding.BinaryMarshaler) (util.Message, error) {
	first := c.XIDs(len(msgs))
	enc := make([][]byte, len(msgs))
	for i, m := range msgs {
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode openflow message: %w", err)
		}
		SetXID(b, first+uint32(i))
		enc[i] = b
	}
	replies, err := c.Exchange(ctx, first, enc)
	if err != nil {
		return nil, err
	}
	var reply util.Message
	for _, r := range replies {
		switch {
		case r.Err != nil:
			return nil, r.Err
		case r.XID < first+uint32(len(msgs)):
			reply = r.Msg
		}
	}
	return reply, nil
}

// Error is an OpenFlow error message the switch answered with.
type Error struct {
	// Type and Code are the OpenFlow error's (ofp_error_msg).
	Type, Code uint16
	// Message is OVS's explanation when it sent one (NXET_VENDOR errors
	// carry none), or what could not be parsed.
	Message string
}

func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("openflow error type %d code %d: %s", e.Type, e.Code, e.Message)
	}
	return fmt.Sprintf("openflow error type %d code %d", e.Type, e.Code)
}

// parseError decodes an OFPT_ERROR message: type, code, and for
// experimenter errors (OVS's own codes) the experimenter's code.
func parseError(b []byte) *Error {
	if len(b) < 12 {
		return &Error{Type: 0xffff, Message: "short error message"}
	}
	e := &Error{Type: binary.BigEndian.Uint16(b[8:10]), Code: binary.BigEndian.Uint16(b[10:12])}
	return e
}
