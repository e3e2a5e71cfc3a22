package evaluator

import (
	"net"
	"net/netip"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// ruleMatches reports whether every constraint of r holds for p, a packet
// of the given network ("" for none).
func (ev *Evaluator) ruleMatches(r *policy.Rule, p Packet, network string) bool {
	if r.IPVersion != 0 && r.IPVersion != p.ipVersion() {
		return false
	}
	if r.Protocol != 0 && r.Protocol != p.Protocol {
		return false
	}
	if r.NotProtocol != 0 && r.NotProtocol == p.Protocol {
		return false
	}
	if r.ICMP != nil && !(p.Protocol.IsICMP() && r.ICMP.Matches(p.ICMPType, p.ICMPCode)) {
		return false
	}
	if r.NotICMP != nil && p.Protocol.IsICMP() && r.NotICMP.Matches(p.ICMPType, p.ICMPCode) {
		return false
	}
	return ev.peerMatches(&r.Source, p.Src, p.SrcMAC, p.Protocol, p.SrcPort, network) &&
		ev.peerMatches(&r.Destination, p.Dst, p.DstMAC, p.Protocol, p.DstPort, network)
}

// peerMatches checks one side of a rule against that side's address, MAC
// and port, in the packet's network.
func (ev *Evaluator) peerMatches(peer *policy.Peer, addr netip.Addr, mac net.HardwareAddr, proto policy.Protocol, port uint16, network string) bool {
	if len(peer.Nets) > 0 && !inAny(peer.Nets, addr) {
		return false
	}
	if inAny(peer.NotNets, addr) {
		return false
	}
	// A selector used alone also selects by the MAC of a member's pair of
	// all addresses, as the compiler matches it (macmembers.go).
	alone := len(peer.Nets) == 0 && len(peer.NotNets) == 0 && peer.NotSelector == nil
	if peer.Selector != nil && !ev.selects(*peer.Selector, addr, network) && !(alone && ev.selectsMAC(*peer.Selector, addr, mac)) {
		return false
	}
	if peer.NotSelector != nil && ev.selects(*peer.NotSelector, addr, network) {
		return false
	}
	if len(peer.Ports) > 0 && !ev.portMatches(peer.Ports, peer.Selector, addr, proto, port, network) {
		return false
	}
	if len(peer.NotPorts) > 0 && ev.portMatches(peer.NotPorts, peer.Selector, addr, proto, port, network) {
		return false
	}
	return true
}

func inAny(nets []netip.Prefix, a netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// selects reports whether sel selects an entity that owns addr in the
// packet's network: an endpoint with that address, or a network set
// containing it, that is in no network or in this one.
func (ev *Evaluator) selects(sel selector.Selector, addr netip.Addr, network string) bool {
	for _, e := range ev.byAddr[addr] {
		if inNetwork(ev.labels[e], network) && sel.Matches(ev.labels[e]) {
			return true
		}
	}
	for _, s := range ev.sets {
		if inAny(s.set.Nets, addr) && inNetwork(s.labels, network) && sel.Matches(s.labels) {
			return true
		}
	}
	return false
}

// portMatches reports whether port matches one of ms: numerically, or as
// a named port that an endpoint owning addr (and selected by sel, when
// set) publishes for this protocol.
func (ev *Evaluator) portMatches(ms []policy.PortMatch, sel *selector.Selector, addr netip.Addr, proto policy.Protocol, port uint16, network string) bool {
	if !proto.HasPorts() {
		return false
	}
	for _, m := range ms {
		if m.Name == "" {
			if m.Contains(port) {
				return true
			}
			continue
		}
		for _, e := range ev.byAddr[addr] {
			if (sel != nil && !sel.Matches(ev.labels[e])) || !inNetwork(ev.labels[e], network) {
				continue
			}
			for _, np := range e.Ports {
				if np.Name == m.Name && policy.Protocol(np.Protocol) == proto && np.Port == port {
					return true
				}
			}
		}
	}
	return false
}

// selectsMAC reports whether sel selects an endpoint with an address pair
// of all addresses of addr's family coming with mac.
func (ev *Evaluator) selectsMAC(sel selector.Selector, addr netip.Addr, mac net.HardwareAddr) bool {
	if len(mac) != 6 {
		return false
	}
	for _, e := range ev.wide[mac.String()] {
		if !sel.Matches(ev.labels[e]) {
			continue
		}
		for _, p := range e.AddressPairs {
			if p.Prefix.Bits() == 0 && p.Prefix.Addr().Is4() == addr.Is4() && pairMAC(e, p).String() == mac.String() {
				return true
			}
		}
	}
	return false
}

// pairMAC is the MAC a pair comes with: its own, else the endpoint's.
func pairMAC(e *policy.Endpoint, p policy.AddressPair) net.HardwareAddr {
	if len(p.MAC) == 6 {
		return p.MAC
	}
	return e.MAC
}

// inNetwork reports whether an entity's addresses are seen in packets of
// network: they are not confined to a network (policy.LabelScopedNetwork),
// or to that one.
func inNetwork(labels selector.Set, network string) bool {
	n, ok := labels[policy.LabelScopedNetwork]
	return !ok || n == network
}
