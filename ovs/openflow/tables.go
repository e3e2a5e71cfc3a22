package openflow

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
)

var tableRe = regexp.MustCompile(`(?:^|[ ,])table=(\d+)`)

// TableCounts returns how many flows each table of the bridge holds now,
// read from the bridge itself (not the programmer's cache), for
// `flowgate status`.
func (p *Programmer) TableCounts(ctx context.Context) (map[uint8]int, error) {
	lines, err := p.of.dumpFlows(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("count flows of %s: %w", p.of.bridge, err)
	}
	counts := map[uint8]int{}
	for _, l := range lines {
		t := 0 // dump-flows omits table=0
		if m := tableRe.FindStringSubmatch(l); m != nil {
			t, _ = strconv.Atoi(m[1])
		}
		counts[uint8(t)]++
	}
	return counts, nil
}
