package compiler

import (
	"slices"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// Which policies apply to which local endpoints. Every policy's AppliesTo
// selector is filed in an index, so that finding the policies of one
// endpoint (its dispatch) or the policies an endpoint's relabelling
// activates costs the candidates its labels name, not a scan of every
// policy.

// fileApplies indexes p's AppliesTo selector.
func (c *Compiler) fileApplies(p *policy.Policy) {
	sel := p.AppliesTo
	users := c.appliesUsers[sel]
	if users == nil {
		users = map[string]struct{}{}
		c.appliesUsers[sel] = users
		c.applies.add(sel, c.labels)
	}
	users[p.ID()] = struct{}{}
}

// unfileApplies removes p from the index.
func (c *Compiler) unfileApplies(p *policy.Policy) {
	sel := p.AppliesTo
	users := c.appliesUsers[sel]
	delete(users, p.ID())
	if len(users) == 0 {
		delete(c.appliesUsers, sel)
		c.applies.remove(sel)
	}
}

// eachApplying calls f for every policy whose AppliesTo selects labels l,
// in no particular order.
func (c *Compiler) eachApplying(l selector.Set, f func(id string)) {
	c.applies.each(l, func(sel selector.Selector) {
		if !sel.Matches(l) {
			return
		}
		for id := range c.appliesUsers[sel] {
			f(id)
		}
	})
}

// countActive adds n (1 or -1) to the active count of every policy that
// applies to local entity e, and records in flipped the policies that
// became active or inactive.
func (c *Compiler) countActive(e *entity, n int, flipped map[string]bool) {
	c.eachApplying(e.labels, func(id string) {
		before := c.active[id]
		after := before + n
		if after == 0 {
			delete(c.active, id)
		} else {
			c.active[id] = after
		}
		if (before == 0) != (after == 0) && flipped != nil {
			flipped[id] = true
		}
	})
}

// activeCount counts the local entities p applies to.
func (c *Compiler) activeCount(p *policy.Policy) int {
	n := 0
	for _, id := range c.locals() {
		if e := c.entities[endpointKey(id)]; e != nil && p.AppliesTo.Matches(e.labels) {
			n++
		}
	}
	return n
}

// ranks returns each existing tier's position in evaluation order.
func (c *Compiler) ranks() map[string]int {
	if c.tierRank == nil {
		c.tierRank = map[string]int{}
		for i, t := range c.world.TiersInOrder() {
			c.tierRank[t.Name] = i
		}
	}
	return c.tierRank
}

// tierPolicies is one tier and the policies of it that apply to an
// endpoint, in evaluation order.
type tierPolicies struct {
	tier     *policy.Tier
	policies []*policy.Policy
}

// applying returns, tier by tier in evaluation order, the policies that
// apply to an endpoint with labels l in direction dir. Policies of tiers
// that do not exist apply to nothing.
func (c *Compiler) applying(l selector.Set, dir policy.Direction) []tierPolicies {
	rank := c.ranks()
	var ps []*policy.Policy
	c.eachApplying(l, func(id string) {
		p := c.policy(id)
		if _, ok := rank[p.Tier]; ok && p.Types&dir != 0 {
			ps = append(ps, p)
		}
	})
	slices.SortFunc(ps, func(a, b *policy.Policy) int {
		if ra, rb := rank[a.Tier], rank[b.Tier]; ra != rb {
			return ra - rb
		}
		if a.Before(b) {
			return -1
		}
		return 1
	})
	var out []tierPolicies
	for _, p := range ps {
		if n := len(out); n == 0 || out[n-1].tier.Name != p.Tier {
			out = append(out, tierPolicies{tier: c.world.Tier(p.Tier)})
		}
		out[len(out)-1].policies = append(out[len(out)-1].policies, p)
	}
	return out
}
