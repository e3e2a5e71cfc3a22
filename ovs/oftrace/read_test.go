package oftrace

import (
	"testing"

	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// tierEndTrace is ovs-vswitchd 3.x's trace of a packet whose ingress walk
// meets two policies without a match and ends in the tier's deny, after
// which the dispatch still loads the endpoint default (which must not
// count: the walk was decided).
const tierEndTrace = `bridge("br-int")
----------------
    thaw
        Resuming from table 21
21. ct_state=+new+trk, priority 100, cookie 0x1000000000000
    goto_table:30
30. priority 0, cookie 0x1000000000000
    goto_table:50
50. dl_dst=02:f6:00:00:00:02, priority 100, cookie 0x2000000000002
    set_field:0x2->reg1
    goto_table:60
60. reg1=0x2, priority 100, cookie 0x3000100000002
    set_field:0->reg6
    set_field:0x7816b->reg7
    set_field:0->reg5
    resubmit(,61)
    61. No match.
            drop
    set_field:0x6290d->reg7
    set_field:0->reg5
    resubmit(,61)
    61. No match.
            drop
    set_field:0xff1abcde->reg7
    resubmit(,62)
    62. reg6=0,reg7=0xff1abcde, priority 10, cookie 0x60001000abcde
            set_field:0x2->reg6
    set_field:0xff000003->reg7
    resubmit(,62)
    62. No match.
            drop
    goto_table:63
63. priority 0, cookie 0x1000000000000
    drop

Datapath actions: drop
`

// ruleTrace: egress decided by a rule (allow, rule id in reg3), then
// ingress by a rule (deny, reg4).
const ruleTrace = `30. reg0=0x3, priority 100, cookie 0x3000000000003
    set_field:0->reg6
    set_field:0x1234->reg7
    set_field:0->reg5
    resubmit(,31)
    31. reg6=0,reg7=0x1234,tcp, priority 50000, cookie 0x4000000918000
            set_field:0x1->reg6
            set_field:0x918000->reg3
    set_field:0xff1abcde->reg7
    resubmit(,32)
    32. No match.
            drop
    goto_table:33
60. reg1=0x2, priority 100, cookie 0x3000100000002
    set_field:0->reg6
    set_field:0x55->reg7
    set_field:0->reg5
    resubmit(,61)
    61. reg6=0,reg7=0x55,tcp, priority 49992, cookie 0x400010002a801
            set_field:0x2->reg6
            set_field:0x2a801->reg4

Datapath actions: drop
`

func TestDecode(t *testing.T) {
	r := Decode(tierEndTrace)
	if r.Delivered || r.Egress != nil || r.Ingress == nil {
		t.Fatalf("tier end: %+v", r)
	}
	if d := *r.Ingress; d.Direction != policy.Ingress || d.Allowed || d.By != ByDefault || d.LastPolicy != 0x6290d {
		t.Errorf("tier end: ingress %+v, want a deny by the end of the tier of policy 0x6290d", d)
	}
	if n, ok := compiler.TierNumberOfCode(r.Ingress.Code); !ok || n != 0xabcde {
		t.Errorf("tier end: code %#x, want the end of tier number 0xabcde", r.Ingress.Code)
	}
	r = Decode(ruleTrace)
	if r.Egress == nil || r.Ingress == nil {
		t.Fatalf("rules: %+v", r)
	}
	if d := *r.Egress; !d.Allowed || d.By != ByRule || d.RuleID != 0x918000 {
		t.Errorf("rules: egress %+v, want allowed by rule 0x918000", d)
	}
	if d := *r.Ingress; d.Allowed || d.By != ByRule || d.RuleID != 0x2a801 {
		t.Errorf("rules: ingress %+v, want denied by rule 0x2a801", d)
	}
}

func TestDelivers(t *testing.T) {
	for trace, want := range map[string]bool{
		"Datapath actions: ct(commit,zone=0),2\n":         true,
		"Datapath actions: drop\n":                        false,
		"Datapath actions: ct(zone=0),recirc(0x1)\n":      false,
		"Datapath actions: 3\nDatapath actions: drop\n":   false,
		"Datapath actions: userspace(pid=0,controller)\n": false,
	} {
		if got := Delivers(trace); got != want {
			t.Errorf("Delivers(%q) = %v, want %v", trace, got, want)
		}
	}
}
