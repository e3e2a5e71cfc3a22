package compiler

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// entity is anything a rule selector can select: an endpoint (local or
// remote) or a network set, with the labels selectors see.
type entity struct {
	key      string
	labels   selector.Set
	prefixes []netip.Prefix
	// macs are the endpoint's all-address pairs: it is a member for any
	// address of the family, from (to) the MAC. Sorted.
	macs     []macMember
	endpoint *policy.Endpoint // nil for network sets
	local    bool
	// filed is where the label indexes hold the entity: the index of
	// all entities, and that of the local ones.
	filed [2][]postingRef
}

func endpointKey(id string) string   { return "ep/" + id }
func networkSetKey(id string) string { return "ns/" + id }

func (c *Compiler) endpointEntity(e *policy.Endpoint) *entity {
	ps := make([]netip.Prefix, 0, len(e.IPs))
	for _, a := range e.IPs {
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	_, local := c.opts.Locals[e.ID()]
	labels := c.world.EndpointLabels(e)
	c.shared.Label(labels, e)
	return &entity{key: endpointKey(e.ID()), labels: labels, prefixes: ps, macs: wideMACs(e), endpoint: e, local: local}
}

func (c *Compiler) networkSetEntity(s *policy.NetworkSet) *entity {
	return &entity{key: networkSetKey(s.ID()), labels: c.world.NetworkSetLabels(s), prefixes: normalizePrefixes(s.Nets)}
}

// hasPorts reports whether the entity publishes named ports that rules
// could match.
func (e *entity) hasPorts() bool {
	return e != nil && e.endpoint != nil && len(e.endpoint.Ports) > 0 && len(e.endpoint.IPs) > 0
}

// memberSet is what one selector selects, kept current as entities
// change: its members' addresses with multiplicity, and from them the
// normalised prefix list rules match on. Rules of many policies share one
// selector, so they share the set and, per side, its fragments.
type memberSet struct {
	sel    selector.Selector
	counts map[netip.Prefix]int32
	// macs counts the members' MAC members.
	macs map[macMember]int32
	// prefixes are the normalised addresses (sorted, disjoint). The slice
	// is replaced, never modified, so that an update can keep the old one.
	prefixes []netip.Prefix
	// family counts prefixes and MAC members per IP family (index
	// famIndex).
	family [2]int
	// sorted are the members in key order; nil until asked for.
	sorted []*entity
	// fragments caches addrFragments of prefixes per side (src, dst).
	fragments [2]fragmentSet
}

// famIndex is 0 for IPv4 and 1 for IPv6.
func famIndex(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

// memberSetOf computes sel's members from the label index.
func (c *Compiler) newMemberSet(sel selector.Selector) *memberSet {
	set := &memberSet{sel: sel, counts: map[netip.Prefix]int32{}, macs: map[macMember]int32{}}
	c.labels.each(sel, c.eachEntity, func(e *entity) {
		if sel.Matches(e.labels) {
			for _, p := range e.prefixes {
				set.counts[p]++
			}
			for _, m := range e.macs {
				set.macs[m]++
			}
		}
	})
	set.setPrefixes(normalizeCounts(set.counts))
	return set
}

func normalizeCounts(counts map[netip.Prefix]int32) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(counts))
	for p, n := range counts {
		if n > 0 {
			ps = append(ps, p)
		}
	}
	return slices.Clip(normalizePrefixes(ps))
}

func (s *memberSet) setPrefixes(ps []netip.Prefix) {
	s.prefixes = ps
	s.family = [2]int{}
	for _, p := range ps {
		s.family[famIndex(p)]++
	}
	for m := range s.macs {
		s.family[m.famIndex()]++
	}
	s.fragments = [2]fragmentSet{}
}

// sideFragments returns the set's addresses as fragments of one side
// ("src" or "dst"). The slice is shared: callers must not modify it.
func (s *memberSet) sideFragments(side string) fragmentSet {
	i := 0
	if side == "dst" {
		i = 1
	}
	if s.fragments[i] == nil {
		s.fragments[i] = append(addrFragments(side, s.prefixes), macFragments(side, s.macs)...)
	}
	return s.fragments[i]
}

// has reports whether p is one of the normalised prefixes.
func (s *memberSet) has(p netip.Prefix) bool {
	_, ok := slices.BinarySearchFunc(s.prefixes, p, comparePrefixes)
	return ok
}

// comparePrefixes orders prefixes as normalizePrefixes sorts them.
func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// members returns the entities sel selects, in key order, computing them
// from the label index on first use after a change. The slice is shared:
// callers must not modify it.
func (c *Compiler) members(sel selector.Selector) []*entity {
	set := c.memberSet(sel)
	if set.sorted == nil {
		out := []*entity{}
		c.labels.each(sel, c.eachEntity, func(e *entity) {
			if sel.Matches(e.labels) {
				out = append(out, e)
			}
		})
		slices.SortFunc(out, func(a, b *entity) int { return strings.Compare(a.key, b.key) })
		set.sorted = out
	}
	return set.sorted
}

// localMembers returns the local entities sel selects, in key order.
func (c *Compiler) localMembers(sel selector.Selector) []*entity {
	var out []*entity
	c.localLabels.each(sel, c.eachLocal, func(e *entity) {
		if sel.Matches(e.labels) {
			out = append(out, e)
		}
	})
	slices.SortFunc(out, func(a, b *entity) int { return strings.Compare(a.key, b.key) })
	return out
}

// eachEntity calls f for every entity.
func (c *Compiler) eachEntity(f func(*entity)) {
	for _, e := range c.entities {
		f(e)
	}
}

// eachLocal calls f for every local entity.
func (c *Compiler) eachLocal(f func(*entity)) {
	for _, id := range c.locals() {
		if e := c.entities[endpointKey(id)]; e != nil {
			f(e)
		}
	}
}

// fileEntity adds e to the label indexes.
func (c *Compiler) fileEntity(e *entity) {
	c.labels.add(e)
	if e.local {
		c.localLabels.add(e)
	}
}

// unfileEntity removes e from the label indexes.
func (c *Compiler) unfileEntity(e *entity) {
	c.labels.remove(e)
	if e.local {
		c.localLabels.remove(e)
	}
}

// memberPrefixes returns the addresses of everything sel selects. The
// slice is shared: callers must not modify it.
func (c *Compiler) memberPrefixes(sel selector.Selector) []netip.Prefix {
	return c.memberSet(sel).prefixes
}

// setChange is what one update did to a member set: the prefixes before,
// and the addresses whose count changed.
type setChange struct {
	before       []netip.Prefix
	familyBefore [2]int
	touched      map[netip.Prefix]struct{}
	// hostOnly is false once a prefix that is not a single address
	// changed: then the normalised list is recomputed from the counts.
	hostOnly bool
}

// count adds n to the count of each of ps in set, recording the change.
func (ch *setChange) count(set *memberSet, ps []netip.Prefix, n int32) {
	for _, p := range ps {
		set.counts[p] += n
		if set.counts[p] == 0 {
			delete(set.counts, p)
		}
		ch.touched[p] = struct{}{}
		if !p.IsSingleIP() {
			ch.hostOnly = false
		}
	}
}

// finish recomputes the set's normalised prefixes after its counts
// changed and returns what was added and removed.
func (ch *setChange) finish(set *memberSet) (added, removed []netip.Prefix) {
	var next []netip.Prefix
	if ch.hostOnly {
		next = slices.Clone(ch.before)
		for _, p := range sortedPrefixes(ch.touched) {
			i, in := slices.BinarySearchFunc(next, p, comparePrefixes)
			switch live := set.counts[p] > 0; {
			case live && !in && !(i > 0 && next[i-1].Contains(p.Addr()) && next[i-1].Addr().Is4() == p.Addr().Is4()):
				next = slices.Insert(next, i, p)
			case !live && in:
				next = slices.Delete(next, i, i+1)
			}
		}
		next = slices.Clip(next)
	} else {
		next = normalizeCounts(set.counts)
	}
	set.setPrefixes(next)
	return diffSorted(ch.before, next)
}

func sortedPrefixes(m map[netip.Prefix]struct{}) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefixes)
	return out
}

// diffSorted returns what is in b and not a, and in a and not b; both are
// sorted by comparePrefixes.
func diffSorted(a, b []netip.Prefix) (added, removed []netip.Prefix) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && comparePrefixes(a[i], b[j]) < 0):
			removed = append(removed, a[i])
			i++
		case i == len(a) || comparePrefixes(a[i], b[j]) > 0:
			added = append(added, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, removed
}

// sameEntity reports whether two versions of an entity look the same to
// every rule: labels (for selectors) and member content.
func sameEntity(a, b *entity) bool {
	if a == nil || b == nil {
		return a == b
	}
	return mapsEqual(a.labels, b.labels) && sameMemberContent(a, b)
}

func mapsEqual(a, b selector.Set) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// sameMemberContent reports whether two versions of an entity, both
// present, give a rule that selects them the same flows: the same
// addresses, and for endpoints the same named ports and locality.
func sameMemberContent(a, b *entity) bool {
	if a == nil || b == nil || a.local != b.local || !slices.Equal(a.prefixes, b.prefixes) || !slices.Equal(a.macs, b.macs) {
		return false
	}
	if a.endpoint == nil || b.endpoint == nil {
		return a.endpoint == b.endpoint
	}
	return slices.Equal(a.endpoint.IPs, b.endpoint.IPs) && slices.Equal(a.endpoint.Ports, b.endpoint.Ports)
}
