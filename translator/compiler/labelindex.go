package compiler

import (
	"github.com/flowgate/flowgate/translator/selector"
)

// labelIndex finds the entities that may satisfy a selector without
// looking at every entity: for every label key, the entities by value.
//
// Entities are filed when they are created, while their labels are still
// in the cache: filing 100,000 entities later, key by key, costs a cache
// miss per entity and key. Postings are slices, so filing is appends;
// each entity remembers where it is filed (entity.filed), so that removing
// it is a swap with the posting's last entry.
type labelIndex struct {
	// slot is which of entity.filed this index uses: an entity can be in
	// the index of all entities and in that of the local ones.
	slot  int
	byKey map[string]map[string]*posting
}

// posting is the entities with one value of one key.
type posting struct {
	key, value string
	ents       []*entity
}

// postingRef is where an entity is filed: its position in a posting.
type postingRef struct {
	p *posting
	i int
}

func newLabelIndex(slot int) *labelIndex {
	return &labelIndex{slot: slot, byKey: map[string]map[string]*posting{}}
}

// add files every label of e.
func (x *labelIndex) add(e *entity) {
	if e.filed[x.slot] == nil {
		e.filed[x.slot] = make([]postingRef, 0, len(e.labels))
	}
	for k, v := range e.labels {
		byValue := x.byKey[k]
		if byValue == nil {
			byValue = map[string]*posting{}
			x.byKey[k] = byValue
		}
		p := byValue[v]
		if p == nil {
			p = &posting{key: k, value: v}
			byValue[v] = p
		}
		e.filed[x.slot] = append(e.filed[x.slot], postingRef{p, len(p.ents)})
		p.ents = append(p.ents, e)
	}
}

// remove takes e out of every posting, moving each posting's last entity
// into its place.
func (x *labelIndex) remove(e *entity) {
	for _, r := range e.filed[x.slot] {
		p := r.p
		last := len(p.ents) - 1
		if moved := p.ents[last]; r.i != last {
			p.ents[r.i] = moved
			refs := moved.filed[x.slot]
			for j := range refs {
				if refs[j].p == p {
					refs[j].i = r.i
					break
				}
			}
		}
		p.ents[last] = nil
		p.ents = p.ents[:last]
		if last == 0 {
			delete(x.byKey[p.key], p.value)
			if len(x.byKey[p.key]) == 0 {
				delete(x.byKey, p.key)
			}
		}
	}
	e.filed[x.slot] = nil
}

// size is how many entities satisfy t.
func (x *labelIndex) size(t term) int {
	byValue := x.byKey[t.Key]
	n := 0
	if t.Values == nil {
		for _, p := range byValue {
			n += len(p.ents)
		}
		return n
	}
	for _, v := range t.Values {
		if p := byValue[v]; p != nil {
			n += len(p.ents)
		}
	}
	return n
}

// narrowest returns the term of terms that the fewest entities satisfy
// (ok false when there is none).
func (x *labelIndex) narrowest(terms []term) (best term, ok bool) {
	bestSize := 0
	for _, t := range terms {
		if n := x.size(t); !ok || n < bestSize {
			best, bestSize, ok = t, n, true
		}
	}
	return best, ok
}

// each calls f for every entity of the index that may satisfy sel (a
// superset of its members, each once); for a selector with no term, every
// entity, which all enumerates.
func (x *labelIndex) each(sel selector.Selector, all func(func(*entity)), f func(*entity)) {
	t, ok := x.narrowest(selectorTerms(sel))
	if !ok {
		all(f)
		return
	}
	byValue := x.byKey[t.Key]
	if t.Values == nil {
		for _, p := range byValue {
			for _, e := range p.ents {
				f(e)
			}
		}
		return
	}
	for _, v := range t.Values { // canonical "in" sets have no repeats
		if p := byValue[v]; p != nil {
			for _, e := range p.ents {
				f(e)
			}
		}
	}
}

// selectorIndex is the reverse: given an entity's labels, which of a
// changing collection of selectors may select it. Each selector is filed
// under one of its terms (the narrowest when added) or, with none, among
// those every entity must be checked against.
type selectorIndex struct {
	eq    map[string]map[string]map[selector.Selector]struct{}
	has   map[string]map[selector.Selector]struct{}
	rest  map[selector.Selector]struct{}
	filed map[selector.Selector]term
}

func newSelectorIndex() *selectorIndex {
	return &selectorIndex{
		eq:    map[string]map[string]map[selector.Selector]struct{}{},
		has:   map[string]map[selector.Selector]struct{}{},
		rest:  map[selector.Selector]struct{}{},
		filed: map[selector.Selector]term{},
	}
}

// add files sel under the narrowest of its terms; adding a selector
// twice files it once.
func (x *selectorIndex) add(sel selector.Selector, labels *labelIndex) {
	if _, ok := x.filed[sel]; ok {
		return
	}
	if _, ok := x.rest[sel]; ok {
		return
	}
	t, ok := labels.narrowest(selectorTerms(sel))
	if !ok {
		x.rest[sel] = struct{}{}
		return
	}
	x.filed[sel] = t
	if t.Values == nil {
		if x.has[t.Key] == nil {
			x.has[t.Key] = map[selector.Selector]struct{}{}
		}
		x.has[t.Key][sel] = struct{}{}
		return
	}
	byValue := x.eq[t.Key]
	if byValue == nil {
		byValue = map[string]map[selector.Selector]struct{}{}
		x.eq[t.Key] = byValue
	}
	for _, v := range t.Values {
		if byValue[v] == nil {
			byValue[v] = map[selector.Selector]struct{}{}
		}
		byValue[v][sel] = struct{}{}
	}
}

// remove forgets sel.
func (x *selectorIndex) remove(sel selector.Selector) {
	delete(x.rest, sel)
	t, ok := x.filed[sel]
	if !ok {
		return
	}
	delete(x.filed, sel)
	if t.Values == nil {
		delete(x.has[t.Key], sel)
		if len(x.has[t.Key]) == 0 {
			delete(x.has, t.Key)
		}
		return
	}
	byValue := x.eq[t.Key]
	for _, v := range t.Values {
		delete(byValue[v], sel)
		if len(byValue[v]) == 0 {
			delete(byValue, v)
		}
	}
	if len(byValue) == 0 {
		delete(x.eq, t.Key)
	}
}

// each calls f for every filed selector that may select an entity with
// labels l (each at most once).
func (x *selectorIndex) each(l selector.Set, f func(selector.Selector)) {
	for sel := range x.rest {
		f(sel)
	}
	for k, v := range l {
		for sel := range x.has[k] {
			f(sel)
		}
		if byValue := x.eq[k]; byValue != nil {
			for sel := range byValue[v] {
				f(sel)
			}
		}
	}
}

// candidates returns the filed selectors that may select an entity with
// labels a or b (either may be nil), each once.
func (x *selectorIndex) candidates(a, b selector.Set) map[selector.Selector]struct{} {
	out := map[selector.Selector]struct{}{}
	add := func(sel selector.Selector) { out[sel] = struct{}{} }
	if a != nil {
		x.each(a, add)
	}
	if b != nil {
		x.each(b, add)
	}
	return out
}
