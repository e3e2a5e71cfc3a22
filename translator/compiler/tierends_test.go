package compiler

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// TestTierEndPerTier: two tiers ending in deny each end in a flow of
// their own (own reg7 code, own cookie naming the tier number) in both
// tier-end tables, so their counters are apart; the dispatch loads each
// tier's code at that tier's end; LogDeniedTiers logs only the tiers it
// names; deleting a tier removes its flows exactly as a full compile.
func TestTierEndPerTier(t *testing.T) {
	w, opts := testWorld()
	w.Tiers["security"] = &policy.Tier{Name: "security", Order: 100, DefaultAction: policy.Deny}
	deny := func(name, tier string) *policy.Policy {
		return &policy.Policy{Kind: policy.CalicoGlobalNetworkPolicy, Name: name, Tier: tier, Order: 1,
			AppliesTo: selector.MustParse("app == 'web'"), Types: policy.Ingress,
			Ingress: []policy.Rule{{Action: policy.Allow, Protocol: policy.UDP}}}
	}
	w.Policies = []*policy.Policy{deny("sec", "security"), deny("app", policy.DefaultTier)}
	opts.LogDeniedTiers = map[string]bool{"security": true}
	c, errs := New(w, opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	codes := map[string]string{}
	for _, tier := range []string{"security", policy.DefaultTier} {
		n := c.tierNumbers[tier]
		if name, ok := c.TierOfNumber(n); !ok || name != tier || n == 0 {
			t.Fatalf("tier %s: number %#x names %q", tier, n, name)
		}
		codes[tier] = fmt.Sprintf("reg7=%#x", tierDenyCode(n))
		for _, ingress := range []bool{false, true} {
			ck := NewCookie(0, CategoryTierEnd, ingress, n)
			var got []Flow
			for _, f := range c.Flows() {
				if f.Cookie == ck {
					got = append(got, f)
				}
			}
			logged := strings.HasPrefix(got[0].Actions, "controller(")
			if len(got) != 1 || !strings.Contains(got[0].Match, codes[tier]) || logged != (tier == "security") {
				t.Errorf("tier %s ingress %v: flows %v, want one matching %s, logged %v", tier, ingress, got, codes[tier], tier == "security")
			}
		}
	}
	for _, f := range c.Flows() {
		if f.Table == TableIngressDispatch.ID && f.Match == "reg1=0x1" {
			sec, def := strings.Index(f.Actions, codes["security"][5:]), strings.Index(f.Actions, codes[policy.DefaultTier][5:])
			if sec < 0 || def < 0 || sec > def {
				t.Errorf("dispatch %s: want the security tier's end code, then the default tier's", f.Actions)
			}
		}
	}
	prev := c.Flows()
	w2 := *w
	w2.Tiers = maps.Clone(w.Tiers)
	delete(w2.Tiers, "security")
	_, d := checkStep(t, c, prev, Change{DeleteTier: "security"}, &w2, opts)
	gone := 0
	for _, f := range d.Delete {
		if f.Cookie.Category() == CategoryTierEnd {
			gone++
		}
	}
	if gone != 2 {
		t.Errorf("deleting the tier deleted %d tier-end flows, want its 2: %+v", gone, d)
	}
}
