package compiler

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/flowgate/flowgate/translator/policy"
)

// sourceMAC is one MAC an endpoint may send from, with the addresses it
// may use with it.
type sourceMAC struct {
	mac   string
	addrs []netip.Prefix
}

// sourceMACs groups what the endpoint may send from by MAC: its own (the
// binding's) with its addresses and the pairs naming no other MAC first,
// then each other pair MAC in the order the pairs name them.
func sourceMACs(e *policy.Endpoint, own net.HardwareAddr) []sourceMAC {
	out := []sourceMAC{{mac: own.String()}}
	for _, a := range e.IPs {
		out[0].addrs = append(out[0].addrs, netip.PrefixFrom(a, a.BitLen()))
	}
	at := map[string]int{out[0].mac: 0}
	for _, p := range e.AddressPairs {
		mac := out[0].mac
		if len(p.MAC) == 6 {
			mac = p.MAC.String()
		}
		i, ok := at[mac]
		if !ok {
			i = len(out)
			at[mac] = i
			out = append(out, sourceMAC{mac: mac})
		}
		out[i].addrs = append(out[i].addrs, p.Prefix.Masked())
	}
	for i := range out {
		out[i].addrs = normalizePrefixes(out[i].addrs)
	}
	return out
}

// spoofGuardFlows admit, from one MAC on the endpoint's port, IP from its
// addresses, ARP claiming them, and (when it has IPv6 addresses)
// link-local traffic and neighbour discovery.
func (c *Compiler) spoofGuardFlows(f func(Table, uint16, string, string) Flow, inPort string, s sourceMAC) []Flow {
	src := inPort + ",dl_src=" + s.mac
	toCT := fmt.Sprintf("goto_table:%d", c.opts.table(TableConntrack))
	var out []Flow
	hasV6 := false
	for _, p := range s.addrs {
		if p.Addr().Is4() {
			out = append(out,
				f(TableSpoofGuard, prioEndpoint, src+",ip"+addrMatch(",nw_src=", p), toCT),
				f(TableSpoofGuard, prioEndpoint, src+",arp"+addrMatch(",arp_spa=", p)+",arp_sha="+s.mac, c.opts.normal()))
			continue
		}
		hasV6 = true
		out = append(out,
			f(TableSpoofGuard, prioEndpoint, src+",ipv6"+addrMatch(",ipv6_src=", p), toCT),
			f(TableSpoofGuard, prioSpecific, src+",icmp6,icmpv6_type=136"+addrMatch(",nd_target=", p), c.opts.normal()))
	}
	if hasV6 {
		// Link-local traffic and neighbour discovery from the MAC:
		// solicitations may come from the unspecified address.
		out = append(out,
			f(TableSpoofGuard, prioEndpoint, src+",ipv6,ipv6_src=fe80::/10", toCT),
			f(TableSpoofGuard, prioSpecific, src+",icmp6,icmpv6_type=133", c.opts.normal()),
			f(TableSpoofGuard, prioSpecific, src+",icmp6,icmpv6_type=135,nd_sll=00:00:00:00:00:00", c.opts.normal()),
			f(TableSpoofGuard, prioSpecific, src+",icmp6,icmpv6_type=135,nd_sll="+s.mac, c.opts.normal()),
			f(TableSpoofGuard, prioSpecific, src+",icmp6,icmpv6_type=136,nd_target=fe80::/10", c.opts.normal()))
		for _, t := range []int{130, 131, 132, 143} {
			out = append(out, f(TableSpoofGuard, prioSpecific, fmt.Sprintf("%s,icmp6,icmpv6_type=%d", src, t), c.opts.normal()))
		}
	}
	return out
}

// addrMatch matches field against p: the address alone for one address,
// nothing for all addresses (OVS drops a /0 match, and two flows differing
// only by it would be one).
func addrMatch(field string, p netip.Prefix) string {
	switch {
	case p.Bits() == 0:
		return ""
	case p.IsSingleIP():
		return field + p.Addr().String()
	}
	return field + p.String()
}

// neutronPortFlows are Neutron's fixed per-port rules, ahead of the spoof
// guard: a DHCP client may broadcast from 0.0.0.0 before it has an address,
// and DHCPv6 from link-local, switched without conntrack as Neutron does;
// the port may never send a DHCP server's answers, whatever its policy and
// its connections.
func (c *Compiler) neutronPortFlows(f func(Table, uint16, string, string) Flow, inPort, mac string) []Flow {
	src := inPort + ",dl_src=" + mac
	return []Flow{
		f(TableSpoofGuard, prioHigh, inPort+",udp,udp_src=67,udp_dst=68", "drop"),
		f(TableSpoofGuard, prioHigh, inPort+",udp6,udp_src=547,udp_dst=546", "drop"),
		f(TableSpoofGuard, prioSpecific, src+",udp,nw_src=0.0.0.0,udp_src=68,udp_dst=67", c.opts.normal()),
		f(TableSpoofGuard, prioSpecific, src+",udp6,ipv6_src=fe80::/10,udp_src=546,udp_dst=547", c.opts.normal()),
	}
}

// foreignPairMACs reports whether e has address pairs with a MAC other
// than its own (own).
func foreignPairMACs(e *policy.Endpoint, own net.HardwareAddr) bool {
	for _, p := range e.AddressPairs {
		if len(p.MAC) == 6 && p.MAC.String() != own.String() {
			return true
		}
	}
	return false
}

// claimedElsewhere reports whether another local endpoint is recognised
// by mac, a pair MAC of endpoint id: one whose own MAC it is, or one
// before id (in ID order) with a pair of that MAC. Ports sharing a pair
// MAC (a VRRP virtual MAC) cannot all be the destination of frames to it:
// the first is, and its ingress policy applies.
func (c *Compiler) claimedElsewhere(id, mac string) bool {
	for _, other := range c.locals() {
		if other == id {
			continue
		}
		b := c.opts.Locals[other]
		e := c.endpoint(other)
		if e == nil || e.Guard == policy.GuardNone {
			continue
		}
		if b.MAC.String() == mac {
			return true
		}
		if other > id {
			continue
		}
		for _, p := range e.AddressPairs {
			if len(p.MAC) == 6 && p.MAC.String() == mac {
				return true
			}
		}
	}
	return false
}
