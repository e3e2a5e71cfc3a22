package oftrace

import (
	"fmt"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// Spec writes the first packet of p's connection in ofproto/trace's flow
// syntax, entering the bridge at inPort with the Ethernet addresses
// dlSrc and dlDst (the caller picks them: a local endpoint's own, or
// stand-ins for ends beyond the uplink).
func Spec(inPort uint32, dlSrc, dlDst string, p evaluator.Packet) string {
	v6 := p.Src.Is6()
	proto := map[policy.Protocol]string{policy.TCP: "tcp", policy.UDP: "udp", policy.SCTP: "sctp", policy.ICMP: "icmp", policy.ICMPv6: "icmp6"}[p.Protocol]
	if v6 && p.Protocol != policy.ICMPv6 {
		proto += "6"
	}
	addr := fmt.Sprintf("nw_src=%s,nw_dst=%s", p.Src, p.Dst)
	if v6 {
		addr = fmt.Sprintf("ipv6_src=%s,ipv6_dst=%s", p.Src, p.Dst)
	}
	// ofproto/trace wants the protocol's own port field names.
	pf := map[policy.Protocol]string{policy.TCP: "tcp", policy.UDP: "udp", policy.SCTP: "sctp"}[p.Protocol]
	l4 := fmt.Sprintf("%s_src=%d,%s_dst=%d", pf, p.SrcPort, pf, p.DstPort)
	if p.Protocol.IsICMP() {
		l4 = fmt.Sprintf("icmp_type=%d,icmp_code=%d", p.ICMPType, p.ICMPCode)
		if v6 {
			l4 = fmt.Sprintf("icmpv6_type=%d,icmpv6_code=%d", p.ICMPType, p.ICMPCode)
		}
	}
	return fmt.Sprintf("in_port=%d,%s,dl_src=%s,dl_dst=%s,%s,%s", inPort, proto, dlSrc, dlDst, addr, l4)
}
