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

// policyState is a compiled policy: its number and its rule slots, or the
// error that stopped it compiling (then it has no slots and no flows).
type policyState struct {
	num   uint32
	slots []*slotState
	err   error
}

// compilePolicy compiles both directions of one policy into slots. A
// policy that fails to compile keeps the slots of the failing direction,
// without flows, so that the member changes that could make it compile
// again (a rule dying frees a guard bit) still reach it.
func (c *Compiler) compilePolicy(p *policy.Policy, num uint32) *policyState {
	ps := &policyState{num: num}
	for _, dir := range []policy.Direction{policy.Egress, policy.Ingress} {
		if p.Types&dir == 0 {
			continue
		}
		if err := c.compileDirection(ps, p, dir); err != nil {
			ps.err = fmt.Errorf("policy %s %s: %w", p.ID(), dir, err)
			break
		}
	}
	for _, s := range ps.slots {
		if ps.err == nil {
			s.emit()
		} else {
			s.flows = nil
		}
	}
	return ps
}

// compileDirection builds every slot of one direction and hands out guard
// bits, failing when the direction needs more than there are.
func (c *Compiler) compileDirection(ps *policyState, p *policy.Policy, dir policy.Direction) error {
	gs := groups(p, p.Rules(dir))
	if len(gs) > maxRuleSlots {
		return fmt.Errorf("%d rules: at most %d per direction", len(gs), maxRuleSlots)
	}
	guards := 0
	var err error
	for slot, g := range gs {
		s := c.buildSlot(p, dir, g, slot, ps.num)
		ps.slots = append(ps.slots, s)
		if s.live && s.needGuard {
			if guards == maxGuards && err == nil {
				err = fmt.Errorf("more than %d Log rules and rules with negations", maxGuards)
			}
			s.guard = guards
			guards++
		}
	}
	return err
}

// ruleGroup is the rules that share one slot: a Calico rule alone, or the
// cross product of peers and ports one Kubernetes rule expands to.
type ruleGroup []*policy.Rule

// groups splits a rule list into slots. Rules that expand one user rule
// to a full cross product of peers × services (Policy.CrossProductRules)
// have an exact union per dimension, so they can be one conjunction.
func groups(p *policy.Policy, rules []policy.Rule) []ruleGroup {
	var gs []ruleGroup
	for i := range rules {
		r := &rules[i]
		if n := len(gs); n > 0 && p.CrossProductRules() && gs[n-1][0].Index == r.Index {
			gs[n-1] = append(gs[n-1], r)
			continue
		}
		gs = append(gs, ruleGroup{r})
	}
	return gs
}

// famMask is a set of IP families: bit famIndex.
type famMask uint8

func (m famMask) has(f int) bool { return m&(1<<f) != 0 }

// addrSource is what one rule admits on one address side.
type addrSource struct {
	// any: no constraint on this side.
	any bool
	// pure, when set, is a selector's member set taken as it is, limited
	// to the families in fams.
	pure *memberSet
	fams famMask
	// static are fixed prefixes (nets, or selector members combined with
	// nets and negations, which a change of the selector recompiles).
	static []netip.Prefix
	// scope is the packets (zone) the addresses are matched in.
	scope scope
}

// has reports whether the source admits addresses of family f, with the
// pure set's family counts given.
func (a *addrSource) has(f int, family [2]int) bool {
	if a.pure != nil {
		return a.fams.has(f) && family[f] > 0
	}
	for _, p := range a.static {
		if famIndex(p) == f {
			return true
		}
	}
	return false
}

// contains reports whether the source admits prefix p, given whether the
// pure set has it.
func (a *addrSource) contains(p netip.Prefix, inSet bool) bool {
	if a.pure != nil {
		return a.fams.has(famIndex(p)) && inSet
	}
	for _, q := range a.static {
		if q == p {
			return true
		}
	}
	return false
}

// ruleDims is one rule's four dimensions (source and destination
// addresses, source ports, service) and its exclusions.
type ruleDims struct {
	addr    [2]addrSource
	ports   fragmentSet // nil: any
	service fragmentSet // nil: any
	neg     fragmentSet
	// dead: the rule can never match, whatever members its pure sources
	// have (they are checked separately).
	dead bool
}

// live reports whether the rule can match with its pure sources' family
// counts as given by family.
func (d *ruleDims) live(family func(*memberSet) [2]int) bool {
	if d.dead {
		return false
	}
	for i := range d.addr {
		a := &d.addr[i]
		if a.pure != nil && !a.has(0, family(a.pure)) && !a.has(1, family(a.pure)) {
			return false
		}
	}
	return true
}

func currentFamily(s *memberSet) [2]int { return s.family }

// ruleDimensions computes one rule's dimensions, registering with slot s
// every selector it reads. A side whose addresses come from selectors is
// split by scope (zones.go): the rule becomes one ruleDims per combination
// of the sides' scopes, all sharing the port and service dimensions, so
// their union per dimension is exactly the rule.
func (c *Compiler) ruleDimensions(r *policy.Rule, dir policy.Direction, appliesTo selector.Selector, s *slotState) []ruleDims {
	var d ruleDims
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
		d.dead = true
		return []ruleDims{d}
	}
	var fams famMask
	for _, f := range families {
		fams |= famMask(1) << map[uint8]int{4: 0, 6: 1}[f]
	}
	localSrc := dir == policy.Egress
	var sides [2][]sideSource
	for i, side := range []struct {
		name  string
		peer  *policy.Peer
		local bool
	}{{"src", &r.Source, localSrc}, {"dst", &r.Destination, !localSrc}} {
		peer := side.peer
		sides[i] = c.sideSources(peer, side.name, fams, s)
		if len(peer.NotPorts) > 0 {
			d.neg = append(d.neg, c.portClause(r.Protocol, side.name, peer, peer.NotPorts, side.local, appliesTo, families, s)...)
		}
	}
	if len(r.Source.Ports) > 0 {
		d.ports = c.portClause(r.Protocol, "src", &r.Source, r.Source.Ports, localSrc, appliesTo, families, s)
		if len(d.ports) == 0 {
			d.dead = true
		}
	}
	switch {
	case len(r.Destination.Ports) > 0:
		d.service = c.portClause(r.Protocol, "dst", &r.Destination, r.Destination.Ports, !localSrc, appliesTo, families, s)
	case r.ICMP != nil:
		d.service = fragmentSet{icmpFragment(r.Protocol, r.ICMP)}
	case r.Protocol != 0 && len(r.Source.Ports) == 0:
		for _, fam := range families {
			if f, ok := protoFragment(r.Protocol, fam); ok {
				d.service = append(d.service, f)
			}
		}
	case r.Protocol == 0 && len(families) == 1 && sides[0][0].addr.any && sides[1][0].addr.any:
		// ipVersion alone restricts the family.
		if families[0] == 4 {
			d.service = fragmentSet{{"ip", 4}}
		} else {
			d.service = fragmentSet{{"ipv6", 6}}
		}
	}
	if d.service != nil && len(d.service) == 0 {
		d.dead = true
	}
	if r.NotProtocol != 0 {
		for _, fam := range families {
			if f, ok := protoFragment(r.NotProtocol, fam); ok {
				d.neg = append(d.neg, f)
			}
		}
	}
	if r.NotICMP != nil && r.Protocol.IsICMP() {
		d.neg = append(d.neg, icmpFragment(r.Protocol, r.NotICMP))
	} else if r.NotICMP != nil {
		for _, p := range []policy.Protocol{policy.ICMP, policy.ICMPv6} {
			d.neg = append(d.neg, icmpFragment(p, r.NotICMP))
		}
	}
	out := make([]ruleDims, 0, len(sides[0])*len(sides[1]))
	for _, a := range sides[0] {
		for _, b := range sides[1] {
			x := d
			x.addr = [2]addrSource{a.addr, b.addr}
			x.neg = append(append(append(fragmentSet(nil), a.neg...), b.neg...), d.neg...)
			x.dead = d.dead || a.dead || b.dead
			out = append(out, x)
		}
	}
	return out
}

// sideSource is what one side of a rule admits in one scope: its
// addresses, the addresses to exclude that could not be subtracted, and
// whether it admits nothing.
type sideSource struct {
	addr addrSource
	neg  fragmentSet
	dead bool
}

// sideSources computes one side's addresses, one source per scope when
// selectors name them.
func (c *Compiler) sideSources(peer *policy.Peer, name string, fams famMask, s *slotState) []sideSource {
	if peer.Selector != nil && len(peer.Nets) == 0 && len(peer.NotNets) == 0 && peer.NotSelector == nil {
		var out []sideSource
		for _, sc := range c.pureScopes() {
			sel := sc.restrict(*peer.Selector)
			c.use(sel, s, usePureAddr)
			out = append(out, sideSource{addr: addrSource{pure: c.memberSet(sel), fams: fams, scope: sc}})
		}
		return out
	}
	scopes := []scope{noScope}
	if peer.Selector != nil || peer.NotSelector != nil {
		scopes = c.staticScopes()
	}
	out := make([]sideSource, 0, len(scopes))
	for _, sc := range scopes {
		for _, sel := range []*selector.Selector{peer.Selector, peer.NotSelector} {
			if sel != nil {
				c.use(sc.restrict(*sel), s, useAddr)
			}
		}
		var src sideSource
		pos, negs := c.peerAddresses(peer, sc)
		if pos == nil {
			src.addr = addrSource{any: true}
		} else {
			src.addr = addrSource{static: onlyFamilyPrefixes(pos, fams), fams: fams, scope: sc}
			src.dead = len(src.addr.static) == 0
		}
		src.neg = sc.qualifyAll(addrFragments(name, negs))
		out = append(out, src)
	}
	return out
}

// onlyFamilyPrefixes keeps the prefixes of the families in fams: a rule
// restricted to one family (ipVersion, ICMP) must not match the other's
// addresses of its peers.
func onlyFamilyPrefixes(ps []netip.Prefix, fams famMask) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if fams.has(famIndex(p)) {
			out = append(out, p)
		}
	}
	return out
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
func (c *Compiler) peerAddresses(p *policy.Peer, sc scope) (pos, negs []netip.Prefix) {
	if len(p.Nets) > 0 {
		pos = normalizePrefixes(p.Nets)
	}
	if p.Selector != nil {
		members := c.memberPrefixes(sc.restrict(*p.Selector))
		if pos == nil {
			pos = members
		} else {
			pos = intersectPrefixes(pos, members)
		}
	}
	negs = append(negs, p.NotNets...)
	if p.NotSelector != nil {
		negs = append(negs, c.memberPrefixes(sc.restrict(*p.NotSelector))...)
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
// selects. On the side that is the local one, only the local endpoints the
// policy applies to can be there (dispatch runs the policy for them
// alone), so only their ports are matched.
func (c *Compiler) portClause(proto policy.Protocol, side string, peer *policy.Peer, ms []policy.PortMatch, local bool, appliesTo selector.Selector, families []uint8, s *slotState) fragmentSet {
	// Never nil: ports whose names resolve to nothing match nothing, not
	// any port.
	out := append(fragmentSet{}, portFragments(proto, side, ms, families)...)
	for _, m := range ms {
		if m.Name == "" {
			continue
		}
		sel := selector.All()
		if peer.Selector != nil {
			sel = *peer.Selector
		}
		var es []*entity
		if local {
			sel = selector.And(appliesTo, sel)
			c.use(sel, s, useLocalPorts)
			es = c.localMembers(sel)
		} else {
			c.use(sel, s, usePorts)
			es = c.members(sel)
		}
		for _, e := range es {
			if e.endpoint == nil {
				continue
			}
			sc, ok := c.entityScope(e)
			if !ok {
				continue // its network's packets never reach this host's rules
			}
			for _, np := range e.endpoint.Ports {
				if np.Name != m.Name || policy.Protocol(np.Protocol) != proto {
					continue
				}
				for _, a := range e.endpoint.IPs {
					if (a.Is4() && containsFamily(families, 4)) || (a.Is6() && containsFamily(families, 6)) {
						out = append(out, sc.qualify(tupleFragment(proto, side, a, np.Port)))
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
