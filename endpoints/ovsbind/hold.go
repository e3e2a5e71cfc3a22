package ovsbind

import (
	"net"

	"github.com/flowgate/flowgate/translator/compiler"
)

// IsWorkloadPort is the hold rule of file mode and `flowgate apply`: a port
// with an external_ids:iface-id was plugged for a workload (a pod, a VM
// port, a WorkloadEndpoint) by whatever created it, so until an endpoint
// binds to it, it must not pass traffic. Ports without an iface-id —
// uplinks, patch and tunnel ports, the bridge's internal port — are not
// workloads and keep the pipeline's non-endpoint path.
func IsWorkloadPort(p Port) bool { return p.IfaceID != "" }

// Held are the ports to hold (compiler.HoldFlows): the usable ports that
// held(p) calls workload ports and no endpoint is bound to — the endpoint
// is unknown yet, is on another node, or has no MAC. An endpoint that is
// known and bound but has no IP yet needs no hold: its spoof guard admits
// only its own addresses, which is none.
func Held(ports []Port, locals map[string]compiler.Binding, held func(Port) bool) []compiler.HeldPort {
	var out []compiler.HeldPort
	for _, p := range HeldPorts(ports, locals, held) {
		h := compiler.HeldPort{Name: p.Name, OFPort: uint32(p.OFPort)}
		if mac, err := net.ParseMAC(p.AttachedMAC); err == nil && len(mac) == 6 {
			h.MAC = mac
		}
		out = append(out, h)
	}
	return out
}

// HeldPorts are the usable ports that held(p) calls workload ports and no
// endpoint is bound to: the ports Held returns, as OVSDB describes them.
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
