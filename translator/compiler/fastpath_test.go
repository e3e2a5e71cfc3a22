package compiler

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// TestFastPathSharedAddresses covers what the decoders rarely produce but
// the fast path must get right: one Kubernetes rule slot whose source
// clause has a selector's members and fixed nets (the same address can
// come from both), and an exclusion clause holding addresses of the same
// side (one flow then carries both conjunctions). A pod with such an
// address joins and leaves the selector; every step must equal a full
// compile.
func TestFastPathSharedAddresses(t *testing.T) {
	w, opts := testWorld()
	db := selector.MustParse("app == 'db'")
	// 300 scattered addresses cannot be subtracted from 10.0.0.0/8 within
	// subtractLimit: they become an exclusion.
	var except []netip.Prefix
	for i := 0; i < 300; i++ {
		except = append(except, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 7}), 32))
	}
	p := &policy.Policy{
		Kind: policy.KubernetesNetworkPolicy, Namespace: "prod", Name: policy.KubernetesPrefix + "mixed", Tier: policy.DefaultTier, Order: policy.KubernetesOrder,
		AppliesTo: selector.MustParse("app == 'web'"), Types: policy.Ingress,
		Ingress: []policy.Rule{
			{Action: policy.Allow, Protocol: policy.TCP, Index: 0, Source: policy.Peer{Selector: &db}, Destination: policy.Peer{Ports: []policy.PortMatch{{Min: 80, Max: 80}}}},
			{Action: policy.Allow, Protocol: policy.TCP, Index: 0, Source: policy.Peer{Nets: []netip.Prefix{netip.MustParsePrefix("10.0.0.3/32")}}, Destination: policy.Peer{Ports: []policy.PortMatch{{Min: 80, Max: 80}}}},
			{Action: policy.Allow, Protocol: policy.TCP, Index: 0, Source: policy.Peer{Nets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, NotNets: except}, Destination: policy.Peer{Ports: []policy.PortMatch{{Min: 80, Max: 80}}}},
		},
	}
	w.Policies = []*policy.Policy{p}
	c, errs := New(cloneWorld(w), opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	prev := c.Flows()
	merged := false
	// 10.0.0.3 is in the fixed nets, 10.0.0.7 and 10.1.0.7 in the exclusion.
	for i, addr := range []string{"10.0.0.3", "10.0.0.7", "10.1.0.7", "10.0.0.3"} {
		pod := &policy.Endpoint{Kind: policy.PodEndpoint, Orchestrator: "k8s", Namespace: "prod", Name: fmt.Sprintf("db-%d", i),
			Labels: map[string]string{"app": "db"}, IPs: []netip.Addr{netip.MustParseAddr(addr)}}
		w.Endpoints = append(w.Endpoints, pod)
		var d Delta
		prev, d = checkStep(t, c, prev, Change{UpsertEndpoint: pod}, cloneWorld(w), opts)
		t.Logf("add %s: %d flow changes", addr, d.Len())
		for _, f := range prev {
			merged = merged || strings.Count(f.Actions, "conjunction(") == 2
		}
		checkOverlaps(t, "after adding "+addr, prev)
		w.Endpoints = w.Endpoints[:len(w.Endpoints)-1]
		prev, d = checkStep(t, c, prev, Change{DeleteEndpoint: pod.ID()}, cloneWorld(w), opts)
		t.Logf("delete %s: %d flow changes", addr, d.Len())
	}
	if !merged {
		t.Fatalf("no flow carried two conjunctions: the test no longer covers shared exclusion texts")
	}
}
