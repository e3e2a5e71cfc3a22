package compiler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// TestLogDenied: with Options.LogDenied a Deny rule and the tier and
// endpoint default denies send the packet to the controller with the
// denied flag and the rule id (or the default's code) before denying; an
// Allow rule never does; without the option nothing does.
func TestLogDenied(t *testing.T) {
	for _, on := range []bool{false, true} {
		w, opts := testWorld()
		opts.LogDenied = on
		w.Policies = []*policy.Policy{{
			Kind: policy.CalicoGlobalNetworkPolicy, Name: "p", Tier: policy.DefaultTier, Order: 1,
			AppliesTo: selector.MustParse("app == 'web'"), Types: policy.Ingress,
			Ingress: []policy.Rule{{Action: policy.Allow, Protocol: policy.UDP, Index: 0}, {Action: policy.Deny, Protocol: policy.TCP, Index: 1}},
		}}
		c, errs := New(w, opts)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		num, _ := c.PolicyNumber("p")
		tierEnd := dotted(tierDenyCode(c.tierNumbers[policy.DefaultTier]))
		want := map[string]string{
			"deny rule":        fmt.Sprintf("controller(userdata=03.%s)", dotted(ruleID(num, 1))),
			"tier default":     "controller(userdata=03." + tierEnd + ")",
			"endpoint default": "controller(userdata=03.ff.00.00.04)",
			"egress tier end":  "controller(userdata=02." + tierEnd + ")",
			"egress default":   "controller(userdata=02.ff.00.00.04)",
		}
		got := map[string]bool{}
		for _, f := range c.Flows() {
			if !strings.Contains(f.Actions, "controller(") {
				continue
			}
			found := false
			for what, a := range want {
				if strings.HasPrefix(f.Actions, a+",") {
					got[what], found = true, true
				}
			}
			if !found {
				t.Errorf("LogDenied=%v: unexpected controller flow %s", on, f.Named())
			}
		}
		for what := range want {
			if got[what] != on {
				t.Errorf("LogDenied=%v: %s sends to the controller: %v", on, what, got[what])
			}
		}
	}
}

func dotted(id uint32) string {
	return fmt.Sprintf("%02x.%02x.%02x.%02x", byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// TestSlotRule: a rule id's slot names the rule the user wrote, also for
// a Kubernetes rule expanded to several rules sharing one slot.
func TestSlotRule(t *testing.T) {
	p := &policy.Policy{Kind: policy.CalicoNetworkPolicy, Ingress: []policy.Rule{{Index: 0, Name: "a"}, {Index: 1, Name: "b"}}}
	if r := SlotRule(p, policy.Ingress, 1); r == nil || r.Name != "b" {
		t.Errorf("slot 1 is %+v, want rule b", r)
	}
	if r := SlotRule(p, policy.Ingress, 2); r != nil {
		t.Errorf("slot 2 is %+v, want none", r)
	}
	if r := SlotRule(p, policy.Egress, 0); r != nil {
		t.Errorf("egress slot 0 is %+v, want none", r)
	}
}
