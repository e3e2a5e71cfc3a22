package compiler

import "github.com/flowgate/flowgate/translator/selector"

// useKind says how a rule slot depends on a selector, which decides how
// much of the slot a change of the selector's members costs.
type useKind uint8

const (
	// usePureAddr: the members' addresses are a source of one of the
	// slot's address clauses as they are, so a member joining or leaving
	// changes exactly the flows of its addresses (see fastpath.go).
	usePureAddr useKind = 1 << iota
	// useAddr: the addresses are combined with nets or negations; a change
	// recompiles the slot.
	useAddr
	// usePorts: the members' named ports are matched; a change to a member
	// with named ports recompiles the slot.
	usePorts
	// useLocalPorts: the named ports of the local members only.
	useLocalPorts
)

// selEntry is one selector some compiled slot uses, with its members
// (when a use reads them) and its users.
type selEntry struct {
	members *memberSet
	users   map[*slotState]useKind
}

// entry returns sel's entry, creating and indexing it when new.
func (c *Compiler) entry(sel selector.Selector) *selEntry {
	e := c.selectors[sel]
	if e == nil {
		e = &selEntry{users: map[*slotState]useKind{}}
		c.selectors[sel] = e
		c.selIdx.add(sel, c.labels)
	}
	return e
}

// memberSet returns sel's members, computing them on first use.
func (c *Compiler) memberSet(sel selector.Selector) *memberSet {
	e := c.entry(sel)
	if e.members == nil {
		e.members = c.newMemberSet(sel)
	}
	return e.members
}

// use records that slot s depends on sel.
func (c *Compiler) use(sel selector.Selector, s *slotState, k useKind) {
	e := c.entry(sel)
	if _, ok := e.users[s]; !ok {
		s.deps = append(s.deps, sel)
	}
	e.users[s] |= k
}

// unuse forgets every dependency of s, and the selectors nothing uses
// any more, so that later entity changes do not keep them current for
// nothing.
func (c *Compiler) unuse(s *slotState) {
	for _, sel := range s.deps {
		if e := c.selectors[sel]; e != nil {
			delete(e.users, s)
			c.sweep(sel)
		}
	}
	s.deps = nil
}

// sweep drops sel's entry when no slot uses it.
func (c *Compiler) sweep(sel selector.Selector) {
	if e := c.selectors[sel]; e != nil && len(e.users) == 0 {
		delete(c.selectors, sel)
		c.selIdx.remove(sel)
	}
}
