package ovsbind

import (
	"net"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
)

func TestBind(t *testing.T) {
	vmMAC, _ := net.ParseMAC("fa:16:3e:00:00:01")
	eps := []*policy.Endpoint{
		{Kind: policy.PodEndpoint, Namespace: "prod", Name: "web", Node: "n1"},
		{Kind: policy.PodEndpoint, Namespace: "prod", Name: "db", Node: "n2"},
		{Kind: policy.WorkloadEndpoint, Namespace: "openstack", Name: "vm-1", MAC: vmMAC},
		{Kind: policy.HostEndpoint, Name: "host-eth0", InterfaceName: "eth0"},
		{Kind: policy.PodEndpoint, Namespace: "prod", Name: "pending"},
		{Kind: policy.PodEndpoint, Namespace: "prod", Name: "nomac"},
	}
	ports := []Port{
		{Name: "veth1", OFPort: 1, IfaceID: "prod/web", AttachedMAC: "02:00:00:00:00:01", MACInUse: "aa:aa:aa:aa:aa:aa"},
		{Name: "veth2", OFPort: 2, IfaceID: "prod/db", AttachedMAC: "02:00:00:00:00:02"},
		{Name: "tap1", OFPort: 3, IfaceID: "vm-1"},
		{Name: "eth0", OFPort: 4, MACInUse: "02:00:00:00:00:04"},
		{Name: "veth5", OFPort: -1, IfaceID: "prod/pending", AttachedMAC: "02:00:00:00:00:05"},
		{Name: "veth6", OFPort: 6, IfaceID: "prod/nomac"},
	}
	got := Bind(eps, ports, Options{})
	want := map[string]struct {
		port uint32
		mac  string
	}{
		"prod/web":       {1, "02:00:00:00:00:01"},
		"prod/db":        {2, "02:00:00:00:00:02"},
		"openstack/vm-1": {3, "fa:16:3e:00:00:01"},
		"host-eth0":      {4, "02:00:00:00:00:04"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d bindings %v, want %d", len(got), got, len(want))
	}
	for id, w := range want {
		b, ok := got[id]
		if !ok || b.OFPort != w.port || b.MAC.String() != w.mac {
			t.Errorf("%s: got %+v, want port %d mac %s", id, b, w.port, w.mac)
		}
	}
	// --node restricts: only n1's pod (and endpoints without a node are not on n1).
	got = Bind(eps, ports, Options{Node: "n1"})
	if len(got) != 1 || got["prod/web"].OFPort != 1 {
		t.Errorf("with node n1: %v", got)
	}
}

// TestBindWildcardHost: a host endpoint for all interfaces ("*") binds the
// bridge's own internal port (LOCAL), with its MAC, unless a port's
// iface-id names the endpoint; only this node's, with --node; a named
// host endpoint never binds LOCAL by accident.
func TestBindWildcardHost(t *testing.T) {
	eps := []*policy.Endpoint{
		{Kind: policy.HostEndpoint, Name: "n1-auto-hep", InterfaceName: "*", Node: "n1"},
		{Kind: policy.HostEndpoint, Name: "n2-auto-hep", InterfaceName: "*", Node: "n2"},
		{Kind: policy.HostEndpoint, Name: "n1-eth1", InterfaceName: "eth1", Node: "n1"},
	}
	ports := []Port{
		{Name: "br-int", OFPort: LocalPort, MACInUse: "02:00:00:00:00:fe"},
		{Name: "veth1", OFPort: 1, IfaceID: "prod/web", AttachedMAC: "02:00:00:00:00:01"},
	}
	got := Bind(eps, ports, Options{Node: "n1"})
	if len(got) != 1 || got["n1-auto-hep"].OFPort != LocalPort || got["n1-auto-hep"].MAC.String() != "02:00:00:00:00:fe" {
		t.Fatalf("wildcard host endpoint on n1: %v", got)
	}
	// An internal port named for the endpoint takes precedence.
	ports = append(ports, Port{Name: "mgmt0", OFPort: 7, IfaceID: "n1-auto-hep", MACInUse: "02:00:00:00:00:07"})
	got = Bind(eps, ports, Options{Node: "n1"})
	if len(got) != 1 || got["n1-auto-hep"].OFPort != 7 {
		t.Fatalf("wildcard host endpoint with an iface-id port: %v", got)
	}
	// Without LOCAL (no such port reported) it stays unbound.
	got = Bind(eps, ports[1:2], Options{Node: "n1"})
	if len(got) != 0 {
		t.Fatalf("without LOCAL: %v", got)
	}
}
