package compiler

import "fmt"

// portMasks decomposes the range lo..hi into value/mask pairs that OpenFlow
// can match, at most 2×16 of them (the classic range-to-prefix split).
func portMasks(lo, hi uint16) []string {
	var out []string
	l, h := uint32(lo), uint32(hi)
	for l <= h {
		// Largest aligned block starting at l that fits in l..h.
		size := uint32(1)
		for l%(size*2) == 0 && l+size*2-1 <= h && size*2 <= 1<<16 {
			size *= 2
		}
		if size == 1 {
			out = append(out, fmt.Sprint(l))
		} else if size == 1<<16 {
			return []string{""}
		} else {
			out = append(out, fmt.Sprintf("%#x/%#x", l, 0xffff&^(size-1)))
		}
		l += size
	}
	return out
}
