package compiler

import (
	"math/rand"
	"testing"
)

// TestComposeEqualsSequentialApplication applies random delta sequences
// one by one and composed, and compares the resulting flow sets.
func TestComposeEqualsSequentialApplication(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	key := func() Flow { return Flow{Table: 1, Priority: uint16(r.Intn(6)), Match: "m"} }
	for iter := 0; iter < 500; iter++ {
		cur := map[FlowKey]Flow{}
		for i := 0; i < 3; i++ {
			f := key()
			f.Actions = "a0"
			cur[f.Key()] = f
		}
		start := copyFlows(cur)
		var ds []Delta
		for step := 0; step < 1+r.Intn(5); step++ {
			next := copyFlows(cur)
			for i := 0; i < 3; i++ {
				f := key()
				if r.Intn(3) == 0 {
					delete(next, f.Key())
				} else {
					f.Actions = []string{"a1", "a2", "a3"}[r.Intn(3)]
					next[f.Key()] = f
				}
			}
			ds = append(ds, Diff(values(cur), values(next)))
			cur = next
		}
		got := applyComposed(start, Compose(ds...))
		if len(got) != len(cur) {
			t.Fatalf("iter %d: composed gives %v, sequential %v", iter, got, cur)
		}
		for k, f := range cur {
			if g, ok := got[k]; !ok || g.Actions != f.Actions {
				t.Fatalf("iter %d: key %v: composed %v, sequential %v", iter, k, g, f)
			}
		}
	}
}

func copyFlows(m map[FlowKey]Flow) map[FlowKey]Flow {
	out := make(map[FlowKey]Flow, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func values(m map[FlowKey]Flow) []Flow {
	var out []Flow
	for _, f := range m {
		out = append(out, f)
	}
	return out
}

func applyComposed(m map[FlowKey]Flow, d Delta) map[FlowKey]Flow {
	out := copyFlows(m)
	for _, f := range d.Delete {
		delete(out, f.Key())
	}
	for _, f := range append(append([]Flow{}, d.Add...), d.Modify...) {
		out[f.Key()] = f
	}
	return out
}
