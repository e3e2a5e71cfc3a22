package compiler

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
)

// fragment is part of a match that one clause contributes, e.g.
// "tcp,tp_dst=80" or "ip,nw_dst=10.0.0.0/8", with the IP family it pins.
type fragment struct {
	text   string
	family uint8 // 4 or 6
}

// famIndex is 0 for an IPv4 fragment, 1 for IPv6.
func (f fragment) famIndex() int {
	if f.family == 4 {
		return 0
	}
	return 1
}

// fragmentSet is a clause: a packet satisfies it when it matches any
// fragment. nil means "no constraint"; an empty non-nil set matches nothing.
type fragmentSet []fragment

func (s fragmentSet) sorted() fragmentSet {
	slices.SortFunc(s, func(a, b fragment) int { return strings.Compare(a.text, b.text) })
	out := s[:0]
	for i, f := range s {
		if i == 0 || f.text != s[i-1].text {
			out = append(out, f)
		}
	}
	return out
}

func (s fragmentSet) onlyFamilies(v4, v6 bool) fragmentSet {
	out := fragmentSet{}
	for _, f := range s {
		if (f.family == 4 && v4) || (f.family == 6 && v6) {
			out = append(out, f)
		}
	}
	return out
}

// addrFragments matches an address side ("src" or "dst") against prefixes.
func addrFragments(side string, ps []netip.Prefix) fragmentSet {
	out := make(fragmentSet, 0, len(ps))
	for _, p := range ps {
		out = append(out, addrFragment(side, p))
	}
	return out
}

func addrFragment(side string, p netip.Prefix) fragment {
	text := p.String()
	if p.IsSingleIP() {
		text = p.Addr().String()
	}
	if p.Addr().Is4() {
		return fragment{"ip,nw_" + side + "=" + text, 4}
	}
	return fragment{"ipv6,ipv6_" + side + "=" + text, 6}
}

// protoKeyword returns the ovs-ofctl shorthand for a protocol in a family,
// or "" when the protocol has none ("ip,nw_proto=N" is used then).
func protoKeyword(p policy.Protocol, family uint8) string {
	v6 := ""
	if family == 6 {
		v6 = "6"
	}
	switch p {
	case policy.TCP:
		return "tcp" + v6
	case policy.UDP:
		return "udp" + v6
	case policy.SCTP:
		return "sctp" + v6
	}
	return ""
}

// protoFragment matches a protocol in one family; ok is false when the
// protocol cannot occur in it (ICMP in IPv6, ICMPv6 in IPv4).
func protoFragment(p policy.Protocol, family uint8) (fragment, bool) {
	switch {
	case p == policy.ICMP && family == 6, p == policy.ICMPv6 && family == 4:
		return fragment{}, false
	case p == policy.ICMP:
		return fragment{"icmp", 4}, true
	case p == policy.ICMPv6:
		return fragment{"icmp6", 6}, true
	}
	if kw := protoKeyword(p, family); kw != "" {
		return fragment{kw, family}, true
	}
	if family == 4 {
		return fragment{fmt.Sprintf("ip,nw_proto=%d", p), 4}, true
	}
	return fragment{fmt.Sprintf("ipv6,nw_proto=%d", p), 6}, true
}

// icmpFragment matches an ICMP type/code in the protocol's family.
func icmpFragment(p policy.Protocol, m *policy.ICMPMatch) fragment {
	f, _ := protoFragment(p, map[bool]uint8{true: 4, false: 6}[p == policy.ICMP])
	field := "icmp"
	if p == policy.ICMPv6 {
		field = "icmpv6"
	}
	f.text += fmt.Sprintf(",%s_type=%d", field, m.Type)
	if m.Code != nil {
		f.text += fmt.Sprintf(",%s_code=%d", field, *m.Code)
	}
	return f
}

// portFragments matches numeric port ranges on one side ("src"/"dst").
func portFragments(p policy.Protocol, side string, ms []policy.PortMatch, families []uint8) fragmentSet {
	var out fragmentSet
	for _, fam := range families {
		kw := protoKeyword(p, fam)
		for _, m := range ms {
			if m.Name != "" {
				continue
			}
			for _, mask := range portMasks(m.Min, m.Max) {
				if mask == "" {
					out = append(out, fragment{kw, fam})
				} else {
					out = append(out, fragment{kw + "," + portField(p, side) + "=" + mask, fam})
				}
			}
		}
	}
	return out
}

// tupleFragment matches one (address, protocol, port) of a named port.
func tupleFragment(p policy.Protocol, side string, a netip.Addr, port uint16) fragment {
	fam := uint8(4)
	field := "nw_" + side
	if a.Is6() {
		fam, field = 6, "ipv6_"+side
	}
	return fragment{fmt.Sprintf("%s,%s=%s,%s=%d", protoKeyword(p, fam), field, a, portField(p, side), port), fam}
}

// portField names the port field of a protocol: tcp_dst, udp_src, …
// (ofproto/trace does not translate the generic tp_ names).
func portField(p policy.Protocol, side string) string {
	return map[policy.Protocol]string{policy.TCP: "tcp_", policy.UDP: "udp_", policy.SCTP: "sctp_"}[p] + side
}
