package compiler

import (
	"net/netip"
	"slices"
)

// The fast path turns a change of a selector's members into flow changes
// of one rule slot directly: when the slot reads the members' addresses as
// they are (a pure source), an address that joins or leaves the set adds
// or removes exactly the flows matching it, unless the change alters the
// slot's layout (a rule comes alive or dies, an IP family stops or starts
// being admitted), in which case the slot is recompiled instead. Its cost
// is the number of changed addresses, not the size of the rule, which is
// what lets one pod joining a set that a hundred rules use cost a hundred
// flows' work.

// setDelta is what one update did to a member set.
type setDelta struct {
	before         []netip.Prefix
	familyBefore   [2]int
	added, removed []netip.Prefix
}

// fastSlot applies the set changes in deltas to slot s and logs the flow
// changes. It returns false, changing nothing, when the slot's layout
// changes: then the slot must be recompiled.
func (c *Compiler) fastSlot(s *slotState, deltas map[*memberSet]*setDelta, log *flowLog) bool {
	if c.states[s.policyID].err != nil {
		return false
	}
	familyBefore := func(m *memberSet) [2]int {
		if d := deltas[m]; d != nil {
			return d.familyBefore
		}
		return m.family
	}
	live := make([]bool, len(s.rules))
	for i := range s.rules {
		live[i] = s.rules[i].live(currentFamily)
		if live[i] != s.rules[i].live(familyBefore) {
			return false
		}
	}
	if admitted(s.rules, live, familyBefore) != admitted(s.rules, live, currentFamily) {
		return false
	}
	if !s.live {
		return true // dead before and after
	}
	type candidate struct {
		side int
		sc   scope
		p    netip.Prefix
	}
	var cands []candidate
	for i := range s.rules {
		if !live[i] {
			continue
		}
		for side := 0; side < 2; side++ {
			a := &s.rules[i].addr[side]
			d := deltas[a.pure]
			if a.pure == nil || d == nil || s.addrClause[side] < 0 {
				continue
			}
			for _, ps := range [][]netip.Prefix{d.added, d.removed} {
				for _, p := range ps {
					cands = append(cands, candidate{side, a.scope, p})
				}
			}
		}
	}
	seen := make(map[candidate]struct{}, len(cands))
	for _, cd := range cands {
		if _, dup := seen[cd]; dup || !s.admit[famIndex(cd.p)] {
			continue
		}
		seen[cd] = struct{}{}
		before, after := s.present(cd.side, cd.sc, cd.p, live, deltas)
		if before != after {
			s.addressChanged(cd.side, cd.sc, cd.p, after, log)
		}
	}
	return true
}

// present reports whether the address clause of side admits p in scope sc
// before and after the changes in deltas.
func (s *slotState) present(side int, sc scope, p netip.Prefix, live []bool, deltas map[*memberSet]*setDelta) (before, after bool) {
	for i := range s.rules {
		if !live[i] {
			continue
		}
		a := &s.rules[i].addr[side]
		if a.scope.qualified != sc.qualified || a.scope.zone != sc.zone {
			continue // another scope's flows
		}
		inAfter, inBefore := false, false
		if a.pure != nil {
			inAfter = a.pure.has(p)
			inBefore = inAfter
			if d := deltas[a.pure]; d != nil {
				_, inBefore = slices.BinarySearchFunc(d.before, p, comparePrefixes)
			}
		}
		before = before || a.contains(p, inBefore)
		after = after || a.contains(p, inAfter)
	}
	return before, after
}

// addressChanged updates the flows matching p in scope sc on one side, now
// that the side's clause admits it (now true) or no longer does.
func (s *slotState) addressChanged(side int, sc scope, p netip.Prefix, now bool, log *flowLog) {
	text := sc.qualify(addrFragment([2]string{"src", "dst"}[side], p)).text
	k := s.addrClause[side]
	var pos *Flow
	if now {
		if s.nClauses == 1 {
			pos = &Flow{Table: s.table, Priority: s.prio, Match: joinMatch(s.base, s.guardMatch(), text), Actions: s.action, Cookie: s.cookie}
		} else {
			pos = &Flow{Table: s.table, Priority: s.prio, Match: joinMatch(s.base, "", text), Actions: conjunctionAction(s.conjID, k, s.nClauses), Cookie: s.cookie}
		}
		s.set(slotKey{pos.Priority, pos.Match}, pos, log)
	} else if s.nClauses == 1 {
		s.set(slotKey{s.prio, joinMatch(s.base, s.guardMatch(), text)}, nil, log)
	} else {
		s.set(slotKey{s.prio, joinMatch(s.base, "", text)}, nil, log)
	}
	if !s.hasExclusion {
		return
	}
	// The exclusion conjunction repeats the positive clauses and adds the
	// exclusion clause last; a text in both shares one flow.
	n := s.nClauses + 1
	var acts []string
	if now {
		acts = append(acts, conjunctionAction(s.conjID|1, k, n))
	}
	if _, ok := s.negTexts[text]; ok {
		acts = append(acts, conjunctionAction(s.conjID|1, n-1, n))
	}
	key := slotKey{s.prio + 1, joinMatch(s.base, "", text)}
	if len(acts) == 0 {
		s.set(key, nil, log)
		return
	}
	ex := Flow{Table: s.table, Priority: key.prio, Match: key.match, Actions: joinActions(acts), Cookie: s.exCookie}
	s.set(key, &ex, log)
}

func joinActions(acts []string) string {
	out := acts[0]
	for _, a := range acts[1:] {
		out += "," + a
	}
	return out
}

// set replaces the slot's flow under key with f (nil: removes it),
// logging both.
func (s *slotState) set(key slotKey, f *Flow, log *flowLog) {
	old, had := s.flows[key]
	if had && f != nil && old == *f {
		return
	}
	if had {
		log.del(old)
		delete(s.flows, key)
	}
	if f != nil {
		s.flows[key] = *f
		log.put(*f)
	}
}
