package agent

import (
	"fmt"
	"testing"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
)

// TestRuleStatsGroupsByCookie: a rule's flows are summed under its rule
// id and direction, each tier's end-of-tier flow under its own tier
// number, endpoint defaults under their default, other flows
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
			{Cookie: uint64(compiler.NewCookie(1, compiler.CategoryTierEnd, true, 0x12)), Table: end, Packets: 7, Bytes: 420, Match: "reg6=0,reg7=0xff100012"},
			{Cookie: uint64(compiler.NewCookie(1, compiler.CategoryTierEnd, true, 0x34)), Table: end, Packets: 4, Bytes: 240, Match: "reg6=0,reg7=0xff100034"},
			{Cookie: uint64(compiler.NewCookie(1, compiler.CategoryPipeline, false, 0)), Table: end - 30, Packets: 5, Bytes: 300, Match: "reg6=0,reg7=0xff000004"},
			{Cookie: uint64(compiler.NewCookie(1, compiler.CategoryEndpoint, false, 3)), Table: 0, Packets: 99, Bytes: 9900},
		}
		got := RuleStats(flows, nil, shared)
		if len(got) != 4 {
			t.Fatalf("shared %v: %+v, want the rule, two tier defaults and the endpoint default", shared, got)
		}
		var r RuleStat
		tiers := map[uint32]RuleStat{}
		for _, s := range got {
			switch {
			case s.Default == "":
				r = s
			case s.TierNumber != 0:
				tiers[s.TierNumber] = s
			case s.Default != "endpoint default: deny" || s.Direction != "egress" || s.Packets != 5:
				t.Errorf("shared %v: endpoint default %+v, want egress deny with 5 packets", shared, s)
			}
		}
		if r.Direction != "ingress" || r.RuleID != 0x918001 || r.Packets != 5 || r.Bytes != 300 {
			t.Errorf("shared %v: rule %+v, want ingress 0x918001 with 5 packets, 300 bytes", shared, r)
		}
		for n, want := range map[uint32]uint64{0x12: 7, 0x34: 4} {
			d := tiers[n]
			if d.Direction != "ingress" || d.Default != "end of tier: deny" || d.Packets != want || d.Tier != fmt.Sprintf("tier number %#x", n) {
				t.Errorf("shared %v: tier %#x default %+v, want ingress end of tier deny with %d packets", shared, n, d, want)
			}
		}
	}
}
