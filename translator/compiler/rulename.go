package compiler

import "github.com/flowgate/flowgate/translator/policy"

// RuleName names the rule behind a rule id, so that what the bridge
// records (reg3/reg4, ct_label, rule cookies, Log userdata) can be shown
// as the policy and rule a user wrote.
type RuleName struct {
	// Tier and Policy are the policy's tier and ID.
	Tier, Policy string
	// Direction is the rule list the rule is in.
	Direction policy.Direction
	// Index is the rule's position in that list as the user wrote it
	// (policy.Rule.Index); Name its name where the API has one.
	Index int
	Name  string
	// Action is the rule's action.
	Action policy.Action
}

// RuleOf returns the compiled rule of direction dir whose rule id is id;
// ok is false when no compiled policy has that number or slot (the id was
// written by another compilation of the policy).
func (c *Compiler) RuleOf(id uint32, dir policy.Direction) (RuleName, bool) {
	num, slot := RuleIDParts(id)
	pid, ok := c.numbering.owner[num]
	if !ok {
		return RuleName{}, false
	}
	st, p := c.states[pid], c.policies[pid]
	if st == nil || p == nil {
		return RuleName{}, false
	}
	for _, s := range st.slots {
		if s.dir != dir || s.index != slot || len(s.group) == 0 {
			continue
		}
		r := s.group[0]
		return RuleName{Tier: p.Tier, Policy: pid, Direction: dir, Index: r.Index, Name: r.Name, Action: r.Action}, true
	}
	return RuleName{}, false
}

// PolicyOfNumber returns the ID and tier of the policy whose rules are
// keyed by num (reg7 in the rules tables).
func (c *Compiler) PolicyOfNumber(num uint32) (id, tier string, ok bool) {
	id, ok = c.numbering.owner[num]
	if !ok {
		return "", "", false
	}
	if p := c.policies[id]; p != nil {
		tier = p.Tier
	}
	return id, tier, true
}

// The codes (besides each tier's deny code, TierNumberOfCode) the dispatch flows load into reg7 before the tier-end table
// (docs/pipeline.md), for tools that read which default decided a trace.
const (
	// CodeTierEndPass: the end of a tier whose default is Pass.
	CodeTierEndPass = codeTierEndPass
	// CodeEndpointAllow and CodeEndpointDeny: the endpoint's own default
	// (its profile, or Kubernetes' allow when no policy selects it).
	CodeEndpointAllow = codeProfileAllow
	CodeEndpointDeny  = codeProfileDeny
)
