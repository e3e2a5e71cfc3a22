package integration

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// ipv6Dir holds the dual-stack world and its policy (see its files).
const ipv6Dir = "testdata/ipv6"

// ipv6Scene starts the dual-stack world's workloads (TCP 8080 and 8081,
// and web's UDP 5353, served on both families) and an agent enforcing
// the policy of ipv6Dir, and waits until the agent has installed it: the
// Calico Deny of intruder's IPv6 net is on the bridge.
func ipv6Scene(t *testing.T) (*sandbox.OVS, *Scene, *agentProc) {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	s, err := StartScene(o, "br-int", ipv6Dir, []int{8080, 8081})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	udp, err := s.Workloads["six/web"].ListenUDP(5353)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	policyDir := t.TempDir()
	for _, f := range []string{"world.yaml", "policy.yaml"} {
		copyFile(t, filepath.Join(ipv6Dir, f), filepath.Join(policyDir, f))
	}
	a := startAgent(t, o, writeAgentConfig(t, o, policyDir))
	waitFor(t, "the agent to install the IPv6 policy", 20*time.Second, func() bool {
		out, err := o.Ofctl("-O", OpenFlow, "dump-flows", "br-int")
		return err == nil && strings.Contains(out, "ipv6_src=fd00:6::30")
	})
	return o, s, a
}

// v6 is the workload's IPv6 address.
func v6(w *sandbox.Workload) netip.Addr {
	for _, p := range w.IPs {
		if p.Addr().Is6() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// v4 is the workload's IPv4 address.
func v4(w *sandbox.Workload) netip.Addr {
	for _, p := range w.IPs {
		if p.Addr().Is4() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// TestIPv6Policy: dual-stack pods under a Kubernetes NetworkPolicy (pod
// selector, IPv6 ipBlock) and a Calico policy (IPv6 net, ICMPv6), probed
// with real TCP, UDP and ICMPv6 over IPv6 (and TCP over IPv4 beside it),
// allowed and denied; every expectation is checked against the reference
// evaluator too.
func TestIPv6Policy(t *testing.T) {
	_, s, _ := ipv6Scene(t)
	ev := evaluator.New(s.world, evaluator.DefaultOptions())
	for _, c := range []struct {
		from   string
		six    bool
		proto  policy.Protocol
		port   uint16
		allow  bool
		reason string
	}{
		{"six/client", true, policy.TCP, 8080, true, "app=client, Kubernetes pod selector"},
		{"six/client", true, policy.UDP, 5353, true, "app=client, UDP"},
		{"six/client", true, policy.ICMPv6, 0, true, "Calico ICMPv6 echo from app=client"},
		{"six/client", true, policy.TCP, 8081, false, "8081 only from outsider's IPv6 address"},
		{"six/client", false, policy.TCP, 8080, true, "the same pods over IPv4"},
		{"six/intruder", true, policy.TCP, 8080, false, "Calico Deny of its IPv6 net, ordered first"},
		{"six/intruder", true, policy.ICMPv6, 0, false, "Calico Deny of its IPv6 net"},
		{"six/intruder", false, policy.TCP, 8080, true, "the IPv6 Deny leaves its IPv4 alone"},
		{"six/outsider", true, policy.TCP, 8080, false, "not app=client"},
		{"six/outsider", true, policy.UDP, 5353, false, "not app=client, UDP"},
		{"six/outsider", true, policy.ICMPv6, 0, false, "not app=client, ICMPv6"},
		{"six/outsider", true, policy.TCP, 8081, true, "Kubernetes ipBlock fd00:6::40/128"},
		{"six/outsider", false, policy.TCP, 8081, false, "the IPv6 ipBlock does not admit its IPv4"},
	} {
		from, web := s.Workloads[c.from], s.Workloads["six/web"]
		src, dst := v4(from), v4(web)
		if c.six {
			src, dst = v6(from), v6(web)
		}
		pkt := evaluator.Packet{Src: src, Dst: dst, Protocol: c.proto, SrcPort: evaluator.SourcePort, DstPort: c.port}
		if c.proto == policy.ICMPv6 {
			pkt.ICMPType = 128
		}
		if v := ev.Evaluate(ev.Endpoint(c.from), ev.Endpoint("six/web"), pkt); v.Allowed != c.allow {
			t.Fatalf("%s: the evaluator says allowed=%t (%s); the test expects %t (%s)", pkt, v.Allowed, v.Reason(), c.allow, c.reason)
		}
		probe := func(timeout time.Duration) bool {
			switch c.proto {
			case policy.UDP:
				return from.ProbeUDP(netip.AddrPortFrom(dst, c.port), timeout)
			case policy.ICMPv6:
				return from.Ping(dst, timeout)
			}
			return from.ProbeTCP(netip.AddrPortFrom(dst, c.port), timeout)
		}
		got := probe(time.Second)
		if !got && c.allow { // a first packet may wait for neighbour discovery
			got = probe(3 * time.Second)
		}
		if got != c.allow {
			t.Errorf("%s (%s): real traffic allowed=%t, want %t", pkt, c.reason, got, c.allow)
		}
	}
}
