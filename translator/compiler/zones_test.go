package compiler

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// TestNetworkZones: zones are stable, never the default zone or 0, and a
// network's zone does not depend on others unless their hashes collide,
// when the network later in ID order probes on.
func TestNetworkZones(t *testing.T) {
	z := NetworkZones([]string{"net-b", "net-a", "net-a"}, 7)
	if len(z) != 2 || z["net-a"] == z["net-b"] {
		t.Fatalf("zones %v: want two distinct", z)
	}
	for n, v := range z {
		if v == 0 || v == 7 {
			t.Errorf("%s got zone %d", n, v)
		}
		if alone := NetworkZones([]string{n}, 7); alone[n] != v {
			t.Errorf("%s: zone %d alone, %d with others", n, alone[n], v)
		}
	}
	// Find two networks whose hashes collide.
	byZone := map[uint16]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		n := fmt.Sprintf("net-%d", i)
		zn := NetworkZones([]string{n}, 0)[n]
		if m, ok := byZone[zn]; ok {
			a, b = m, n
		}
		byZone[zn] = n
	}
	both := NetworkZones([]string{b, a}, 0)
	first, second := min(a, b), max(a, b)
	if both[first] != NetworkZones([]string{first}, 0)[first] || both[second] == both[first] {
		t.Errorf("collision of %s and %s: zones %v; the first in ID order keeps its hash", a, b, both)
	}
}

// twoTenants has two networks reusing 10.0.0.5 and 10.0.0.6: in each, the
// server .6 admits tcp/80 from its security group's members, and .5 is a
// member in net-a only. Every endpoint is local. Two remote endpoints of a
// third network (no local endpoint) are members too: one with 10.0.0.7,
// an address no other network uses, one with 10.0.0.5 again.
func twoTenants() (*policy.World, Options) {
	ep := func(name, network, ip string, labels map[string]string) *policy.Endpoint {
		l := map[string]string{policy.LabelNetwork: network}
		for k, v := range labels {
			l[k] = v
		}
		return &policy.Endpoint{Kind: policy.WorkloadEndpoint, Namespace: "t", Name: name, Labels: l, IPs: []netip.Addr{netip.MustParseAddr(ip)}}
	}
	w := policy.NewWorld()
	w.Namespaces["t"] = &policy.Namespace{Name: "t"}
	w.Endpoints = []*policy.Endpoint{
		ep("a-client", "net-a", "10.0.0.5", map[string]string{"grp": ""}),
		ep("a-server", "net-a", "10.0.0.6", map[string]string{"app": "server"}),
		ep("b-client", "net-b", "10.0.0.5", nil),
		ep("b-server", "net-b", "10.0.0.6", map[string]string{"app": "server"}),
		ep("c-remote", "net-c", "10.0.0.7", map[string]string{"grp": ""}),
		ep("c-shared", "net-c", "10.0.0.5", map[string]string{"grp": ""}),
	}
	grp := selector.MustParse("has(grp)")
	w.Policies = []*policy.Policy{{
		Kind: policy.CalicoGlobalNetworkPolicy, Name: "p", Tier: policy.DefaultTier, Order: 1,
		AppliesTo: selector.MustParse("app == 'server'"), Types: policy.Ingress,
		Ingress: []policy.Rule{{Action: policy.Allow, Protocol: policy.TCP, Source: policy.Peer{Selector: &grp},
			Destination: policy.Peer{Ports: []policy.PortMatch{{Min: 80, Max: 80}}}}},
	}}
	locals := map[string]Binding{}
	for i, id := range []string{"t/a-client", "t/a-server", "t/b-client", "t/b-server"} {
		locals[id] = Binding{OFPort: uint32(i + 1), MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(i + 1)}}
	}
	return w, Options{Locals: locals}
}

// TestZonesAndScopedMembers: each endpoint is classified into its
// network's zone, packets to it from other ports too; a group's member
// address that other networks use matches only in its own network's zone,
// one no other network uses matches in all (as routed traffic needs).
func TestZonesAndScopedMembers(t *testing.T) {
	w, opts := twoTenants()
	c, errs := New(w, opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	zones := NetworkZones([]string{"net-a", "net-b"}, 0)
	var got []string
	for _, f := range c.Flows() {
		if f.Table == TableClassify.ID || f.Table == TableConntrack.ID || (f.Table == TableIngressRules.ID && strings.Contains(f.Match, "_src=")) {
			got = append(got, f.Match+" "+f.Actions)
		}
	}
	za, zb := fmt.Sprintf("%#x", zones["net-a"]), fmt.Sprintf("%#x", zones["net-b"])
	for _, want := range []string{
		"in_port=1 set_field:0x1->reg0,set_field:" + za + "/0xffff->reg8",
		"in_port=3 set_field:0x3->reg0,set_field:" + zb + "/0xffff->reg8",
		"dl_dst=02:00:00:00:00:02 set_field:" + za + "/0xffff->reg8",
		"dl_dst=02:00:00:00:00:04 set_field:" + zb + "/0xffff->reg8",
		"reg8=" + za + ",ip,nw_src=10.0.0.5",
		// Both directions of a connection in one zone: kept when it is the
		// destination's, the default one when it crosses networks.
		"ip,dl_dst=02:00:00:00:00:02,reg8=" + za + " ct(table=21,zone=NXM_NX_REG8[0..15])",
		"ip,dl_dst=02:00:00:00:00:02 set_field:0x0/0xffff->reg8,ct(table=21,zone=NXM_NX_REG8[0..15])",
		",ip,nw_src=10.0.0.7",
	} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no flow with %q in\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, s := range got {
		if strings.Contains(s, "nw_src=10.0.0.5") && !strings.Contains(s, "reg8="+za+",") {
			t.Errorf("10.0.0.5 of net-a matched outside its zone: %s", s)
		}
		if strings.Contains(s, "10.0.0.7") && strings.Contains(s, "reg8") {
			t.Errorf("an address no other network uses is confined to one: %s", s)
		}
	}
}

// TestUntrackedEndpoint: an endpoint labelled stateful=false skips
// conntrack both ways and is never committed.
func TestUntrackedEndpoint(t *testing.T) {
	w, opts := twoTenants()
	w.Endpoints[1].Labels[policy.LabelStateful] = "false"
	c, errs := New(w, opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, f := range c.Flows() {
		if (f.Table == TableConntrack.ID || f.Table == TableCommit.ID) && f.Priority == prioEndpoint {
			got = append(got, fmt.Sprintf("%d %s %s", f.Table, f.Match, f.Actions))
		}
	}
	want := []string{
		"20 dl_dst=02:00:00:00:00:02,ip goto_table:30",
		"20 dl_dst=02:00:00:00:00:02,ipv6 goto_table:30",
		"20 reg0=0x2,ip goto_table:30",
		"20 reg0=0x2,ipv6 goto_table:30",
		"70 reg0=0x2 NORMAL",
		"70 reg1=0x2 NORMAL",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("untracked flows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	checkOverlaps(t, "untracked", c.Flows())
}
