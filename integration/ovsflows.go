package integration

import (
	"fmt"
	"strings"

	"github.com/flowgate/flowgate/ovs/oftrace"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/translator/compiler"
)

// OpenFlow is the protocol version flows are written with: conjunctions,
// ct() and goto_table need 1.3 or later, bundles 1.4.
const OpenFlow = "OpenFlow15"

// ReplaceFlows installs exactly flows on bridge, atomically (one bundle
// that deletes everything and adds the new set).
func ReplaceFlows(o *sandbox.OVS, bridge string, flows []compiler.Flow) error {
	var b strings.Builder
	b.WriteString("delete\n")
	for _, f := range flows {
		b.WriteString("add ")
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	if out, err := o.OfctlInput(b.String(), "-O", OpenFlow, "--bundle", "add-flows", bridge, "-"); err != nil {
		// ovs-vswitchd's log says why it refused or dropped the bundle's
		// connection (an ovs-ofctl "Broken pipe" says only that it did).
		return fmt.Errorf("install %d flows: %w: %s\novs-vswitchd.log tail:\n%s", len(flows), err, out, o.LogTail(15))
	}
	return nil
}

// Trace runs ofproto/trace for one packet of a new connection and reports
// whether the bridge would deliver it anywhere. The full trace is returned
// for failure messages.
func Trace(o *sandbox.OVS, bridge, packet string) (delivered bool, trace string, err error) {
	return TraceState(o, bridge, packet, "trk,new")
}

// TraceState is Trace with the conntrack state every ct() action returns
// (--ct-next): "trk,est" for a packet of an open connection from its
// initiator.
func TraceState(o *sandbox.OVS, bridge, packet, state string) (delivered bool, trace string, err error) {
	out, err := o.Appctl("ofproto/trace", bridge, packet, "--ct-next", state)
	if err != nil {
		return false, out, fmt.Errorf("trace %s: %w", packet, err)
	}
	return delivers(out), out, nil
}

// delivers reads whether a trace's packet was delivered (oftrace.Delivers).
func delivers(trace string) bool { return oftrace.Delivers(trace) }
