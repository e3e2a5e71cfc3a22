package openflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"antrea.io/libOpenflow/openflow15"

	"github.com/flowgate/flowgate/ovs/ofconn"
	"github.com/flowgate/flowgate/translator/compiler"
)

// errNotNative (wrapped) says a delta was not sent over the native
// connection and nothing of it reached the switch: a flow outside the
// native vocabulary, or no connection. ovs-ofctl then sends it.
var errNotNative = errors.New("not sent natively")

// bundleFlags are ovs-ofctl --bundle's: all or nothing, in order.
const bundleFlags = openflow15.BF_ATOMIC | openflow15.BF_ORDERED

// native sends deltas as OpenFlow bundles over one persistent connection
// to the bridge's management socket, instead of starting ovs-ofctl (12–20
// ms of process start and text parsing per change). It is used by one
// Programmer, under its lock.
type native struct {
	path     string
	conn     *ofconn.Conn
	bundleID uint32
}

// connection returns the open connection, dialling a new one when there
// is none or the last one ended (ovs-vswitchd restarted).
func (n *native) connection(ctx context.Context) (*ofconn.Conn, error) {
	if n.conn != nil && n.conn.Err() == nil {
		return n.conn, nil
	}
	c, err := ofconn.Dial(ctx, n.path, nil)
	if err != nil {
		return nil, err
	}
	n.conn = c
	return c, nil
}

// close ends the connection, if any.
func (n *native) close() {
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
}

// applyDelta sends d as one atomic, ordered bundle: strict deletes first,
// then adds (new and modified flows), as ofctl.applyDelta writes them.
//
// The bundle is opened and every flow mod added, then a barrier: the
// switch checks each flow mod when it is added, so an error there names
// its flow, and the bundle is discarded without committing anything.
// Only a bundle whose every message was accepted is committed; if the
// commit fails (a flow the switch refuses only when applying it, e.g. a
// full table), OVS names the failing flow mod and rolls the whole bundle
// back. A flow outside the native vocabulary, or no connection, is
// errNotNative before anything is sent.
func (n *native) applyDelta(ctx context.Context, d compiler.Delta) error {
	flows := make([]*compiler.Flow, 0, d.Len())
	mods := make([]*openflow15.FlowMod, 0, d.Len())
	for i := range d.Delete {
		fm, err := flowDeleteStrict(&d.Delete[i])
		if err != nil {
			return fmt.Errorf("%w: delete %s: %w", errNotNative, d.Delete[i].String(), err)
		}
		flows, mods = append(flows, &d.Delete[i]), append(mods, fm)
	}
	for _, fs := range [][]compiler.Flow{d.Add, d.Modify} {
		for i := range fs {
			fm, err := flowAdd(&fs[i])
			if err != nil {
				return fmt.Errorf("%w: add %s: %w", errNotNative, fs[i].String(), err)
			}
			flows, mods = append(flows, &fs[i]), append(mods, fm)
		}
	}
	c, err := n.connection(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotNative, err)
	}
	return n.bundle(ctx, c, flows, mods)
}

// bundle sends mods (flows[i] is what mods[i] changes, for errors) in one
// bundle on c.
func (n *native) bundle(ctx context.Context, c *ofconn.Conn, flows []*compiler.Flow, mods []*openflow15.FlowMod) error {
	n.bundleID++
	id := n.bundleID
	// xids: open, one per flow mod (the bundle-add message and the flow
	// mod inside it carry the same one, as OVS reports a flow mod's
	// failure at commit with the inner xid), commit.
	first := c.XIDs(len(mods) + 2)
	msgs := make([][]byte, 0, len(mods)+1)
	open, err := openflow15.NewBundleCtrl(id, openflow15.BCT_OPEN_REQUEST, bundleFlags).MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode bundle open: %w", err)
	}
	ofconn.SetXID(open, first)
	msgs = append(msgs, open)
	for i, fm := range mods {
		xid := first + 1 + uint32(i)
		fm.Xid = xid
		add := openflow15.NewBndleAdd(id, bundleFlags)
		add.Message = fm
		b, err := add.MarshalBinary()
		if err != nil {
			return fmt.Errorf("encode %s: %w", flows[i].String(), err)
		}
		ofconn.SetXID(b, xid)
		msgs = append(msgs, b)
	}
	flowOf := func(xid uint32) string {
		if i := int(xid - first - 1); xid > first && i < len(flows) {
			return flows[i].String()
		}
		return ""
	}
	replies, err := c.Exchange(ctx, first, msgs)
	if err != nil {
		// The bundle may be open on the switch: closing the connection
		// discards it.
		n.close()
		return fmt.Errorf("send bundle of %d flow mods: %w", len(mods), err)
	}
	if err := bundleErrors(replies, flowOf, "adding to the bundle"); err != nil {
		n.discard(ctx, c, id)
		return err
	}
	commit, err := openflow15.NewBundleCtrl(id, openflow15.BCT_COMMIT_REQUEST, bundleFlags).MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode bundle commit: %w", err)
	}
	ofconn.SetXID(commit, first+uint32(len(mods))+1)
	// The waiter covers first..commit, so that OVS's errors naming a
	// flow mod of the bundle (with its xid) are collected too.
	replies, err = c.Exchange(ctx, first, [][]byte{commit})
	if err != nil {
		// Committed or not is unknown: the caller makes the programmer
		// stale, so the next Sync replaces everything.
		n.close()
		return fmt.Errorf("commit bundle of %d flow mods (whether it was applied is unknown): %w", len(mods), err)
	}
	return bundleErrors(replies, flowOf, "committing the bundle (nothing of it was applied)")
}

// discard drops an open bundle whose adds failed. OVS also drops it when
// the connection closes; an error here leaves nothing committed either.
func (n *native) discard(ctx context.Context, c *ofconn.Conn, id uint32) {
	if _, err := c.Do(ctx, openflow15.NewBundleCtrl(id, openflow15.BCT_DISCARD_REQUEST, bundleFlags)); err != nil {
		n.close()
	}
}

// bundleErrors is nil when replies hold no error, else one error naming
// every flow the switch refused and why.
func bundleErrors(replies []ofconn.Reply, flowOf func(uint32) string, stage string) error {
	var msgs []string
	var first error
	for _, r := range replies {
		if r.Err == nil {
			continue
		}
		if first == nil {
			first = r.Err
		}
		if f := flowOf(r.XID); f != "" {
			msgs = append(msgs, fmt.Sprintf("flow %q: %s", f, describe(r.Err)))
		} else {
			msgs = append(msgs, describe(r.Err))
		}
	}
	if first == nil {
		return nil
	}
	return fmt.Errorf("%s: %s: %w", stage, strings.Join(msgs, "; "), first)
}

// errorTypes name the OpenFlow error types a flow mod or bundle can
// cause, as ovs-ofctl's messages do.
var errorTypes = map[uint16]string{
	1: "OFPET_BAD_REQUEST", 2: "OFPET_BAD_ACTION", 3: "OFPET_BAD_INSTRUCTION",
	4: "OFPET_BAD_MATCH", 5: "OFPET_FLOW_MOD_FAILED", 17: "OFPET_BUNDLE_FAILED",
	0xffff: "OFPET_EXPERIMENTER (an OVS extension's error)",
}

func describe(e *ofconn.Error) string {
	if t, ok := errorTypes[e.Type]; ok {
		return fmt.Sprintf("%s code %d", t, e.Code)
	}
	return e.Error()
}
