package compiler

import (
	"net/netip"
	"sort"
)

// intersectPrefixes returns the prefixes covering exactly a ∩ b. Two
// prefixes either nest or are disjoint, so the intersection of a pair is
// the longer one or nothing.
func intersectPrefixes(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range a {
		for _, y := range b {
			switch {
			case x.Bits() >= y.Bits() && y.Contains(x.Addr()):
				out = append(out, x)
			case y.Bits() > x.Bits() && x.Contains(y.Addr()):
				out = append(out, y)
			}
		}
	}
	return normalizePrefixes(out)
}

// subtractPrefixes returns prefixes covering exactly a \ b, splitting a
// prefix into halves around every excluded prefix inside it. ok is false
// when the result would exceed limit prefixes.
func subtractPrefixes(a, b []netip.Prefix, limit int) ([]netip.Prefix, bool) {
	work := normalizePrefixes(a)
	for _, n := range b {
		var next []netip.Prefix
		for _, p := range work {
			switch {
			case n.Bits() <= p.Bits() && n.Contains(p.Addr()):
				// p entirely excluded.
			case n.Bits() > p.Bits() && p.Contains(n.Addr()):
				next = append(next, splitAround(p, n)...)
			default:
				next = append(next, p)
			}
			if len(next) > limit {
				return nil, false
			}
		}
		work = next
	}
	return normalizePrefixes(work), true
}

// splitAround returns the prefixes covering p minus n, n strictly inside p.
func splitAround(p, n netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for bits := p.Bits() + 1; bits <= n.Bits(); bits++ {
		// The half of the (bits-1) prefix containing n that does not.
		containing := netip.PrefixFrom(n.Addr(), bits).Masked()
		sibling := flipBit(containing.Addr(), bits-1)
		out = append(out, netip.PrefixFrom(sibling, bits))
	}
	return out
}

func flipBit(a netip.Addr, bit int) netip.Addr {
	b := a.AsSlice()
	b[bit/8] ^= 0x80 >> (bit % 8)
	r, _ := netip.AddrFromSlice(b)
	return r
}

// normalizePrefixes sorts, masks and removes prefixes covered by others.
func normalizePrefixes(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return []netip.Prefix{}
	}
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Masked())
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Addr().Compare(out[j].Addr()); c != 0 {
			return c < 0
		}
		return out[i].Bits() < out[j].Bits()
	})
	kept := out[:0]
	for _, p := range out {
		if n := len(kept); n > 0 {
			last := kept[n-1]
			if last.Addr().Is4() == p.Addr().Is4() && last.Bits() <= p.Bits() && last.Contains(p.Addr()) {
				continue
			}
		}
		kept = append(kept, p)
	}
	return kept
}
