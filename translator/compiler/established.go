package compiler

import (
	"fmt"
	"strings"
)

// Established says what a policy change does to connections that are
// already open.
type Established uint8

const (
	// EstablishedSurvive is Calico's behaviour (and the default): policy
	// decides new connections; an open connection keeps working until it
	// closes, whatever the policy becomes.
	EstablishedSurvive Established = iota
	// EstablishedCut cuts what the policy no longer allows: every packet
	// of an open connection is checked against the current policy (a
	// reply as its connection's original direction); a connection the
	// policy no longer allows is marked cut in conntrack (ct_mark bit 1)
	// and its packets are dropped in both directions, related ones (ICMP
	// errors) included. The flows that do it arrive with the policy's own
	// flows in one bundle, so there is no moment where the new policy is
	// in force and a denied connection is not.
	EstablishedCut
	// EstablishedCutInitiator is Neutron's OVS firewall behaviour exactly:
	// as EstablishedCut, but only the initiator's packets are checked, so
	// a connection whose initiator has fallen silent keeps delivering
	// replies until it sends again. Replies then share datapath flows, as
	// in survive, where EstablishedCut needs one per connection.
	EstablishedCutInitiator
)

// establishedNames are the settings' names, by value.
func establishedNames() []string { return []string{"survive", "cut", "cut-initiator"} }

// ParseEstablished reads "survive", "cut" or "cut-initiator" (the agent's
// establishedConnections setting and --established-connections).
func ParseEstablished(s string) (Established, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return EstablishedSurvive, nil
	}
	for i, n := range establishedNames() {
		if s == n {
			return Established(i), nil
		}
	}
	return 0, fmt.Errorf("%q: want survive (Calico: open connections keep working), cut (connections the new policy denies are cut, checked both ways) or cut-initiator (Neutron: the same, checked on the initiator's packets only)", s)
}

// String is the setting's name.
func (e Established) String() string {
	if n := establishedNames(); int(e) < len(n) {
		return n[e]
	}
	return fmt.Sprintf("Established(%d)", uint8(e))
}

// ctMarkCut marks a connection that a policy change cut: every packet
// of it is dropped until conntrack forgets it.
const ctMarkCut = 0x2

// prioCut sits above the established and related flows of
// conntrack_state, so a cut connection is never switched again.
const prioCut = 250

// prioRecheckDenied is the verdict tables' flow for an established packet
// the policy now denies: above the table's drop miss, below its allow.
const prioRecheckDenied = 5

// conntrackStateFlows are the flows for established and related packets:
// switched without policy (survive), or, in cut mode, checked against the
// policy, cut when it denies them, and dropped once cut.
func (c *Compiler) conntrackStateFlows(f func(Table, uint16, string, string) Flow) []Flow {
	if c.opts.Established == EstablishedSurvive {
		return []Flow{
			f(TableConntrackState, prioSpecific, "ct_state=+est+trk", c.opts.normal()),
			f(TableConntrackState, prioSpecific, "ct_state=+rel+trk", c.opts.normal()),
		}
	}
	markCut := fmt.Sprintf("ct(commit,zone=%s,exec(%s))", regZone, setField(1, "NXM_NX_CT_MARK[1]"))
	out := []Flow{
		f(TableConntrackState, prioCut, fmt.Sprintf("ct_state=+trk,ct_mark=%#x/%#x", ctMarkCut, ctMarkCut), "drop"),
		// The initiator's packets walk the policy as new ones do.
		f(TableConntrackState, prioSpecific, "ct_state=+est-rel-rpl+trk", fmt.Sprintf("goto_table:%d", c.opts.table(TableEgressDispatch))),
		f(TableConntrackState, prioSpecific, "ct_state=+rel+trk", c.opts.normal()),
		// Allowed: already committed with the rule ids that opened it;
		// committing every packet again would double its conntrack cost.
		f(TableCommit, prioSpecific, "ct_state=+est+trk", c.opts.normal()),
	}
	// Denied on the way: mark the connection cut (the packet is dropped:
	// no output follows). ct() needs the match to name the family.
	for _, t := range []Table{TableEgressVerdict, TableIngressVerdict} {
		for _, fam := range []string{"ip", "ipv6"} {
			out = append(out, f(t, prioRecheckDenied, "ct_state=+est+trk,"+fam, markCut))
		}
	}
	if c.opts.Established == EstablishedCutInitiator {
		return append(out, f(TableConntrackState, prioSpecific, "ct_state=+est+rpl+trk", c.opts.normal()))
	}
	out = append(out,
		// A reply's re-check ends here: its clone is never switched.
		f(TableCommit, prioHigh, "ct_state=+est+rpl+trk", "drop"),
		f(TableReplyInitiator, prioMiss, "", setField(0, regSrc)))
	// A reply is checked too, on a clone turned into the initiator's
	// packet: addresses, ports or ICMP type and code from the connection's
	// original tuple, the initiator endpoint (reg0) found by the reply's
	// destination MAC (any MAC the initiator owns), and the MACs swapped so
	// that the destination table finds the responder. The clone walks the policy (a
	// denial marks the connection cut); the reply itself is switched, so
	// the packet that finds a connection denied is the last one through.
	for _, r := range replyRewrites() {
		prio := uint16(prioSpecific)
		if r.proto == "ip" || r.proto == "ipv6" {
			prio-- // other protocols: addresses only
		}
		// The MACs are swapped, not copied: a rule whose peer is a MAC
		// member (a wide address pair) matches the initiator's MAC as the
		// clone's source.
		clone := fmt.Sprintf("clone(resubmit(,%d),push:NXM_OF_ETH_DST[],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],pop:NXM_OF_ETH_SRC[],%s,resubmit(,%d)),%s",
			c.opts.table(TableReplyInitiator), r.rewrite, c.opts.table(TableEgressDispatch), c.opts.normal())
		out = append(out, f(TableConntrackState, prio, "ct_state=+est-rel+rpl+trk,"+r.proto, clone))
	}
	// A reply's clone of a stateful protocol is turned back into the reply
	// before it marks: conntrack checks TCP and SCTP segments against
	// their direction's sequence window and would refuse (not mark) the
	// reply's segment posing as the initiator's.
	for _, t := range []Table{TableEgressVerdict, TableIngressVerdict} {
		for _, r := range replyRestores() {
			out = append(out, f(t, prioRecheckDenied+1, "ct_state=+est+rpl+trk,"+r.proto, r.rewrite+","+markCut))
		}
	}
	return out
}

// protoRewrite rewrites the packets of one protocol (an ovs-ofctl match
// keyword) with actions.
type protoRewrite struct{ proto, rewrite string }

// replyRewrites turn a reply into its connection's original direction,
// per protocol, from the conntrack original-tuple fields.
func replyRewrites() []protoRewrite {
	const (
		v4 = "move:NXM_NX_CT_NW_SRC[]->NXM_OF_IP_SRC[],move:NXM_NX_CT_NW_DST[]->NXM_OF_IP_DST[]"
		v6 = "move:NXM_NX_CT_IPV6_SRC[]->NXM_NX_IPV6_SRC[],move:NXM_NX_CT_IPV6_DST[]->NXM_NX_IPV6_DST[]"
	)
	ports := func(src, dst string) string {
		return fmt.Sprintf("move:NXM_NX_CT_TP_SRC[]->%s[],move:NXM_NX_CT_TP_DST[]->%s[]", src, dst)
	}
	// For ICMP the original tuple's "ports" are its type and code.
	icmp := func(typ, code string) string {
		return fmt.Sprintf("move:NXM_NX_CT_TP_SRC[0..7]->%s[],move:NXM_NX_CT_TP_DST[0..7]->%s[]", typ, code)
	}
	tcp, udp, sctp := ports("NXM_OF_TCP_SRC", "NXM_OF_TCP_DST"), ports("NXM_OF_UDP_SRC", "NXM_OF_UDP_DST"), ports("OXM_OF_SCTP_SRC", "OXM_OF_SCTP_DST")
	return []protoRewrite{
		{"tcp", v4 + "," + tcp}, {"udp", v4 + "," + udp}, {"sctp", v4 + "," + sctp},
		{"icmp", v4 + "," + icmp("NXM_OF_ICMP_TYPE", "NXM_OF_ICMP_CODE")}, {"ip", v4},
		{"tcp6", v6 + "," + tcp}, {"udp6", v6 + "," + udp}, {"sctp6", v6 + "," + sctp},
		{"icmp6", v6 + "," + icmp("NXM_NX_ICMPV6_TYPE", "NXM_NX_ICMPV6_CODE")}, {"ipv6", v6},
	}
}

// replyRestores turn a reply's clone of a stateful protocol back into the
// reply, from the conntrack original-tuple fields.
func replyRestores() []protoRewrite {
	const (
		v4 = "move:NXM_NX_CT_NW_DST[]->NXM_OF_IP_SRC[],move:NXM_NX_CT_NW_SRC[]->NXM_OF_IP_DST[]"
		v6 = "move:NXM_NX_CT_IPV6_DST[]->NXM_NX_IPV6_SRC[],move:NXM_NX_CT_IPV6_SRC[]->NXM_NX_IPV6_DST[]"
	)
	ports := func(src, dst string) string {
		return fmt.Sprintf("move:NXM_NX_CT_TP_DST[]->%s[],move:NXM_NX_CT_TP_SRC[]->%s[]", src, dst)
	}
	tcp, sctp := ports("NXM_OF_TCP_SRC", "NXM_OF_TCP_DST"), ports("OXM_OF_SCTP_SRC", "OXM_OF_SCTP_DST")
	return []protoRewrite{
		{"tcp", v4 + "," + tcp}, {"sctp", v4 + "," + sctp}, {"tcp6", v6 + "," + tcp}, {"sctp6", v6 + "," + sctp},
	}
}

// replyInitiatorFlows let a reply's re-check find a local initiator by
// its MAC (cut mode only).
func (c *Compiler) replyInitiatorFlows(port uint32, mac string, ck Cookie) []Flow {
	if c.opts.Established != EstablishedCut { // replies are checked in cut mode only
		return nil
	}
	return []Flow{{Table: c.opts.table(TableReplyInitiator), Priority: prioEndpoint, Match: "dl_dst=" + mac, Actions: setField(port, regSrc), Cookie: ck}}
}
