package compiler

import "github.com/flowgate/flowgate/translator/policy"

// PolicyIDs returns a copy of the numbering: each policy number's policy
// ID. Tools that read rule ids off the bridge (the controller action's
// userdata, ct_label, cookies) keep it beside the world it was compiled
// from, so that they name rules while the compiler moves on.
func (c *Compiler) PolicyIDs() map[uint32]string {
	out := make(map[uint32]string, len(c.numbers))
	for id, n := range c.numbers {
		out[n] = id
	}
	return out
}

// SlotRule is the rule that a rule id's slot (RuleIDParts) names in p's
// rules of direction dir: the first of the rules sharing the slot (they
// share the index the user wrote), nil when p has no such slot.
func SlotRule(p *policy.Policy, dir policy.Direction, slot int) *policy.Rule {
	gs := groups(p, p.Rules(dir))
	if slot < 0 || slot >= len(gs) {
		return nil
	}
	return gs[slot][0]
}
