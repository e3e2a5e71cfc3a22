package compiler

import (
	"strings"

	"github.com/flowgate/flowgate/translator/selector"
)

// term is a necessary condition of a selector that a label index can look
// up: the label key is present (values nil) or has one of values. Every
// entity a selector selects satisfies each of the selector's terms, so the
// entities an index returns for a term are a superset of the selector's
// members; callers still check Matches on them.
type term struct {
	key    string
	values []string // nil: has(key)
}

// selectorTerms returns the indexable terms of sel: the top-level
// conjuncts of the forms `k == "v"`, `k in {...}` and `has(k)`. These are
// the shapes policies are made of (a namespace, an app label, a namespace
// label under pcns.), so most selectors have at least one; a selector with
// none (a top-level ||, only negations) has to be checked against every
// entity.
//
// It reads the canonical text, which Selector.String documents: binary
// operators surrounded by single spaces, parentheses only where needed,
// values quoted without escapes. Anything it does not recognise exactly is
// skipped, which only makes the index less selective, never wrong.
func selectorTerms(sel selector.Selector) []term {
	if sel.IsAll() {
		return nil
	}
	var out []term
	for _, part := range topLevelConjuncts(sel.String()) {
		if t, ok := parseTerm(part); ok {
			out = append(out, t)
		}
	}
	return out
}

// topLevelConjuncts splits canonical selector text at the && operators
// outside parentheses, braces and quotes. A top-level || makes the whole
// selector a disjunction, none of whose operands is necessary: nil then.
func topLevelConjuncts(s string) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '{':
			depth++
		case c == ')' || c == '}':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], " || "):
			return nil
		case depth == 0 && strings.HasPrefix(s[i:], " && "):
			parts = append(parts, s[start:i])
			start = i + len(" && ")
			i += len(" && ") - 1
		}
	}
	return append(parts, s[start:])
}

// parseTerm recognises one conjunct of canonical text as a term.
func parseTerm(s string) (term, bool) {
	if rest, ok := strings.CutPrefix(s, "has("); ok {
		key, ok := strings.CutSuffix(rest, ")")
		if !ok || !isLabelKey(key) {
			return term{}, false
		}
		return term{key: key}, true
	}
	if key, value, ok := strings.Cut(s, " == "); ok && isLabelKey(key) {
		v, rest, ok := cutQuoted(value)
		if !ok || rest != "" {
			return term{}, false
		}
		return term{key: key, values: []string{v}}, true
	}
	if key, set, ok := strings.Cut(s, " in {"); ok && isLabelKey(key) {
		body, ok := strings.CutSuffix(set, "}")
		if !ok {
			return term{}, false
		}
		values := []string{}
		for body != "" {
			v, rest, ok := cutQuoted(body)
			if !ok {
				return term{}, false
			}
			values = append(values, v)
			if rest == "" {
				break
			}
			if body, ok = strings.CutPrefix(rest, ", "); !ok {
				return term{}, false
			}
		}
		return term{key: key, values: values}, true
	}
	return term{}, false
}

// cutQuoted reads one quoted value at the start of s (either quote, no
// escapes) and returns it and what follows.
func cutQuoted(s string) (value, rest string, ok bool) {
	if len(s) < 2 || (s[0] != '"' && s[0] != '\'') {
		return "", "", false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", "", false
	}
	return s[1 : 1+end], s[2+end:], true
}

// isLabelKey reports whether s is a label key as selectors write them:
// ASCII letters, digits and "_./-".
func isLabelKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}
