package compiler

import (
	"math/rand"
	"net/netip"
	"testing"
)

func inAnyPrefix(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// TestPrefixSetAlgebra checks intersection and subtraction against
// membership of random addresses in small random prefix sets.
func TestPrefixSetAlgebra(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	randPrefix := func() netip.Prefix {
		a := netip.AddrFrom4([4]byte{10, byte(r.Intn(4)), byte(r.Intn(4)), byte(r.Intn(8))})
		return netip.PrefixFrom(a, 16+r.Intn(17)).Masked()
	}
	for iter := 0; iter < 300; iter++ {
		var a, b []netip.Prefix
		for i := 0; i < 1+r.Intn(3); i++ {
			a = append(a, randPrefix())
		}
		for i := 0; i < r.Intn(4); i++ {
			b = append(b, randPrefix())
		}
		inter := intersectPrefixes(a, b)
		diff, ok := subtractPrefixes(a, b, 1000)
		if !ok {
			t.Fatal("limit hit")
		}
		for i := 0; i < 500; i++ {
			x := netip.AddrFrom4([4]byte{10, byte(r.Intn(4)), byte(r.Intn(4)), byte(r.Intn(8))})
			inA, inB := inAnyPrefix(a, x), inAnyPrefix(b, x)
			if got := inAnyPrefix(inter, x); got != (inA && inB) {
				t.Fatalf("intersect %v %v: %v got %v", a, b, x, got)
			}
			if got := inAnyPrefix(diff, x); got != (inA && !inB) {
				t.Fatalf("subtract %v %v = %v: %v got %v", a, b, diff, x, got)
			}
		}
	}
}
