package selector

import (
	"slices"
	"strings"
)

// op is the operation a node performs.
type op uint8

const (
	opAll op = iota
	opGlobal
	opHas
	opEq
	opNe
	opContains
	opStartsWith
	opEndsWith
	opIn
	opNotIn
	opNot
	opAnd
	opOr
)

// setThreshold is the number of "in" values from which a hash set beats a
// linear scan of the sorted values.
const setThreshold = 8

// node is one vertex of a selector's syntax tree. A single struct with an
// op tag, rather than one type per operation behind an interface, keeps
// evaluation a switch with no dynamic dispatch and keeps the tree to one
// allocation per node. Nodes are never modified once built, so trees share
// subtrees freely.
type node struct {
	op     op
	key    string              // leaves other than all() and global()
	value  string              // ==, !=, contains, starts with, ends with
	values []string            // in, not in: sorted, without duplicates
	set    map[string]struct{} // in, not in with at least setThreshold values
	kids   []*node             // !: one; &&, ||: two or more
}

// allNode and globalNode are shared because they carry no data.
var (
	allNode    = &node{op: opAll}
	globalNode = &node{op: opGlobal}
)

func hasNode(key string) *node { return &node{op: opHas, key: key} }

func cmpNode(o op, key, value string) *node { return &node{op: o, key: key, value: value} }

// setNode builds an "in" or "not in" node. It copies values, so the caller
// keeps ownership of its slice.
func setNode(o op, key string, values []string) *node {
	vs := slices.Clone(values)
	slices.Sort(vs)
	vs = slices.Clip(slices.Compact(vs))
	n := &node{op: o, key: key, values: vs}
	if len(vs) >= setThreshold {
		n.set = make(map[string]struct{}, len(vs))
		for _, v := range vs {
			n.set[v] = struct{}{}
		}
	}
	return n
}

// notNode negates n, cancelling a double negation as Calico's parser does
// for "!!", so that "!!x" and "!(!x)" both become x.
func notNode(n *node) *node {
	if n.op == opNot {
		return n.kids[0]
	}
	return &node{op: opNot, kids: []*node{n}}
}

// boolNode joins operands with && or ||. Operands that are themselves the
// same operation are spliced in, because the operators are associative and a
// flat list evaluates faster and prints with fewer parentheses.
func boolNode(o op, operands []*node) *node {
	var kids []*node
	for _, k := range operands {
		if k.op == o {
			kids = append(kids, k.kids...)
		} else {
			kids = append(kids, k)
		}
	}
	if len(kids) == 1 {
		return kids[0]
	}
	return &node{op: o, kids: slices.Clip(kids)}
}

// withKey returns a copy of leaf n that reads key instead.
func (n *node) withKey(key string) *node {
	c := *n
	c.key = key
	return &c
}

// match evaluates the tree against l. It must not allocate: it is called for
// every endpoint whenever policy or labels change.
func (n *node) match(l Labels) bool {
	switch n.op {
	case opAll:
		return true
	case opGlobal:
		// Non-namespaced entities are exactly those without the derived
		// namespace label; see the package documentation.
		_, namespaced := l.Get(NamespaceLabel)
		return !namespaced
	case opHas:
		_, ok := l.Get(n.key)
		return ok
	case opNot:
		return !n.kids[0].match(l)
	case opAnd:
		for _, k := range n.kids {
			if !k.match(l) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if k.match(l) {
				return true
			}
		}
		return false
	}
	v, ok := l.Get(n.key)
	switch n.op {
	case opEq:
		return ok && v == n.value
	case opNe:
		return !ok || v != n.value
	case opContains:
		return ok && strings.Contains(v, n.value)
	case opStartsWith:
		return ok && strings.HasPrefix(v, n.value)
	case opEndsWith:
		return ok && strings.HasSuffix(v, n.value)
	case opIn:
		return ok && n.contains(v)
	case opNotIn:
		return !ok || !n.contains(v)
	}
	panic("selector: unknown node op")
}

func (n *node) contains(v string) bool {
	if n.set != nil {
		_, ok := n.set[v]
		return ok
	}
	for _, x := range n.values {
		if x == v {
			return true
		}
	}
	return false
}

// walk calls f for every node of the tree, parents before children.
func (n *node) walk(f func(*node)) {
	f(n)
	for _, k := range n.kids {
		k.walk(f)
	}
}

// rewrite rebuilds the tree bottom-up, passing every leaf through f. It
// returns n itself when f changed nothing, so unchanged selectors keep their
// identity, and otherwise renormalises through the constructors so that the
// result is shaped exactly as parsing its String would shape it.
func (n *node) rewrite(f func(leaf *node) *node) *node {
	switch n.op {
	case opNot, opAnd, opOr:
	default:
		return f(n)
	}
	var kids []*node
	for i, k := range n.kids {
		nk := k.rewrite(f)
		if nk != k && kids == nil {
			kids = make([]*node, len(n.kids))
			copy(kids, n.kids[:i])
		}
		if kids != nil {
			kids[i] = nk
		}
	}
	if kids == nil {
		return n
	}
	if n.op == opNot {
		return notNode(kids[0])
	}
	return boolNode(n.op, kids)
}
