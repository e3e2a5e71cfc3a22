package compiler

import (
	"testing"
)

// TestChangesTurnOneWorldIntoAnother compiles world A, applies
// Changes(A, B) through Update, and expects exactly the flows of a fresh
// compile of B; and no changes at all between a world and its rebuild.
func TestChangesTurnOneWorldIntoAnother(t *testing.T) {
	for seed := uint64(1); seed <= 15; seed++ {
		ga, gb := newRandWorld(t, seed, smallWorld), newRandWorld(t, seed+100, smallWorld)
		wa, oa := ga.world(), ga.options()
		c, _ := New(wa, oa)
		wb, ob := gb.world(), gb.options()
		if n := len(Changes(wa, ga.world(), oa.Locals, ga.options().Locals)); n != 0 {
			t.Fatalf("seed %d: a world and its rebuild differ by %d changes", seed, n)
		}
		for _, ch := range Changes(wa, wb, oa.Locals, ob.Locals) {
			c.Update(ch)
		}
		want, _ := New(gb.world(), gb.options())
		got, exp := c.Flows(), want.Flows()
		if d := Diff(exp, got); !d.Empty() {
			t.Fatalf("seed %d: after Changes the flows differ from a full compile: %d to add, %d to delete, %d to modify",
				seed, len(d.Add), len(d.Delete), len(d.Modify))
		}
	}
}
