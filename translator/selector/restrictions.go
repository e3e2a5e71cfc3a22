package selector

// LabelRestriction is a condition on one label that every label set a
// selector matches meets: the key is present and, when Values is not nil,
// has one of Values. Calico's selector library exposes the same idea (its
// label restrictions) so that an index can find candidate members without
// evaluating the selector against everything.
type LabelRestriction struct {
	// Key is the label key that must be present.
	Key string
	// Values, when not nil, are the values the label may have (sorted,
	// distinct; empty for `k in {}`, which nothing matches).
	Values []string
}

// LabelRestrictions returns the selector's top-level conjuncts of the forms
// `k == "v"`, `k in {...}` and `has(k)`, in the selector's order, as
// restrictions. Every one holds for every label set the selector matches;
// other conjuncts (negations, !=, string operators, global(), a nested ||)
// yield none, and a selector that is a disjunction at the top yields none
// at all. all() yields none. The caller owns the returned slice.
func (s Selector) LabelRestrictions() []LabelRestriction {
	if s.IsAll() {
		return nil
	}
	root := s.root()
	conjuncts := []*node{root}
	if root.op == opAnd {
		conjuncts = root.kids
	}
	var out []LabelRestriction
	for _, n := range conjuncts {
		switch n.op {
		case opHas:
			out = append(out, LabelRestriction{Key: n.key})
		case opEq:
			out = append(out, LabelRestriction{Key: n.key, Values: []string{n.value}})
		case opIn:
			out = append(out, LabelRestriction{Key: n.key, Values: append([]string{}, n.values...)})
		}
	}
	return out
}
