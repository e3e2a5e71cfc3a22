package compiler

import "github.com/flowgate/flowgate/translator/selector"

// term is a necessary condition of a selector that a label index can look
// up: the label key is present (Values nil) or has one of Values. Every
// entity a selector selects satisfies each of the selector's terms, so the
// entities an index returns for a term are a superset of the selector's
// members; callers still check Matches on them.
type term = selector.LabelRestriction

// selectorTerms returns the indexable terms of sel: its label restrictions,
// the top-level conjuncts `k == "v"`, `k in {...}` and `has(k)`. These are
// the shapes policies are made of (a namespace, an app label, a namespace
// label under pcns.), so most selectors have at least one; a selector with
// none (a top-level ||, only negations) has to be checked against every
// entity.
func selectorTerms(sel selector.Selector) []term { return sel.LabelRestrictions() }
