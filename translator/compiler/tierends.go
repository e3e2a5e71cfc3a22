package compiler

import (
	"fmt"

	"github.com/flowgate/flowgate/translator/policy"
)

// Every tier whose default is Deny ends in a flow of its own in each
// tier-end table, matching its own code in reg7: so its counters are that
// tier's default alone (flowgate stats, flowgate_default_packets_total),
// a trace names the tier from the register, and its denials can be logged
// tier by tier (Options.LogDeniedTiers). A tier's code is
// codeTierDenyBase | its tier number, a 20-bit hash of its name (probing
// in name order on a collision, as policy numbers do).
// A tier's end for an endpoint that a policy with LogDenied of that tier
// selects loads the logged code, codeTierDenyLoggedBase | tier number,
// whose flow always sends a copy to the controller.
const (
	codeTierDenyBase       = 0xff100000
	codeTierDenyLoggedBase = 0xff200000
	codeTierDenyMask       = 0xfff00000
)

// ownerTierEnds owns the tier-end flows of the tiers' default denies.
const ownerTierEnds = "tier-ends"

// tierDenyCode is the code dispatch loads into reg7 at the end of a tier
// whose default is Deny.
func tierDenyCode(tierNumber uint32) uint32 { return codeTierDenyBase | tierNumber }

// tierDenyLoggedCode is tierDenyCode for an endpoint whose denials at the
// end of the tier are logged (a policy of the tier has LogDenied).
func tierDenyLoggedCode(tierNumber uint32) uint32 { return codeTierDenyLoggedBase | tierNumber }

// TierNumberOfCode returns the tier number in an end-of-tier deny code
// (logged or not); ok is false for any other value of reg7.
func TierNumberOfCode(code uint32) (uint32, bool) {
	base := code & codeTierDenyMask
	if base != codeTierDenyBase && base != codeTierDenyLoggedBase || code == base {
		return 0, false
	}
	return code &^ codeTierDenyMask, true
}

// IsEndCode reports whether v, a value of reg7, is an end code (a tier's
// default or the endpoint's) rather than a policy number.
func IsEndCode(v uint32) bool { return v > policyNumberMask }

// TierOfNumber names the tier whose end-of-tier deny flows carry number n
// (in their cookie, and in their code).
func (c *Compiler) TierOfNumber(n uint32) (string, bool) {
	for name, num := range c.tierNumbers {
		if num == n {
			return name, true
		}
	}
	return "", false
}

// TierNames returns a copy of the tier numbering: each tier number's
// tier, for readers that name counters without the compiler at hand.
func (c *Compiler) TierNames() map[uint32]string {
	out := make(map[uint32]string, len(c.tierNumbers))
	for name, n := range c.tierNumbers {
		out[n] = name
	}
	return out
}

// numberTiers numbers every tier of the world.
func numberTiers(w *policy.World) map[string]uint32 {
	tiers := w.TiersInOrder()
	names := make([]string, len(tiers))
	for i, t := range tiers {
		names[i] = t.Name
	}
	return numberNames(names)
}

// tierEndFlows are the flows ending each Deny tier, one per tier and
// direction, denying what no rule of the tier decided; a copy goes to the
// controller when that tier's denials are logged. A tier with a policy
// that has LogDenied has a second flow per direction for its logged code
// (same cookie, so counted as one default), which always sends a copy.
func (c *Compiler) tierEndFlows() []Flow {
	var out []Flow
	for _, t := range c.world.TiersInOrder() {
		if t.DefaultAction == policy.Pass {
			continue // no flow: the walk goes on to the next tier
		}
		n := c.tierNumbers[t.Name]
		for _, ingress := range []bool{false, true} {
			table := TableEgressTierEnd
			if ingress {
				table = TableIngressTierEnd
			}
			codes := []uint32{tierDenyCode(n)}
			if c.logDeniedPolicies[t.Name] > 0 {
				codes = append(codes, tierDenyLoggedCode(n))
			}
			for _, code := range codes {
				acts := setField(verdictDeny, regVerdict)
				if code == tierDenyLoggedCode(n) || c.opts.LogDenied || c.opts.LogDeniedTiers[t.Name] {
					acts = fmt.Sprintf("controller(userdata=%s),%s", deniedUserdata(code, ingress), acts)
				}
				out = append(out, Flow{Table: c.opts.table(table), Priority: prioDefault, Match: fmt.Sprintf("reg6=0,reg7=%#x", code),
					Actions: acts, Cookie: c.opts.cookie(CategoryTierEnd, ingress, n)})
			}
		}
	}
	return out
}

// countLogDenied counts the policies with LogDenied per tier, adding d
// for p (nil: nothing).
func (c *Compiler) countLogDenied(p *policy.Policy, d int) {
	if p == nil || !p.LogDenied {
		return
	}
	if c.logDeniedPolicies == nil {
		c.logDeniedPolicies = map[string]int{}
	}
	c.logDeniedPolicies[p.Tier] += d
	if c.logDeniedPolicies[p.Tier] == 0 {
		delete(c.logDeniedPolicies, p.Tier)
	}
}

// policyLogDenied keeps the count of countLogDenied as a policy goes
// from old to p (either nil), and rebuilds the tier-end flows when a
// policy with LogDenied came or went.
func (u *update) policyLogDenied(old, p *policy.Policy) {
	if (old == nil || !old.LogDenied) && (p == nil || !p.LogDenied) {
		return
	}
	u.c.countLogDenied(old, -1)
	u.c.countLogDenied(p, 1)
	u.rebuildTierEnds()
}

// rebuildTierEnds replaces the tier-end flows, logging the change.
func (u *update) rebuildTierEnds() {
	c := u.c
	for _, f := range c.owned[ownerTierEnds] {
		u.log.del(f)
	}
	c.owned[ownerTierEnds] = c.tierEndFlows()
	for _, f := range c.owned[ownerTierEnds] {
		u.log.put(f)
	}
}

// renumberTiers brings the tier numbers and the tier-end flows up to date
// after a tier came, went or changed: a tier whose number moved (a hash
// collision resolved otherwise) changes every dispatch that ends in it, so
// then every local endpoint's dispatch is recompiled.
func (u *update) renumberTiers() {
	c := u.c
	nums := numberTiers(c.world)
	for name, n := range c.tierNumbers {
		if m, ok := nums[name]; ok && m != n {
			for _, id := range c.locals() {
				u.endpoints[id] = true
			}
			break
		}
	}
	c.tierNumbers = nums
	u.rebuildTierEnds()
}
