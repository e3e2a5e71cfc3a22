package packetin

import (
	"context"
	"fmt"

	"antrea.io/libOpenflow/openflow15"

	"github.com/flowgate/flowgate/ovs/ofconn"
)

// Conn is one service connection to a bridge that receives packet-ins.
// Requests (meter changes, meter statistics) may be made from any
// goroutine.
type Conn struct {
	*ofconn.Conn
}

// Dial connects to the management socket at path (ofconn.SocketPath) and
// asks for packet-ins, which handle receives one at a time on the
// connection's reader goroutine: it must not block (hand the packet on or
// drop it), or the switch queues and then drops packet-ins for this
// connection.
func Dial(ctx context.Context, path string, handle func(PacketIn)) (*Conn, error) {
	oc, err := ofconn.Dial(ctx, path, func(b []byte) {
		if pi, ok, perr := parsePacketIn2(b); ok && perr == nil && handle != nil {
			handle(pi)
		}
	})
	if err != nil {
		return nil, err
	}
	c := &Conn{oc}
	// NXT_PACKET_IN2 carries the controller action's userdata; a
	// nonzero miss_send_len is what makes a service connection receive
	// packet-ins at all.
	cfg := openflow15.NewSetConfig()
	cfg.MissSendLen = 0xffff
	if _, err := c.Do(ctx, openflow15.NewSetPacketInFormat(openflow15.OFPUTIL_PACKET_IN_NXT2), cfg); err != nil {
		c.Close()
		return nil, fmt.Errorf("ask %s for packet-ins: %w", path, err)
	}
	return c, nil
}
