package agent

import (
	"fmt"
	"sort"
	"strings"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// RuleStat is the packets and bytes one policy rule (or one default) of
// one direction matched on the bridge, summed over the rule's flows.
// Rules see the packets that are checked against policy: the first packet
// of each connection (every packet in the cut modes, and of untracked
// endpoints); established traffic is switched before the rules.
type RuleStat struct {
	Direction string `json:"direction"`
	// RuleID is the rule id the flows' cookies carry (0 for a default).
	RuleID uint32 `json:"ruleId,omitempty"`
	// TierNumber is the tier number an end-of-tier default's cookie
	// carries (compiler.TierOfNumber names it).
	TierNumber uint32 `json:"tierNumber,omitempty"`
	// Tier, Policy, Rule, RuleName and Action name the rule when the
	// policy is known; Default names a default ("end of tier: deny",
	// "endpoint default: allow"), Tier then the tier whose default it is.
	Tier     string `json:"tier,omitempty"`
	Policy   string `json:"policy,omitempty"`
	Rule     int    `json:"rule"`
	RuleName string `json:"ruleName,omitempty"`
	Action   string `json:"action,omitempty"`
	Default  string `json:"default,omitempty"`
	Packets  uint64 `json:"packets"`
	Bytes    uint64 `json:"bytes"`
}

// endpointDefaultCodes name the endpoint defaults the tier-end tables
// decide (pipeline flows, one per code and direction).
var endpointDefaultCodes = map[string]string{
	fmt.Sprintf("reg7=%#x", compiler.CodeEndpointAllow): "endpoint default: allow",
	fmt.Sprintf("reg7=%#x", compiler.CodeEndpointDeny):  "endpoint default: deny",
}

// tierDefault names the default of a tier that ends in deny.
const tierDefault = "end of tier: deny"

// RuleStats groups the bridge's flow counters by rule (cookie category
// rule, the rule id in the cookie), by tier default (cookie category
// tier-end, the tier number in the cookie: one flow per tier and
// direction) and by endpoint default, naming each rule and tier with comp
// when it is not nil. shared is the placement
// of a bridge shared with the Neutron agent (nil: flowgate owns it), which
// moves the tier-end tables; flows should then be only flowgate's (dumped
// with its cookie mark).
func RuleStats(flows []openflow.FlowStat, comp *compiler.Compiler, shared *compiler.Shared) []RuleStat {
	egressEnd, ingressEnd := compiler.TableEgressTierEnd.ID, compiler.TableIngressTierEnd.ID
	if shared != nil {
		egressEnd, ingressEnd = shared.Table(egressEnd), shared.Table(ingressEnd)
	}
	type key struct {
		ingress bool
		id      uint32
		def     string
		tier    uint32
	}
	sums := map[key]*RuleStat{}
	add := func(k key, f openflow.FlowStat) {
		s := sums[k]
		if s == nil {
			dir := policy.Egress
			if k.ingress {
				dir = policy.Ingress
			}
			s = &RuleStat{Direction: dir.String(), RuleID: k.id, Default: k.def, TierNumber: k.tier, Rule: -1}
			if k.tier != 0 {
				s.Tier = fmt.Sprintf("tier number %#x", k.tier)
				if comp != nil {
					if name, ok := comp.TierOfNumber(k.tier); ok {
						s.Tier = name
					}
				}
			}
			if k.def == "" {
				s.Policy = fmt.Sprintf("policy number %#x", k.id>>11)
				if comp != nil {
					if n, ok := comp.RuleOf(k.id, dir); ok {
						s.Tier, s.Policy, s.Rule, s.RuleName, s.Action = n.Tier, n.Policy, n.Index, n.Name, n.Action.String()
					}
				}
			}
			sums[k] = s
		}
		s.Packets += f.Packets
		s.Bytes += f.Bytes
	}
	for _, f := range flows {
		ck := compiler.Cookie(f.Cookie)
		switch {
		case ck.Category() == compiler.CategoryRule:
			add(key{ingress: ck.Ingress(), id: ck.ID()}, f)
		case ck.Category() == compiler.CategoryTierEnd:
			add(key{ingress: ck.Ingress(), tier: ck.ID(), def: tierDefault}, f)
		case ck.Category() == compiler.CategoryPipeline && (f.Table == egressEnd || f.Table == ingressEnd):
			for code, name := range endpointDefaultCodes {
				if strings.Contains(f.Match, code) {
					add(key{ingress: f.Table == ingressEnd, def: name}, f)
				}
			}
		}
	}
	out := make([]RuleStat, 0, len(sums))
	for _, s := range sums {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Direction != b.Direction {
			return a.Direction < b.Direction // egress, then ingress
		}
		if a.Default != b.Default {
			return a.Default < b.Default
		}
		if a.Tier != b.Tier {
			return a.Tier < b.Tier
		}
		if a.Policy != b.Policy {
			return a.Policy < b.Policy
		}
		return a.Rule < b.Rule
	})
	return out
}
