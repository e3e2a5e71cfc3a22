package compiler

import (
	"net"
	"slices"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
)

// A MAC member is an endpoint's address pair of all addresses
// (0.0.0.0/0, ::/0): the endpoint counts as a member of a selector that
// selects it for any address of the pair's family, but only in packets
// from the pair's MAC (on a rule's source side) or to it (destination
// side). Matched by address alone, such a pair would make every address a
// member — the Neutron wide-pair bypass. Only a selector a rule uses alone
// (a pure source, no nets or negations) sees MAC members; the evaluator
// matches the same.

// macMember is one MAC member: a MAC and the family it speaks for.
type macMember struct {
	mac    string
	family uint8 // 4 or 6
}

func (m macMember) famIndex() int {
	if m.family == 4 {
		return 0
	}
	return 1
}

// wideMACs returns the MAC members of e: its pairs of all addresses, with
// the pair's MAC, else the endpoint's (none without either, as the
// evaluator has it).
func wideMACs(e *policy.Endpoint) []macMember {
	var out []macMember
	for _, p := range e.AddressPairs {
		if p.Prefix.Bits() != 0 {
			continue
		}
		mac := p.MAC
		if len(mac) != 6 {
			mac = e.MAC
		}
		if len(mac) != 6 {
			continue
		}
		fam := uint8(6)
		if p.Prefix.Addr().Is4() {
			fam = 4
		}
		out = append(out, macMember{mac: net.HardwareAddr(mac).String(), family: fam})
	}
	slices.SortFunc(out, compareMACMembers)
	return slices.Compact(out)
}

func compareMACMembers(a, b macMember) int {
	if c := strings.Compare(a.mac, b.mac); c != 0 {
		return c
	}
	return int(a.family) - int(b.family)
}

// macFragments matches MAC members on one side ("src": dl_src, "dst":
// dl_dst), in order.
func macFragments(side string, macs map[macMember]int32) fragmentSet {
	ms := make([]macMember, 0, len(macs))
	for m := range macs {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, compareMACMembers)
	out := make(fragmentSet, 0, len(ms))
	for _, m := range ms {
		kw := "ip"
		if m.family == 6 {
			kw = "ipv6"
		}
		out = append(out, fragment{kw + ",dl_" + side + "=" + m.mac, m.family})
	}
	return out
}

// macsIf returns e's MAC members when it is selected, else none.
func macsIf(e *entity, selected bool) []macMember {
	if e == nil || !selected {
		return nil
	}
	return e.macs
}

// countMACs replaces one entity's MAC members old with now.
func (s *memberSet) countMACs(old, now []macMember) {
	for _, m := range old {
		if s.macs[m]--; s.macs[m] <= 0 {
			delete(s.macs, m)
		}
	}
	for _, m := range now {
		s.macs[m]++
	}
	s.setPrefixes(s.prefixes)
}
