package compiler

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// ruleFlows compiles testWorld with one policy applying to the local pod
// and returns its rule flows.
func ruleFlows(t *testing.T, rules ...policy.Rule) []Flow {
	t.Helper()
	w, opts := testWorld()
	w.Endpoints[1].IPs = append(w.Endpoints[1].IPs, netip.MustParseAddr("fd00::2"))
	w.Policies = []*policy.Policy{{
		Kind: policy.CalicoGlobalNetworkPolicy, Name: "p", Tier: policy.DefaultTier, Order: 1,
		AppliesTo: selector.MustParse("app == 'web'"), Types: policy.Ingress, Ingress: rules,
	}}
	c, errs := New(w, opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var out []Flow
	for _, f := range c.Flows() {
		if f.Table == TableIngressRules.ID {
			out = append(out, f)
		}
	}
	return out
}

// TestNamedPortResolvingToNothing: a port list whose names no endpoint
// publishes for the rule's protocol matches no port — not every port, as
// an empty clause read as "no constraint" would.
func TestNamedPortResolvingToNothing(t *testing.T) {
	fs := ruleFlows(t, policy.Rule{Action: policy.Allow, Protocol: policy.UDP,
		Destination: policy.Peer{Ports: []policy.PortMatch{{Name: "http"}}}}) // http is TCP
	if len(fs) != 0 {
		t.Errorf("the rule can never match but compiled to %d flows, e.g. %s", len(fs), fs[0].Named())
	}
	fs = ruleFlows(t, policy.Rule{Action: policy.Allow, Protocol: policy.TCP,
		Destination: policy.Peer{Ports: []policy.PortMatch{{Name: "http"}}}})
	if len(fs) != 1 || !strings.Contains(fs[0].Match, "tcp_dst=80") {
		t.Errorf("a resolving named port compiled to %v", fs)
	}
}

// TestIPVersionLimitsPeers: a rule restricted to IPv4 must not match the
// IPv6 addresses of the endpoints its selector selects.
func TestIPVersionLimitsPeers(t *testing.T) {
	db := selector.MustParse("app == 'db'")
	for _, tc := range []struct {
		rule policy.Rule
		want string
	}{
		{policy.Rule{Action: policy.Allow, IPVersion: 4, Source: policy.Peer{Selector: &db}}, "ip,nw_src=10.0.0.2"},
		{policy.Rule{Action: policy.Allow, IPVersion: 6, Source: policy.Peer{Selector: &db}}, "ipv6,ipv6_src=fd00::2"},
		{policy.Rule{Action: policy.Allow, Protocol: policy.ICMP, Source: policy.Peer{Selector: &db}}, "ip,nw_src=10.0.0.2"},
	} {
		fs := ruleFlows(t, tc.rule)
		var src []string
		for _, f := range fs {
			if strings.Contains(f.Match, "_src=") {
				src = append(src, f.Match)
			}
		}
		if len(src) != 1 || !strings.HasSuffix(src[0], tc.want) {
			t.Errorf("%+v: source flows %q, want one matching %s", tc.rule, src, tc.want)
		}
	}
}
