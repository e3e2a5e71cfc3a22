package agent

import (
	"testing"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
)

// TestRuleStatsGroupsByCookie: a rule's flows are summed under its rule
// id and direction, tier-end flows under their default, other flows
// (endpoint, pipeline elsewhere) are left out; on a shared bridge the
// tier-end tables are the moved ones.
func TestRuleStatsGroupsByCookie(t *testing.T) {
	rule := uint64(compiler.NewCookie(1, compiler.CategoryRule, true, 0x918001))
	for _, shared := range []*compiler.Shared{nil, {TableBase: 100}} {
		end := compiler.TableIngressTierEnd.ID
		if shared != nil {
			end = shared.Table(end)
		}
		flows := []openflow.FlowStat{
			{Cookie: rule, Table: 61, Packets: 2, Bytes: 120},
			{Cookie: rule, Table: 61, Packets: 3, Bytes: 180},
			{Cookie: uint64(compiler.NewCookie(1, compiler.CategoryPipeline, false, 0)), Table: end, Packets: 7, Bytes: 420, Match: "10,reg6=0,reg7=0xff000001"},
			{Cookie: uint64(compiler.NewCookie(1, compiler.CategoryEndpoint, false, 3)), Table: 0, Packets: 99, Bytes: 9900},
		}
		got := RuleStats(flows, nil, shared)
		if len(got) != 2 {
			t.Fatalf("shared %v: %+v, want the rule and the default", shared, got)
		}
		var r, d RuleStat
		for _, s := range got {
			if s.Default != "" {
				d = s
			} else {
				r = s
			}
		}
		if r.Direction != "ingress" || r.RuleID != 0x918001 || r.Packets != 5 || r.Bytes != 300 {
			t.Errorf("shared %v: rule %+v, want ingress 0x918001 with 5 packets, 300 bytes", shared, r)
		}
		if d.Direction != "ingress" || d.Default != "end of tier: deny" || d.Packets != 7 {
			t.Errorf("shared %v: default %+v, want ingress end of tier deny with 7 packets", shared, d)
		}
	}
}
