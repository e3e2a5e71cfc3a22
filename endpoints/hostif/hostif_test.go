package hostif

import (
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
)

// TestFillAddresses checks the address filter on lo, which every namespace
// has, and that a missing interface is reported.
func TestFillAddresses(t *testing.T) {
	lo, err := InterfaceAddrs("lo")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range lo {
		if a.IsLoopback() {
			t.Errorf("loopback address %s reported as a host address", a)
		}
	}
	fixed := netip.MustParseAddr("192.0.2.7")
	eps := []*policy.Endpoint{
		{Kind: policy.HostEndpoint, Name: "gone", InterfaceName: "no-such-if0"},
		{Kind: policy.HostEndpoint, Name: "fixed", InterfaceName: "no-such-if0", IPs: []netip.Addr{fixed}},
	}
	errs := FillAddresses(eps)
	if len(errs) != 1 {
		t.Fatalf("want one error for the missing interface, got %v", errs)
	}
	if len(eps[1].IPs) != 1 || eps[1].IPs[0] != fixed {
		t.Errorf("expectedIPs must win over netlink: %v", eps[1].IPs)
	}
}
