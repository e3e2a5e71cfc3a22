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
// neighbour discovery about them.
func (c *Compiler) spoofGuardFlows(f func(Table, uint16, string, string) Flow, inPort string, s sourceMAC) []Flow {
	src := inPort + ",dl_src=" + s.mac
	toCT := fmt.Sprintf("goto_table:%d", c.opts.table(TableConntrack))
	var out []Flow
	var v6 []netip.Prefix
	for _, p := range s.addrs {
		if p.Addr().Is4() {
			out = append(out,
				f(TableSpoofGuard, prioEndpoint, src+",ip"+addrMatch(",nw_src=", p), toCT),
				f(TableSpoofGuard, prioEndpoint, src+",arp"+addrMatch(",arp_spa=", p)+",arp_sha="+s.mac, c.opts.normal()))
			continue
		}
		v6 = append(v6, p)
	}
	if len(v6) > 0 {
		out = append(out, c.spoofGuardFlows6(f, src, s.mac, v6)...)
	}
	return out
}

// ndTypes are the ICMPv6 types of neighbour discovery (RFC 4861): router
// solicitation and advertisement, neighbour solicitation and
// advertisement, redirect.
var ndTypes = []int{133, 134, 135, 136, 137}

// mldTypes are multicast listener queries, reports and done (MLDv1) and
// MLDv2 reports: a host joins its solicited-node groups with them.
var mldTypes = []int{130, 131, 132, 143}

// spoofGuardFlows6 admit, from one MAC (src matches the port and it), IPv6
// from its addresses and from its link-local address, and neighbour
// discovery only about them: a neighbour solicitation from one of them
// (or from :: without a link-layer option, duplicate address detection)
// carrying mac or nothing; an advertisement from one of them for one of
// them, naming mac or nothing; router solicitations and MLD from one of
// them (or from ::). Any other neighbour discovery from the MAC — router
// advertisements and redirects above all — is dropped, even from its own
// addresses (the IPv6 flows would otherwise carry it to conntrack, which
// switches neighbour discovery). The link-local address is the EUI-64
// one of mac, Linux's default (as Neutron allows it); a workload using
// another lists it among its addresses or address pairs.
func (c *Compiler) spoofGuardFlows6(f func(Table, uint16, string, string) Flow, src, mac string, addrs []netip.Prefix) []Flow {
	toCT := fmt.Sprintf("goto_table:%d", c.opts.table(TableConntrack))
	hw, _ := net.ParseMAC(mac)
	addrs = normalizePrefixes(append(append([]netip.Prefix(nil), addrs...), netip.PrefixFrom(eui64LinkLocal(hw), 128)))
	var out []Flow
	for _, t := range ndTypes {
		out = append(out, f(TableSpoofGuard, prioNDGuard, fmt.Sprintf("%s,icmp6,icmpv6_type=%d", src, t), "drop"))
	}
	for _, p := range addrs {
		from := src + ",icmp6" + addrMatch(",ipv6_src=", p)
		out = append(out,
			f(TableSpoofGuard, prioEndpoint, src+",ipv6"+addrMatch(",ipv6_src=", p), toCT),
			f(TableSpoofGuard, prioSpecific, from+",icmpv6_type=133", c.opts.normal()),
			f(TableSpoofGuard, prioSpecific, from+",icmpv6_type=135,nd_sll=00:00:00:00:00:00", c.opts.normal()),
			f(TableSpoofGuard, prioSpecific, from+",icmpv6_type=135,nd_sll="+mac, c.opts.normal()))
		for _, target := range addrs {
			for _, tll := range []string{"00:00:00:00:00:00", mac} {
				out = append(out, f(TableSpoofGuard, prioSpecific, from+",icmpv6_type=136"+addrMatch(",nd_target=", target)+",nd_tll="+tll, c.opts.normal()))
			}
		}
		for _, t := range mldTypes {
			out = append(out, f(TableSpoofGuard, prioSpecific, fmt.Sprintf("%s,icmpv6_type=%d", from, t), c.opts.normal()))
		}
	}
	unspecified := src + ",icmp6,ipv6_src=::"
	return append(out,
		f(TableSpoofGuard, prioSpecific, unspecified+",icmpv6_type=133", c.opts.normal()),
		f(TableSpoofGuard, prioSpecific, unspecified+",icmpv6_type=135,nd_sll=00:00:00:00:00:00", c.opts.normal()),
		f(TableSpoofGuard, prioSpecific, unspecified+",icmpv6_type=143", c.opts.normal()))
}

// eui64LinkLocal is the link-local address an interface with mac forms
// from it (RFC 4291 appendix A).
func eui64LinkLocal(mac net.HardwareAddr) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	if len(mac) == 6 {
		b[8], b[9], b[10], b[11] = mac[0]^2, mac[1], mac[2], 0xff
		b[12], b[13], b[14], b[15] = 0xfe, mac[3], mac[4], mac[5]
	}
	return netip.AddrFrom16(b)
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
// and DHCPv6 from its link-local address, switched without conntrack as
// Neutron does;
// the port may never send a DHCP server's answers, whatever its policy and
// its connections.
func (c *Compiler) neutronPortFlows(f func(Table, uint16, string, string) Flow, inPort, mac string) []Flow {
	src := inPort + ",dl_src=" + mac
	hw, _ := net.ParseMAC(mac)
	return []Flow{
		f(TableSpoofGuard, prioHigh, inPort+",udp,udp_src=67,udp_dst=68", "drop"),
		f(TableSpoofGuard, prioHigh, inPort+",udp6,udp_src=547,udp_dst=546", "drop"),
		f(TableSpoofGuard, prioSpecific, src+",udp,nw_src=0.0.0.0,udp_src=68,udp_dst=67", c.opts.normal()),
		f(TableSpoofGuard, prioSpecific, src+",udp6,ipv6_src="+eui64LinkLocal(hw).String()+",udp_src=546,udp_dst=547", c.opts.normal()),
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
