package selector

import (
	"fmt"
	"slices"
)

// Selector is an immutable, parsed selector. It is a small value that is
// cheap to copy and safe for concurrent use.
//
// Selectors are comparable: a == b exactly when a.String() == b.String(),
// however each was built, so a Selector can be a map key. The zero value
// selects everything, like all(), because an absent selector in a Calico
// policy means "everything".
type Selector struct {
	t *tree // nil for all()
}

// newSelector wraps a finished tree. all() is always the zero value, so that
// All(), Parse(""), Parse("all()") and Selector{} are all equal.
func newSelector(root *node) Selector {
	if root.op == opAll {
		return Selector{}
	}
	return Selector{t: intern(root)}
}

func (s Selector) root() *node {
	if s.t == nil {
		return allNode
	}
	return s.t.root
}

// Parse parses a selector in Calico's syntax. An empty or blank string is
// all(), because that is what an omitted selector means in Calico. Errors
// are always *ParseError, so callers can report the column.
func Parse(s string) (Selector, error) {
	root, err := parse(s)
	if err != nil {
		return Selector{}, err
	}
	return newSelector(root), nil
}

// MustParse is Parse for selectors known to be valid, such as constants and
// test fixtures; it panics on error so they need no error plumbing.
func MustParse(s string) Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// All returns the selector that selects everything. It equals the zero
// Selector; the function exists so that intent reads clearly at call sites.
func All() Selector { return Selector{} }

// Matches reports whether the selector selects an entity with labels l.
// It does not allocate, because it runs for every endpoint on every policy
// or label change.
func (s Selector) Matches(l Labels) bool {
	if s.t == nil {
		return true
	}
	return s.t.root.match(l)
}

// String returns the canonical form, which is deterministic, so it can serve
// as an identity, and re-parseable: Parse(s.String()) returns s. It puts
// single spaces around binary operators, parentheses only where precedence
// needs them, double quotes unless the value contains one, and "in" sets
// sorted and without duplicates, e.g. `a == "b" && (c != "d" || has(e))`.
// (Calico's own String parenthesises every && and || group instead.)
// Selectors built with And, Not and ReplaceAll could in principle exceed the
// parser's nesting or size limits, but only if far larger than real policy.
func (s Selector) String() string {
	if s.t == nil {
		return "all()"
	}
	return s.t.text
}

// IsAll reports whether the selector is exactly all(), so callers can skip
// evaluating it. It does not try to prove that other selectors, such as
// "has(a) || !has(a)", are always true.
func (s Selector) IsAll() bool { return s.t == nil }

// Keys returns the sorted, distinct label keys the selector reads, so that a
// cache of selector results knows which label changes can invalidate an
// entry. global() reads NamespaceLabel. The caller owns the returned slice.
func (s Selector) Keys() []string {
	var keys []string
	s.root().walk(func(n *node) {
		switch n.op {
		case opAll, opNot, opAnd, opOr:
		case opGlobal:
			keys = append(keys, NamespaceLabel)
		default:
			keys = append(keys, n.key)
		}
	})
	slices.Sort(keys)
	return slices.Compact(keys)
}

// PrefixKeys returns the selector with every label key k replaced by
// prefix+k. Calico evaluates rule namespace and service-account selectors
// against labels it copies onto endpoints under the prefixes "pcns." and
// "pcsa."; this performs the matching rewrite. all() and global() read no
// caller-visible key and are left as they are.
//
// It panics if prefix contains a character that cannot appear in a key,
// because the result could then not be written down.
func (s Selector) PrefixKeys(prefix string) Selector {
	if prefix == "" {
		return s
	}
	if !validKey(prefix) {
		panic(fmt.Sprintf("selector: invalid key prefix %q", prefix))
	}
	root := s.root().rewrite(func(n *node) *node {
		if n.op == opAll || n.op == opGlobal {
			return n
		}
		return n.withKey(prefix + n.key)
	})
	return newSelector(root)
}

// ReplaceAll returns the selector with every all() in it replaced by with.
// Calico needs this because all() in a namespaceSelector means "every
// namespaced entity", i.e. has(projectcalico.org/namespace), not literally
// everything.
func (s Selector) ReplaceAll(with Selector) Selector {
	w := with.root()
	if w == allNode {
		return s
	}
	old := s.root()
	root := old.rewrite(func(n *node) *node {
		if n.op == opAll {
			return w
		}
		return n
	})
	if root == old {
		return s
	}
	return newSelector(root)
}

// And returns the conjunction of a and b. all() is the identity, so
// And(All(), x) == x, which lets callers fold optional selectors without
// special cases.
func And(a, b Selector) Selector {
	switch {
	case a.IsAll():
		return b
	case b.IsAll():
		return a
	}
	return newSelector(boolNode(opAnd, []*node{a.root(), b.root()}))
}

// Not returns the negation of s; Not(Not(x)) == x.
func Not(s Selector) Selector {
	return newSelector(notNode(s.root()))
}

// Has returns has(key). Like the other constructors it panics on a key that
// cannot be written in a selector (empty, or with characters other than
// letters, digits and "_./-"), because that is a programming error and the
// result could not round-trip through String.
func Has(key string) Selector {
	mustKey(key)
	return newSelector(hasNode(key))
}

// Equal returns key == value. It panics on an invalid key, or on a value
// containing both ' and ", which no selector string can express.
func Equal(key, value string) Selector {
	mustKey(key)
	mustValue(value)
	return newSelector(cmpNode(opEq, key, value))
}

// In returns key in {values...}. With no values it selects nothing, as in
// Calico. It panics on an invalid key or value, as Equal does.
func In(key string, values ...string) Selector {
	mustKey(key)
	for _, v := range values {
		mustValue(v)
	}
	return newSelector(setNode(opIn, key, values))
}

func mustKey(key string) {
	if !validKey(key) {
		panic(fmt.Sprintf("selector: invalid label key %q", key))
	}
}

func mustValue(v string) {
	if !quotable(v) {
		panic(fmt.Sprintf("selector: value %q contains both kinds of quote", v))
	}
}
