package compiler

import (
	"fmt"
	"net"
	"slices"
)

// HeldPort is a workload port bound to no endpoint (the sources decide
// which ports are workload ports: endpoints/ovsbind.Held). Its traffic is
// held — dropped both ways — until an endpoint binds to it.
type HeldPort struct {
	// Name is the port's name; on a shared bridge it keys the port's entry
	// flows beside the bound endpoints'.
	Name string
	// OFPort is the port's OpenFlow port number.
	OFPort uint32
	// MAC is the port's external_ids:attached-mac; nil when it has none
	// or it does not parse.
	MAC net.HardwareAddr
}

// holdPriority sits between the classify and destination tables' misses
// (priority 0: "no endpoint, no policy") and an endpoint's own flows
// (priority 100), so a port's hold yields to its endpoint flows the moment
// they exist, in the same bundle that removes the hold.
const holdPriority = 50

// HoldFlows returns the flows that hold the traffic of held ports. Without
// them such a port is, to the pipeline, no endpoint at all: its traffic
// would skip the spoof guard and egress policy (classify's miss) and reach
// it without ingress policy (destination's miss). With them, everything
// from the port is dropped in classify and everything addressed to its MAC
// (unless a bound endpoint has that MAC) in destination, until the
// endpoint's own flows replace the hold — as Neutron parks an unbound port
// in its dead VLAN. Frames the NORMAL action floods (broadcast, unknown
// unicast) still reach the port; it cannot answer.
//
// opts gives the bindings (Locals), the generation and the layout.
func HoldFlows(held []HeldPort, opts Options) []Flow {
	boundMAC := map[string]bool{}
	for _, b := range opts.Locals {
		boundMAC[b.MAC.String()] = true
	}
	var out []Flow
	seen := map[FlowKey]bool{}
	add := func(f Flow) {
		if !seen[f.Key()] {
			seen[f.Key()] = true
			out = append(out, f)
		}
	}
	for _, p := range held {
		ck := opts.cookie(CategoryHold, false, p.OFPort)
		add(Flow{Table: opts.table(TableClassify), Priority: holdPriority,
			Match: fmt.Sprintf("in_port=%d", p.OFPort), Actions: "drop", Cookie: ck})
		if mac := p.MAC.String(); len(p.MAC) == 6 && !boundMAC[mac] {
			add(Flow{Table: opts.table(TableDestination), Priority: holdPriority,
				Match: "dl_dst=" + mac, Actions: "drop", Cookie: ck})
		}
	}
	SortFlows(out)
	return out
}

// BridgeFlows is the complete set of flows a bridge should have: c's
// pipeline (compiled for its world, its Options.Locals and its layout), the
// hold flows of held, and on a bridge shared with another controller
// (Options.Shared) the entry flows that divert the bound and held ports'
// traffic into it. The agent, `flowgate apply`, `flowgate compile` and the
// tests that install compiled flows all take the set from here, so that
// what is tested is what is installed.
func (c *Compiler) BridgeFlows(held []HeldPort) []Flow {
	flows := c.Flows()
	if hold := HoldFlows(held, c.opts); len(hold) > 0 {
		flows = slices.Concat(flows, hold)
	}
	if c.opts.Shared != nil {
		flows = slices.Concat(flows, c.opts.Shared.EntryFlows(c.world, c.opts.Locals, held, c.opts.Generation))
	}
	return flows
}
