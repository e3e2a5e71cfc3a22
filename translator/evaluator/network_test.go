package evaluator_test

import (
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// TestAddressesScopedToNetwork: two networks reuse 10.0.0.5; a group's
// member there is a member only for packets of its own network, while an
// endpoint in no network, or with an address no other network uses, is
// one everywhere.
func TestAddressesScopedToNetwork(t *testing.T) {
	ep := func(name, network, ip string, labels map[string]string) *policy.Endpoint {
		l := map[string]string{}
		if network != "" {
			l[policy.LabelNetwork] = network
		}
		for k, v := range labels {
			l[k] = v
		}
		return &policy.Endpoint{Kind: policy.WorkloadEndpoint, Namespace: "t", Name: name, Labels: l, IPs: []netip.Addr{netip.MustParseAddr(ip)}}
	}
	w := policy.NewWorld()
	w.Namespaces["t"] = &policy.Namespace{Name: "t"}
	aServer := ep("a-server", "net-a", "10.0.0.6", map[string]string{"app": "server"})
	bServer := ep("b-server", "net-b", "10.0.0.6", map[string]string{"app": "server"})
	w.Endpoints = []*policy.Endpoint{
		ep("a-client", "net-a", "10.0.0.5", map[string]string{"grp": ""}),
		ep("b-client", "net-b", "10.0.0.5", nil),
		ep("anywhere", "", "10.0.0.9", map[string]string{"grp": ""}),
		ep("routed", "net-c", "10.0.0.8", map[string]string{"grp": ""}),
		aServer, bServer,
	}
	grp := selector.MustParse("has(grp)")
	w.Policies = []*policy.Policy{{
		Kind: policy.CalicoGlobalNetworkPolicy, Name: "p", Tier: policy.DefaultTier, Order: 1,
		AppliesTo: selector.MustParse("app == 'server'"), Types: policy.Ingress,
		Ingress: []policy.Rule{{Action: policy.Allow, Protocol: policy.TCP, Source: policy.Peer{Selector: &grp}}},
	}}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	for _, tc := range []struct {
		dst  *policy.Endpoint
		src  string
		want bool
	}{
		{aServer, "10.0.0.5", true},
		{bServer, "10.0.0.5", false},
		{aServer, "10.0.0.9", true},
		{bServer, "10.0.0.9", true},
		{bServer, "10.0.0.8", true},
	} {
		p := evaluator.Packet{Src: netip.MustParseAddr(tc.src), Dst: netip.MustParseAddr("10.0.0.6"), Protocol: policy.TCP, SrcPort: 40000, DstPort: 80}
		if got := ev.Decide(tc.dst, policy.Ingress, p); got.Allowed != tc.want {
			t.Errorf("%s from %s: allowed %v (%s), want %v", tc.dst.ID(), tc.src, got.Allowed, got.Reason, tc.want)
		}
	}
}
