package compiler

import "fmt"

// Table is one OpenFlow table of the pipeline.
type Table struct {
	// ID is the OpenFlow table number.
	ID uint8
	// Name is the table's name in OVS (Flow_Table) and in dumps.
	Name string
	// Purpose says what the table decides.
	Purpose string
}

// The pipeline, in packet order. Gaps between numbers leave room for
// stages to come without renumbering installed tables.
var (
	TableClassify        = Table{0, "classify", "in_port → source endpoint (reg0); non-endpoint and unfiltered ports skip spoofing and egress"}
	TableSpoofGuard      = Table{10, "spoof_guard", "a workload port may send only from its MACs and IPs (address pairs included); ARP, ND and DHCP checked"}
	TableConntrack       = Table{20, "conntrack", "IP traffic enters conntrack in the endpoint's zone; other traffic is switched"}
	TableConntrackState  = Table{21, "conntrack_state", "+inv dropped, +est/+rel switched without policy, +new to policy"}
	TableReplyInitiator  = Table{22, "reply_initiator", "cut mode: a reply's destination MAC → its initiator endpoint (reg0), for the re-check of the reply"}
	TableEgressDispatch  = Table{30, "egress_dispatch", "per source endpoint: walk tiers and policies (failsafes first for hosts)"}
	TableEgressRules     = Table{31, "egress_rules", "rules of every policy, keyed by policy number (reg7)"}
	TableEgressTierEnd   = Table{32, "egress_tier_end", "end of a tier or of all tiers: pass, tier default, endpoint default"}
	TableEgressVerdict   = Table{33, "egress_verdict", "allowed egress goes on to destination lookup; denied is dropped"}
	TableDestination     = Table{50, "destination", "destination MAC → local destination endpoint (reg1); others skip ingress"}
	TableIngressDispatch = Table{60, "ingress_dispatch", "per destination endpoint: walk tiers and policies (failsafes first for hosts)"}
	TableIngressRules    = Table{61, "ingress_rules", "rules of every policy, keyed by policy number (reg7)"}
	TableIngressTierEnd  = Table{62, "ingress_tier_end", "end of a tier or of all tiers: pass, tier default, endpoint default"}
	TableIngressVerdict  = Table{63, "ingress_verdict", "allowed ingress goes on to commit; denied is dropped"}
	TableCommit          = Table{70, "commit", "commit the connection with the deciding rule ids in ct_label, then switch"}
)

// Tables lists the pipeline in packet order.
var Tables = []Table{
	TableClassify, TableSpoofGuard, TableConntrack, TableConntrackState, TableReplyInitiator,
	TableEgressDispatch, TableEgressRules, TableEgressTierEnd, TableEgressVerdict,
	TableDestination,
	TableIngressDispatch, TableIngressRules, TableIngressTierEnd, TableIngressVerdict,
	TableCommit,
}

// TableName returns the name of table id, or its number.
func TableName(id uint8) string {
	for _, t := range Tables {
		if t.ID == id {
			return t.Name
		}
	}
	return fmt.Sprint(id)
}

// Registers, documented in docs/pipeline.md.
const (
	// regSrc holds the source endpoint's ofport (0: not a local endpoint).
	regSrc = "NXM_NX_REG0[]"
	// regDst holds the destination endpoint's ofport (0: not local).
	regDst = "NXM_NX_REG1[]"
	// regEgressRule holds the rule id that decided egress (0: a default).
	regEgressRule = "NXM_NX_REG3[]"
	// regIngressRule holds the rule id that decided ingress.
	regIngressRule = "NXM_NX_REG4[]"
	// regGuard holds the guard bits of the policy being evaluated.
	regGuard = "NXM_NX_REG5[]"
	// regVerdict holds the verdict of the direction being evaluated.
	regVerdict = "NXM_NX_REG6[]"
	// regPolicy holds the number of the policy being evaluated, or an
	// end-of-tier code while in a tier-end table.
	regPolicy = "NXM_NX_REG7[]"
	// regZone holds the conntrack zone of the packet's network.
	regZone = "NXM_NX_REG8[0..15]"
)

// Verdict values in regVerdict.
const (
	verdictUndecided = 0
	verdictAllow     = 1
	verdictDeny      = 2
	verdictPass      = 3
)

// End-of-tier codes loaded into regPolicy before resubmitting to a tier-end
// table; they are far above any policy number.
const (
	// 0xff000001 was the one end-of-tier deny code of every tier; each
	// tier now has its own (codeTierDenyBase, tierends.go).
	codeTierEndPass  = 0xff000002
	codeProfileAllow = 0xff000003
	codeProfileDeny  = 0xff000004
)

// Conntrack label layout: which rules allowed the connection.
const (
	// ctLabelEgress is where the egress rule id is stored.
	ctLabelEgress = "NXM_NX_CT_LABEL[0..31]"
	// ctLabelIngress is where the ingress rule id is stored.
	ctLabelIngress = "NXM_NX_CT_LABEL[32..63]"
	// ctMarkCommitted is set on every connection flowgate commits.
	ctMarkCommitted = 0x1
)

// Priorities of the fixed flows.
const (
	prioMiss    = 0
	prioDefault = 10
	// prioUnfiltered switches an unfiltered port's traffic past conntrack
	// unless a higher flow (arrivalFlows) finds a filtered destination.
	prioUnfiltered = 40
	prioEndpoint   = 100
	// prioNDGuard drops a workload's neighbour discovery that no
	// prioSpecific flow admits, above its prioEndpoint IPv6 flows.
	prioNDGuard  = 150
	prioSpecific = 200
	prioHigh     = 300
)
