package audit

import (
	"sync"

	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// View is what the audit log names packets with: one realized world and
// the policy numbering its flows were compiled with. It never changes;
// the agent makes a new one after each realization. The evaluator, which
// says what followed a Log rule and which endpoints own the addresses, is
// built on the first packet that needs it, so a realization costs only
// the numbering's copy.
type View struct {
	world   *policy.World
	ids     map[uint32]string
	tiers   map[uint32]string
	byID    map[string]*policy.Policy
	opts    evaluator.Options
	once    sync.Once
	eval    *evaluator.Evaluator
	idsOnce sync.Once
}

// NewView pairs a world with the numberings its flows use: policies
// (compiler.Compiler.PolicyIDs) and tiers (compiler.Compiler.TierNames),
// so a logged tier default names its tier; opts are the evaluator's (the
// agent's failsafes).
func NewView(w *policy.World, ids, tiers map[uint32]string, opts evaluator.Options) *View {
	return &View{world: w, ids: ids, tiers: tiers, opts: opts}
}

// evaluator returns the world's evaluator, building it once.
func (v *View) evaluator() *evaluator.Evaluator {
	v.once.Do(func() { v.eval = evaluator.New(v.world, v.opts) })
	return v.eval
}

// policy finds a policy by ID.
func (v *View) policy(id string) *policy.Policy {
	v.idsOnce.Do(func() {
		v.byID = make(map[string]*policy.Policy, len(v.world.Policies))
		for _, p := range v.world.Policies {
			v.byID[p.ID()] = p
		}
	})
	return v.byID[id]
}

// rule resolves a rule id of one direction to its policy and rule.
func (v *View) rule(dir policy.Direction, id uint32) (*policy.Policy, *policy.Rule, bool) {
	num, slot := compiler.RuleIDParts(id)
	pid, ok := v.ids[num]
	if !ok {
		return nil, nil, false
	}
	p := v.policy(pid)
	if p == nil {
		return nil, nil, false
	}
	r := compiler.SlotRule(p, dir, slot)
	return p, r, r != nil
}
