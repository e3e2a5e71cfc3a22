package ovsbind

import (
	"fmt"
	"net"

	"github.com/flowgate/flowgate/translator/compiler"
)

// CategoryHold is the cookie category of hold flows (the compiler's own
// categories are 1–5).
const CategoryHold = 0x10

// holdPriority sits between the classify and destination tables' misses
// (priority 0: "no endpoint, no policy") and an endpoint's own flows
// (priority 100), so a port's hold yields to its endpoint flows the moment
// they exist, in the same bundle that removes the hold.
const holdPriority = 50

// IsWorkloadPort is the hold rule of file mode and `flowgate apply`: a port
// with an external_ids:iface-id was plugged for a workload (a pod, a VM
// port, a WorkloadEndpoint) by whatever created it, so until an endpoint
// binds to it, it must not pass traffic. Ports without an iface-id —
// uplinks, patch and tunnel ports, the bridge's internal port — are not
// workloads and keep the pipeline's non-endpoint path.
func IsWorkloadPort(p Port) bool { return p.IfaceID != "" }

// HoldFlows returns the flows that hold the traffic of workload ports
// (held(p) is true) bound to no local endpoint: the endpoint is unknown
// yet, is on another node, or has no MAC. Without them such a port is, to
// the pipeline, no endpoint at all: its traffic would skip the spoof guard
// and egress policy (classify's miss) and reach it without ingress policy
// (destination's miss). With them, everything from the port is dropped in
// classify and everything addressed to its attached-mac in destination,
// until the endpoint's own flows replace the hold — as Neutron parks an
// unbound port in its dead VLAN. Frames the NORMAL action floods
// (broadcast, unknown unicast) still reach the port; it cannot answer.
//
// An endpoint that is known and bound but has no IP yet needs no hold: its
// spoof guard admits only its own addresses, which is none.
func HoldFlows(ports []Port, locals map[string]compiler.Binding, generation uint8, held func(Port) bool) []compiler.Flow {
	boundMAC := map[string]bool{}
	for _, b := range locals {
		boundMAC[b.MAC.String()] = true
	}
	var out []compiler.Flow
	seen := map[compiler.FlowKey]bool{}
	add := func(f compiler.Flow) {
		if !seen[f.Key()] {
			seen[f.Key()] = true
			out = append(out, f)
		}
	}
	for _, p := range HeldPorts(ports, locals, held) {
		ck := compiler.NewCookie(generation, CategoryHold, false, uint32(p.OFPort))
		add(compiler.Flow{Table: compiler.TableClassify.ID, Priority: holdPriority,
			Match: fmt.Sprintf("in_port=%d", p.OFPort), Actions: "drop", Cookie: ck})
		if mac, err := net.ParseMAC(p.AttachedMAC); err == nil && len(mac) == 6 && !boundMAC[mac.String()] {
			add(compiler.Flow{Table: compiler.TableDestination.ID, Priority: holdPriority,
				Match: "dl_dst=" + mac.String(), Actions: "drop", Cookie: ck})
		}
	}
	compiler.SortFlows(out)
	return out
}

// HeldPorts are the usable ports that held(p) calls workload ports and no
// endpoint is bound to: the ports HoldFlows holds.
func HeldPorts(ports []Port, locals map[string]compiler.Binding, held func(Port) bool) []Port {
	boundPort := map[uint32]bool{}
	for _, b := range locals {
		boundPort[b.OFPort] = true
	}
	var out []Port
	for _, p := range ports {
		if p.OFPort > 0 && held(p) && !boundPort[uint32(p.OFPort)] {
			out = append(out, p)
		}
	}
	return out
}
