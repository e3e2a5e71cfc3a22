package compiler

import (
	"strconv"
	"strings"
	"testing"
)

// TestPortMasksCoverExactly checks every range decomposition against the
// arithmetic it stands for, over a spread of ranges.
func TestPortMasksCoverExactly(t *testing.T) {
	ranges := [][2]uint16{{80, 80}, {1, 65535}, {0, 65535}, {1000, 2000}, {8000, 8080}, {1, 1}, {65535, 65535}, {1024, 65535}, {3, 17}}
	for _, r := range ranges {
		masks := portMasks(r[0], r[1])
		for p := 0; p <= 65535; p++ {
			want := uint16(p) >= r[0] && uint16(p) <= r[1]
			got := false
			for _, m := range masks {
				if m == "" {
					got = true
					continue
				}
				val, mask := m, "0xffff"
				if v, mk, ok := strings.Cut(m, "/"); ok {
					val, mask = v, mk
				}
				v, _ := strconv.ParseUint(val, 0, 32)
				mk, _ := strconv.ParseUint(mask, 0, 32)
				if uint64(p)&mk == v {
					got = true
				}
			}
			if got != want {
				t.Fatalf("range %v masks %v: port %d got %v want %v", r, masks, p, got, want)
			}
		}
	}
}
