package compiler

import (
	"fmt"
	"net/netip"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// Rule priorities in the rules tables: each rule slot owns a block of
// ruleSlotSpan priorities, the rule at the bottom and its exclusion just
// above, so rules of one policy never share a priority.
const (
	rulePriorityTop = 50000
	ruleSlotSpan    = 8
	// maxGuards is the number of guard bits (reg5): Log rules plus rules
	// with negations, per policy direction.
	maxGuards = 32
	// subtractLimit bounds how many prefixes exact subtraction may
	// produce before negations are compiled as exclusions instead.
	subtractLimit = 256
)

// policyFlows compiles both directions of one policy.
func (c *Compiler) policyFlows(p *policy.Policy, num uint32) ([]Flow, error) {
	var out []Flow
	for _, dir := range []policy.Direction{policy.Egress, policy.Ingress} {
		if p.Types&dir == 0 {
			continue
		}
		fs, err := c.directionFlows(p, dir, num)
		if err != nil {
			return nil, fmt.Errorf("policy %s %s: %w", p.ID(), dir, err)
		}
		out = append(out, fs...)
	}
	return out, nil
}

// ruleGroup is the rules that share one slot: a Calico rule alone, or the
// cross product of peers and ports one Kubernetes rule expands to.
type ruleGroup []*policy.Rule

// groups splits a rule list into slots. Kubernetes rules expand to a full
// cross product of peers × services, so their union per dimension is
// exact and they can be one conjunction.
func groups(p *policy.Policy, rules []policy.Rule) []ruleGroup {
	var gs []ruleGroup
	for i := range rules {
		r := &rules[i]
		if n := len(gs); n > 0 && p.Kind == policy.KubernetesNetworkPolicy && gs[n-1][0].Index == r.Index {
			gs[n-1] = append(gs[n-1], r)
			continue
		}
		gs = append(gs, ruleGroup{r})
	}
	return gs
}

func (c *Compiler) directionFlows(p *policy.Policy, dir policy.Direction, num uint32) ([]Flow, error) {
	table := TableEgressRules.ID
	regRule := regEgressRule
	ingress := dir == policy.Ingress
	if ingress {
		table, regRule = TableIngressRules.ID, regIngressRule
	}
	gs := groups(p, p.Rules(dir))
	if len(gs) > maxRuleSlots {
		return nil, fmt.Errorf("%d rules: at most %d per direction", len(gs), maxRuleSlots)
	}
	var out []Flow
	guards := 0
	for slot, g := range gs {
		pos, neg := c.groupClauses(g, dir)
		if pos == nil {
			continue // can never match
		}
		needGuard := len(neg) > 0 || g[0].Action == policy.Log
		guard := ""
		if needGuard {
			if guards == maxGuards {
				return nil, fmt.Errorf("more than %d Log rules and rules with negations", maxGuards)
			}
			guard = fmt.Sprintf("reg5=0/%#x", uint32(1)<<guards)
		}
		id := ruleID(num, slot)
		prio := uint16(rulePriorityTop - ruleSlotSpan*slot)
		base := fmt.Sprintf("reg6=0,reg7=%#x", num)
		var action string
		switch g[0].Action {
		case policy.Allow:
			action = fmt.Sprintf("load:%#x->%s,load:%#x->%s", verdictAllow, regVerdict, id, regRule)
		case policy.Deny:
			action = fmt.Sprintf("load:%#x->%s,load:%#x->%s", verdictDeny, regVerdict, id, regRule)
		case policy.Pass:
			action = fmt.Sprintf("load:%#x->%s", verdictPass, regVerdict)
		case policy.Log:
			action = fmt.Sprintf("controller(userdata=%s),load:1->NXM_NX_REG5[%d],resubmit(,%d)", userdata(id, ingress), guards, table)
		}
		cookie := NewCookie(c.opts.Generation, CategoryRule, ingress, id)
		out = append(out, conjunctionFlows(table, prio, base, guard, pos, action, uint32(id)<<1, cookie)...)
		if len(neg) > 0 {
			exAction := fmt.Sprintf("load:1->NXM_NX_REG5[%d],resubmit(,%d)", guards, table)
			exClauses := append(append([]fragmentSet{}, pos...), neg)
			exCookie := NewCookie(c.opts.Generation, CategoryExclusion, ingress, id)
			out = append(out, conjunctionFlows(table, prio+1, base, guard, exClauses, exAction, uint32(id)<<1|1, exCookie)...)
		}
		if needGuard {
			guards++
		}
	}
	return out, nil
}

// userdata encodes a rule id for the controller that receives Log packets:
// direction byte then the id, big-endian.
func userdata(id uint32, ingress bool) string {
	d := 0
	if ingress {
		d = 1
	}
	return fmt.Sprintf("%02x.%02x.%02x.%02x.%02x", d, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// conjunctionFlows emits a rule with the given clauses: one flow when it
// has none, plain flows for one clause, a conjunction for more.
func conjunctionFlows(table uint8, prio uint16, base, guard string, clauses []fragmentSet, action string, conjID uint32, cookie Cookie) []Flow {
	join := func(parts ...string) string {
		s := ""
		for _, p := range parts {
			if p == "" {
				continue
			}
			if s != "" {
				s += ","
			}
			s += p
		}
		return s
	}
	switch len(clauses) {
	case 0:
		return []Flow{{Table: table, Priority: prio, Match: join(base, guard), Actions: action, Cookie: cookie}}
	case 1:
		out := make([]Flow, 0, len(clauses[0]))
		for _, f := range clauses[0] {
			out = append(out, Flow{Table: table, Priority: prio, Match: join(base, guard, f.text), Actions: action, Cookie: cookie})
		}
		return out
	}
	var out []Flow
	n := len(clauses)
	// A fragment in several clauses (an exclusion clause repeating a
	// positive one) is one flow carrying each clause's conjunction action:
	// OpenFlow allows one flow per match and priority.
	at := map[string]int{}
	for k, cl := range clauses {
		for _, f := range cl {
			match := join(base, f.text)
			act := fmt.Sprintf("conjunction(%d,%d/%d)", conjID, k+1, n)
			if i, ok := at[match]; ok {
				out[i].Actions += "," + act
				continue
			}
			at[match] = len(out)
			out = append(out, Flow{Table: table, Priority: prio, Match: match, Actions: act, Cookie: cookie})
		}
	}
	out = append(out, Flow{Table: table, Priority: prio, Match: join(fmt.Sprintf("conj_id=%d", conjID), guard), Actions: action, Cookie: cookie})
	return out
}

// groupClauses computes a slot's positive clauses (nil when the rules can
// never match) and its exclusion clause (empty when nothing is excluded).
func (c *Compiler) groupClauses(g ruleGroup, dir policy.Direction) ([]fragmentSet, fragmentSet) {
	dims := make([]fragmentSet, 4) // src addr, dst addr, src ports, service
	any := [4]bool{}
	var neg fragmentSet
	matchable := 0
	for _, r := range g {
		rd, rneg := c.ruleDimensions(r, dir)
		if rd == nil {
			continue
		}
		matchable++
		for i := range dims {
			if rd[i] == nil {
				any[i] = true
			} else {
				dims[i] = append(dims[i], rd[i]...)
			}
		}
		neg = append(neg, rneg...)
	}
	if matchable == 0 {
		return nil, nil
	}
	// Family pruning: fragments of a family no address clause admits are dead.
	v4, v6 := true, true
	for i := 0; i < 2; i++ {
		if !any[i] && dims[i] != nil {
			a4, a6 := dims[i].families()
			v4, v6 = v4 && a4, v6 && a6
		}
	}
	clauses := []fragmentSet{}
	for i := range dims {
		if any[i] || dims[i] == nil {
			continue
		}
		cl := dims[i].onlyFamilies(v4, v6).sorted()
		if len(cl) == 0 {
			return nil, nil
		}
		clauses = append(clauses, cl)
	}
	return clauses, neg.onlyFamilies(v4, v6).sorted()
}

// ruleDimensions returns one rule's four dimensions (nil entry: any) and
// its exclusion fragments; a nil result means the rule never matches.
func (c *Compiler) ruleDimensions(r *policy.Rule, dir policy.Direction) ([]fragmentSet, fragmentSet) {
	families := []uint8{4, 6}
	switch r.IPVersion {
	case 4:
		families = []uint8{4}
	case 6:
		families = []uint8{6}
	}
	if r.Protocol == policy.ICMP {
		families = intersectFamilies(families, 4)
	} else if r.Protocol == policy.ICMPv6 {
		families = intersectFamilies(families, 6)
	}
	if len(families) == 0 {
		return nil, nil
	}
	dims := make([]fragmentSet, 4)
	var neg fragmentSet
	localSrc := dir == policy.Egress
	for i, side := range []struct {
		name  string
		peer  *policy.Peer
		local bool
	}{{"src", &r.Source, localSrc}, {"dst", &r.Destination, !localSrc}} {
		pos, negs := c.peerAddresses(side.peer)
		if pos != nil {
			dims[i] = addrFragments(side.name, pos)
			if len(dims[i]) == 0 {
				return nil, nil
			}
		}
		neg = append(neg, addrFragments(side.name, negs)...)
		if len(side.peer.NotPorts) > 0 {
			neg = append(neg, c.portClause(r.Protocol, side.name, side.peer, side.peer.NotPorts, side.local, families)...)
		}
	}
	if len(r.Source.Ports) > 0 {
		dims[2] = c.portClause(r.Protocol, "src", &r.Source, r.Source.Ports, localSrc, families)
		if len(dims[2]) == 0 {
			return nil, nil
		}
	}
	switch {
	case len(r.Destination.Ports) > 0:
		dims[3] = c.portClause(r.Protocol, "dst", &r.Destination, r.Destination.Ports, !localSrc, families)
	case r.ICMP != nil:
		dims[3] = fragmentSet{icmpFragment(r.Protocol, r.ICMP)}
	case r.Protocol != 0 && len(r.Source.Ports) == 0:
		for _, fam := range families {
			if f, ok := protoFragment(r.Protocol, fam); ok {
				dims[3] = append(dims[3], f)
			}
		}
	case r.Protocol == 0 && len(families) == 1 && dims[0] == nil && dims[1] == nil:
		// ipVersion alone restricts the family.
		if families[0] == 4 {
			dims[3] = fragmentSet{{"ip", 4}}
		} else {
			dims[3] = fragmentSet{{"ipv6", 6}}
		}
	}
	if dims[3] != nil && len(dims[3]) == 0 {
		return nil, nil
	}
	if r.NotProtocol != 0 {
		for _, fam := range families {
			if f, ok := protoFragment(r.NotProtocol, fam); ok {
				neg = append(neg, f)
			}
		}
	}
	if r.NotICMP != nil && r.Protocol.IsICMP() {
		neg = append(neg, icmpFragment(r.Protocol, r.NotICMP))
	} else if r.NotICMP != nil {
		for _, p := range []policy.Protocol{policy.ICMP, policy.ICMPv6} {
			neg = append(neg, icmpFragment(p, r.NotICMP))
		}
	}
	return dims, neg
}

func intersectFamilies(fs []uint8, f uint8) []uint8 {
	for _, x := range fs {
		if x == f {
			return []uint8{f}
		}
	}
	return nil
}

// peerAddresses computes the addresses one side admits: nil for any, else
// a prefix list; negs are addresses to exclude that could not be
// subtracted exactly (when the positive side is "any", or too costly).
func (c *Compiler) peerAddresses(p *policy.Peer) (pos, negs []netip.Prefix) {
	if len(p.Nets) > 0 {
		pos = normalizePrefixes(p.Nets)
	}
	if p.Selector != nil {
		members := c.memberPrefixes(*p.Selector)
		if pos == nil {
			pos = members
		} else {
			pos = intersectPrefixes(pos, members)
		}
	}
	negs = append(negs, p.NotNets...)
	if p.NotSelector != nil {
		negs = append(negs, c.memberPrefixes(*p.NotSelector)...)
	}
	if len(negs) == 0 {
		return pos, nil
	}
	if pos != nil {
		if diff, ok := subtractPrefixes(pos, negs, subtractLimit); ok {
			return diff, nil
		}
	}
	return pos, normalizePrefixes(negs)
}

// portClause matches a ports list on one side: numeric ranges, and named
// ports as (address, port) tuples of the endpoints the side's selector
// selects (the local endpoints, on the side that is the local one).
func (c *Compiler) portClause(proto policy.Protocol, side string, peer *policy.Peer, ms []policy.PortMatch, local bool, families []uint8) fragmentSet {
	out := portFragments(proto, side, ms, families)
	for _, m := range ms {
		if m.Name == "" {
			continue
		}
		sel := selector.All()
		if peer.Selector != nil {
			sel = *peer.Selector
		}
		for _, e := range c.members(sel) {
			if e.endpoint == nil || (local && !e.local) {
				continue
			}
			for _, np := range e.endpoint.Ports {
				if np.Name != m.Name || policy.Protocol(np.Protocol) != proto {
					continue
				}
				for _, a := range e.endpoint.IPs {
					if (a.Is4() && containsFamily(families, 4)) || (a.Is6() && containsFamily(families, 6)) {
						out = append(out, tupleFragment(proto, side, a, np.Port))
					}
				}
			}
		}
	}
	return out
}

func containsFamily(fs []uint8, f uint8) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}
