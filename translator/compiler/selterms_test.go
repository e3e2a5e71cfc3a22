package compiler

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flowgate/flowgate/translator/selector"
)

// randomSelector writes a random selector over a tiny vocabulary, so that
// random label sets often satisfy it.
func randomSelector(r *rand.Rand, depth int) string {
	keys := []string{"a", "b", "has", "x.io/y"}
	vals := []string{"'v'", "'w'", `"v && w"`, `'say "hi"'`, `"it's"`}
	key := keys[r.IntN(len(keys))]
	if depth > 0 && r.IntN(3) == 0 {
		op := []string{" && ", " || "}[r.IntN(2)]
		s := randomSelector(r, depth-1) + op + randomSelector(r, depth-1)
		if r.IntN(2) == 0 {
			s = "(" + s + ")"
		}
		if r.IntN(4) == 0 {
			s = "!(" + s + ")"
		}
		return s
	}
	switch r.IntN(7) {
	case 0:
		return "has(" + key + ")"
	case 1:
		return "!has(" + key + ")"
	case 2:
		return key + " != " + vals[r.IntN(len(vals))]
	case 3:
		return key + " in {" + vals[r.IntN(len(vals))] + ", " + vals[r.IntN(len(vals))] + "}"
	case 4:
		return "all()"
	}
	return key + " == " + vals[r.IntN(len(vals))]
}

// TestSelectorTermsAreNecessary checks on random selectors and label sets
// that every term extracted holds whenever the selector matches: the
// index built on terms may only ever over-approximate.
func TestSelectorTermsAreNecessary(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []string{"v", "w", "v && w", `say "hi"`, "it's"}
	indexed, matched := 0, 0
	for i := 0; i < 3000; i++ {
		src := randomSelector(r, 3)
		sel, err := selector.Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		terms := selectorTerms(sel)
		if len(terms) > 0 {
			indexed++
		}
		for j := 0; j < 40; j++ {
			labels := selector.Set{}
			for _, k := range []string{"a", "b", "has", "x.io/y"} {
				if r.IntN(3) > 0 {
					labels[k] = values[r.IntN(len(values))]
				}
			}
			if !sel.Matches(labels) {
				continue
			}
			matched++
			for _, tm := range terms {
				v, ok := labels[tm.Key]
				if !ok || (tm.Values != nil && !slices.Contains(tm.Values, v)) {
					t.Fatalf("%s (canonical %s) matches %v but its term %+v does not hold", src, sel, labels, tm)
				}
			}
		}
	}
	// The property must have been exercised on both kinds of selector.
	if indexed < 500 || matched < 5000 {
		t.Fatalf("only %d selectors with terms and %d matches: the generator is too tame", indexed, matched)
	}
	t.Logf("%d of 3000 random selectors indexable, %d matching label sets checked", indexed, matched)
}
