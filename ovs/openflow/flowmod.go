package openflow

import (
	"fmt"

	"antrea.io/libOpenflow/openflow15"

	"github.com/flowgate/flowgate/translator/compiler"
)

// flowAdd encodes f as the OpenFlow 1.5 flow mod `ovs-ofctl add-flows`
// sends for an "add" line: OFPFC_ADD with the flow's cookie, table,
// priority, match and instructions, no timeouts, no flags. An add
// replaces the flow with the same table, priority and match, actions and
// cookie together, which is how a modified flow is sent too.
func flowAdd(f *compiler.Flow) (*openflow15.FlowMod, error) {
	fm, err := flowModKey(f, openflow15.FC_ADD)
	if err != nil {
		return nil, err
	}
	ins, err := parseInstructions(f.Actions)
	if err != nil {
		return nil, fmt.Errorf("actions %q: %w", f.Actions, err)
	}
	fm.Cookie = uint64(f.Cookie)
	fm.Instructions = ins
	return fm, nil
}

// flowDeleteStrict encodes the "delete_strict table=T,priority=P,MATCH"
// line of a delta: the one flow with exactly that key, whatever its
// cookie (cookie mask 0) and outputs (out_port and out_group any).
func flowDeleteStrict(f *compiler.Flow) (*openflow15.FlowMod, error) {
	return flowModKey(f, openflow15.FC_DELETE_STRICT)
}

// flowModKey is a flow mod of command for f's table, priority and match.
func flowModKey(f *compiler.Flow, command uint8) (*openflow15.FlowMod, error) {
	if f.Table > 253 {
		return nil, unsupported("table %d", f.Table)
	}
	m, err := parseMatch(f.Match)
	if err != nil {
		return nil, err
	}
	fm := openflow15.NewFlowMod()
	fm.Command = command
	fm.TableId = f.Table
	fm.Priority = f.Priority
	fm.Match = m
	return fm, nil
}
