package compiler

import (
	"net"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/translator/compiler/flowcheck"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// spoofWorld is one dual-stack pod.
const spoofWorld = `
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: ns}
status: {podIPs: [{ip: 10.0.0.1}, {ip: "fd00::1"}]}
`

// spoofGuardDecision is what the spoof_guard table does with the packet
// described by match (every field a flow there could test): the actions
// of the highest-priority flow matching it, or "drop" on a miss.
func spoofGuardDecision(t *testing.T, flows []Flow, match string) string {
	t.Helper()
	pkt, err := flowcheck.ParseMatch(match)
	if err != nil {
		t.Fatalf("%s: %v", match, err)
	}
	best, decision := -1, "drop"
	for _, f := range flows {
		if f.Table != TableSpoofGuard.ID || int(f.Priority) <= best {
			continue
		}
		m, err := flowcheck.ParseMatch(f.Match)
		if err != nil {
			t.Fatalf("%s: %v", f.Match, err)
		}
		if !flowcheck.Disjoint(m, pkt) {
			best, decision = int(f.Priority), f.Actions
		}
	}
	return decision
}

// TestSpoofGuardIPv6: a workload's IPv6 and neighbour discovery pass the
// spoof guard only about its own addresses (its EUI-64 link-local one
// included); neighbour discovery about other addresses, from other
// addresses or naming another MAC, router advertisements and redirects
// are dropped, even when sent from its own addresses.
func TestSpoofGuardIPv6(t *testing.T) {
	w, err := evaltest.BuildWorld("spoof", spoofWorld)
	if err != nil {
		t.Fatal(err)
	}
	mac := net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	c, errs := New(w, Options{Locals: map[string]Binding{"ns/a": {OFPort: 1, MAC: mac}}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	flows := c.Flows()
	const (
		own    = "in_port=1,dl_src=02:00:00:00:00:01"
		ll     = "fe80::ff:fe00:1" // EUI-64 of 02:00:00:00:00:01
		other  = "fe80::ff:fe00:2"
		mine   = "02:00:00:00:00:01"
		none   = "00:00:00:00:00:00"
		theirs = "02:00:00:00:00:02"
	)
	if got := eui64LinkLocal(mac); got != netip.MustParseAddr(ll) {
		t.Fatalf("EUI-64 link-local address of %s: %s, want %s", mac, got, ll)
	}
	toCT, normal := "goto_table:20", "NORMAL"
	for _, c := range []struct {
		what, packet, want string
	}{
		{"UDP from its address", own + ",udp6,ipv6_src=fd00::1,tp_src=1,tp_dst=2", toCT},
		{"UDP from its link-local address", own + ",udp6,ipv6_src=" + ll + ",tp_src=1,tp_dst=2", toCT},
		{"UDP from another link-local address", own + ",udp6,ipv6_src=" + other + ",tp_src=1,tp_dst=2", "drop"},
		{"UDP from another address", own + ",udp6,ipv6_src=fd00::2,tp_src=1,tp_dst=2", "drop"},
		{"UDP from another MAC", "in_port=1,dl_src=" + theirs + ",udp6,ipv6_src=fd00::1,tp_src=1,tp_dst=2", "drop"},
		{"NS from its address", own + ",icmp6,ipv6_src=fd00::1,icmpv6_type=135,icmpv6_code=0,nd_target=fd00::9,nd_sll=" + mine, normal},
		{"NS from its link-local address, no option", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=135,icmpv6_code=0,nd_target=fd00::9,nd_sll=" + none, normal},
		{"DAD from ::", own + ",icmp6,ipv6_src=::,icmpv6_type=135,icmpv6_code=0,nd_target=fd00::1,nd_sll=" + none, normal},
		{"NS from :: with an option", own + ",icmp6,ipv6_src=::,icmpv6_type=135,icmpv6_code=0,nd_target=fd00::1,nd_sll=" + mine, "drop"},
		{"NS from another address", own + ",icmp6,ipv6_src=fd00::2,icmpv6_type=135,icmpv6_code=0,nd_target=fd00::9,nd_sll=" + mine, "drop"},
		{"NS naming another MAC", own + ",icmp6,ipv6_src=fd00::1,icmpv6_type=135,icmpv6_code=0,nd_target=fd00::9,nd_sll=" + theirs, "drop"},
		{"NA for its address", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=136,icmpv6_code=0,nd_target=fd00::1,nd_tll=" + mine, normal},
		{"NA for its link-local address", own + ",icmp6,ipv6_src=fd00::1,icmpv6_type=136,icmpv6_code=0,nd_target=" + ll + ",nd_tll=" + none, normal},
		{"NA for another address", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=136,icmpv6_code=0,nd_target=fd00::2,nd_tll=" + mine, "drop"},
		{"NA for another link-local address", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=136,icmpv6_code=0,nd_target=" + other + ",nd_tll=" + mine, "drop"},
		{"NA naming another MAC", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=136,icmpv6_code=0,nd_target=fd00::1,nd_tll=" + theirs, "drop"},
		{"NA from another address", own + ",icmp6,ipv6_src=" + other + ",icmpv6_type=136,icmpv6_code=0,nd_target=fd00::1,nd_tll=" + mine, "drop"},
		{"RS from its link-local address", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=133,icmpv6_code=0", normal},
		{"RS from ::", own + ",icmp6,ipv6_src=::,icmpv6_type=133,icmpv6_code=0", normal},
		{"RA from its link-local address", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=134,icmpv6_code=0", "drop"},
		{"redirect from its link-local address", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=137,icmpv6_code=0", "drop"},
		{"MLDv2 report from its link-local address", own + ",icmp6,ipv6_src=" + ll + ",icmpv6_type=143,icmpv6_code=0", normal},
		{"MLDv2 report from ::", own + ",icmp6,ipv6_src=::,icmpv6_type=143,icmpv6_code=0", normal},
		{"MLDv2 report from another address", own + ",icmp6,ipv6_src=" + other + ",icmpv6_type=143,icmpv6_code=0", "drop"},
		{"echo request from its address", own + ",icmp6,ipv6_src=fd00::1,icmpv6_type=128,icmpv6_code=0", toCT},
	} {
		if got := spoofGuardDecision(t, flows, c.packet); got != c.want {
			t.Errorf("%s: %s, want %s", c.what, got, c.want)
		}
	}
}
