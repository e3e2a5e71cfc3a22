package compiler

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
)

// crowdedNames returns policy names whose numbers collide or sit next to
// each other, so that probes run into each other often.
func crowdedNames(t *testing.T, n int) []string {
	t.Helper()
	byHash := map[uint32][]string{}
	for i := 0; i < 1<<19; i++ {
		name := fmt.Sprintf("n-%d", i)
		byHash[policyHash(name)] = append(byHash[policyHash(name)], name)
	}
	var hashes []uint32
	for h, names := range byHash {
		if len(names) > 1 && len(byHash[nextNumber(h)]) > 0 {
			hashes = append(hashes, h)
		}
	}
	sort.Slice(hashes, func(i, j int) bool { return hashes[i] < hashes[j] })
	var out []string
	for _, h := range hashes {
		out = append(out, byHash[h]...)
		out = append(out, byHash[nextNumber(h)]...)
		if len(out) >= n {
			break
		}
	}
	if len(out) < n {
		t.Fatalf("only %d crowded names", len(out))
	}
	return out[:n]
}

// TestPolicyNumbersIncremental adds and removes crowded names at random
// and wants, whenever the incremental step succeeds, exactly the
// numbering a fresh numberPolicies gives — and the fallback to be rare.
func TestPolicyNumbersIncremental(t *testing.T) {
	names := crowdedNames(t, 40)
	r := rand.New(rand.NewPCG(3, 4))
	present := map[string]bool{}
	pols := func() []*policy.Policy {
		var ps []*policy.Policy
		for name := range present {
			ps = append(ps, &policy.Policy{Name: name})
		}
		return ps
	}
	n := newPolicyNumbers(map[string]uint32{})
	incremental, fallback := 0, 0
	for step := 0; step < 3000; step++ {
		name := names[r.IntN(len(names))]
		var ok bool
		if present[name] {
			delete(present, name)
			ok = n.remove(name)
		} else {
			present[name] = true
			ok = n.add(name)
		}
		want := numberPolicies(pols())
		if !ok {
			fallback++
			n = newPolicyNumbers(want)
			continue
		}
		incremental++
		if !maps.Equal(n.of, want) {
			t.Fatalf("step %d (%s): incremental numbering %v, fresh %v", step, name, n.of, want)
		}
		for id, num := range n.of {
			if n.owner[num] != id {
				t.Fatalf("step %d: number %#x is owned by %q, not %q", step, num, n.owner[num], id)
			}
		}
	}
	if incremental < 1000 || fallback == 0 {
		t.Errorf("%d incremental steps, %d fallbacks: the names do not exercise both", incremental, fallback)
	}
	t.Logf("%d incremental steps, %d fell back to renumbering", incremental, fallback)
}
