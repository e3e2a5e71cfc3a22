package openflow

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// FlowStat is one flow's counters as the switch reports them.
type FlowStat struct {
	// Cookie and Table identify what produced the flow and where it is.
	Cookie uint64
	Table  uint8
	// Packets and Bytes are the flow's n_packets and n_bytes.
	Packets, Bytes uint64
	// Match is the flow's priority and match, as dumped.
	Match string
}

var (
	statCookie  = regexp.MustCompile(`\bcookie=(0x[0-9a-f]+)`)
	statTable   = regexp.MustCompile(`\btable=(\d+)`)
	statPackets = regexp.MustCompile(`\bn_packets=(\d+)`)
	statBytes   = regexp.MustCompile(`\bn_bytes=(\d+)`)
	statMatch   = regexp.MustCompile(`\bpriority=(\S*) actions=`)
)

// DumpFlowStats reads every flow's counters from bridge with ovs-ofctl
// dump-flows (tables by number), for `flowgate stats` and the agent's
// per-rule metrics. match narrows the dump ("cookie=V/M" on a shared
// bridge, "" for all); env is ovs-ofctl's environment (nil: this
// process's). It only reads: the programmer's own connection is not used,
// so that reading counters never waits for or disturbs programming.
func DumpFlowStats(ctx context.Context, bridge, match string, env []string) ([]FlowStat, error) {
	args := []string{"--protocols=" + strings.Join(Protocols, ","), "--no-names", "dump-flows", bridge}
	if match != "" {
		args = append(args, match)
	}
	cmd := exec.CommandContext(ctx, "ovs-ofctl", args...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("ovs-ofctl dump-flows %s: %w: %s", bridge, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("ovs-ofctl dump-flows %s: %w", bridge, err)
	}
	var stats []FlowStat
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.Contains(l, "actions=") {
			continue
		}
		var s FlowStat
		if m := statCookie.FindStringSubmatch(l); m != nil {
			s.Cookie, _ = strconv.ParseUint(m[1], 0, 64)
		}
		if m := statTable.FindStringSubmatch(l); m != nil {
			t, _ := strconv.Atoi(m[1])
			s.Table = uint8(t)
		}
		if m := statPackets.FindStringSubmatch(l); m != nil {
			s.Packets, _ = strconv.ParseUint(m[1], 10, 64)
		}
		if m := statBytes.FindStringSubmatch(l); m != nil {
			s.Bytes, _ = strconv.ParseUint(m[1], 10, 64)
		}
		if m := statMatch.FindStringSubmatch(l); m != nil {
			s.Match = m[1]
		}
		stats = append(stats, s)
	}
	return stats, nil
}
