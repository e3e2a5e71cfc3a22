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
	// EstablishedCut is Neutron's OVS firewall behaviour: every packet of
	// an open connection sent by its initiator is checked against the
	// current policy; a connection the policy no longer allows is marked
	// cut in conntrack (ct_mark bit 1) and its packets are dropped in both
	// directions, related ones (ICMP errors) included. The flows that do
	// it arrive with the policy's own flows in one bundle, so there is no
	// moment where the new policy is in force and a denied connection is
	// not.
	EstablishedCut
)

// ParseEstablished reads "survive" or "cut" (the agent's
// establishedConnections setting and apply's --established-connections).
func ParseEstablished(s string) (Established, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "survive":
		return EstablishedSurvive, nil
	case "cut":
		return EstablishedCut, nil
	}
	return 0, fmt.Errorf("%q: want survive (Calico: open connections keep working) or cut (Neutron: connections the new policy denies are cut)", s)
}

// String is the setting's name.
func (e Established) String() string {
	if e == EstablishedCut {
		return "cut"
	}
	return "survive"
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

// conntrackStateFlows are conntrack_state's flows for the established and
// related packets: switched without policy (survive), or, in cut mode,
// the initiator's packets walk the policy again and cut connections are
// dropped.
func (c *Compiler) conntrackStateFlows(f func(Table, uint16, string, string) Flow) []Flow {
	if c.opts.Established != EstablishedCut {
		return []Flow{
			f(TableConntrackState, prioSpecific, "ct_state=+est+trk", "NORMAL"),
			f(TableConntrackState, prioSpecific, "ct_state=+rel+trk", "NORMAL"),
		}
	}
	markCut := fmt.Sprintf("ct(commit,zone=%s,exec(%s))", regZone, setField(1, "NXM_NX_CT_MARK[1]"))
	out := []Flow{
		f(TableConntrackState, prioCut, fmt.Sprintf("ct_state=+trk,ct_mark=%#x/%#x", ctMarkCut, ctMarkCut), "drop"),
		// Only the initiator's packets are checked: the reply of an
		// allowed connection is allowed, and a denied connection's
		// replies meet the mark once its initiator has sent one packet.
		f(TableConntrackState, prioSpecific, "ct_state=+est-rel-rpl+trk", fmt.Sprintf("goto_table:%d", TableEgressDispatch.ID)),
		f(TableConntrackState, prioSpecific, "ct_state=+est+rpl+trk", "NORMAL"),
		f(TableConntrackState, prioSpecific, "ct_state=+rel+trk", "NORMAL"),
		// Allowed: already committed with the rule ids that opened it;
		// committing every packet again would double its conntrack cost.
		f(TableCommit, prioSpecific, "ct_state=+est+trk", "NORMAL"),
	}
	// Denied on the way: mark the connection cut (the packet is dropped:
	// no output follows). ct() needs the match to name the family.
	for _, t := range []Table{TableEgressVerdict, TableIngressVerdict} {
		for _, fam := range []string{"ip", "ipv6"} {
			out = append(out, f(t, prioRecheckDenied, "ct_state=+est+trk,"+fam, markCut))
		}
	}
	return out
}
