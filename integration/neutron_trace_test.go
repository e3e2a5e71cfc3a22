package integration

import (
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/neutron"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestNeutronDifferentialTrace loads the Neutron sample, every port local,
// into a real ovs-vswitchd and checks that ofproto/trace decides new
// connections as the reference evaluator does — the port-level semantics
// included: router-vm's 0.0.0.0/0 pair (a member only from its MAC, here
// sending from an address that is nobody's), nfv-probe with port security
// off (sending from any address), Neutron's own ports, and machines beyond
// the uplink.
func TestNeutronDifferentialTrace(t *testing.T) {
	in := &neutron.Input{}
	for _, f := range []string{"security-groups.json", "ports.json", "address-groups.json"} {
		data, err := os.ReadFile(neutronSample + f)
		if err != nil {
			t.Fatal(err)
		}
		part, errs := neutron.Decode(f, data)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		in.Add(part)
	}
	im, errs := neutron.Convert(in)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w, errs := decode.Build(im.Objects())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	locals := compiler.AllLocal(w, "")
	if len(locals) > maxLocalPorts {
		t.Fatalf("%d ports, the bridge has %d", len(locals), maxLocalPorts)
	}
	c, errs := compiler.New(w, compiler.Options{Locals: locals})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	o := sandboxtest.New(t)
	setupBridge(t, o)
	if err := ReplaceFlows(o, "br-int", c.BridgeFlows(nil)); err != nil {
		t.Fatal(err)
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())

	var ps []participant
	for _, e := range w.Endpoints {
		b := locals[e.ID()]
		ps = append(ps, participant{name: e.ID(), endpoint: e, addrs: e.IPs, binding: &b})
		// What a /0 pair or no port security lets a port send from.
		if wide(e) {
			ps = append(ps, participant{name: e.ID() + "@198.51.100.7", endpoint: e, addrs: []netip.Addr{netip.MustParseAddr("198.51.100.7")}, binding: &b})
		}
	}
	for _, a := range []string{"203.0.113.5", "10.99.0.5", "10.10.0.99", "10.20.0.99", "fd00:a::99"} {
		ps = append(ps, participant{name: a, addrs: []netip.Addr{netip.MustParseAddr(a)}})
	}
	r := rand.New(rand.NewSource(1))
	ran, allowed := 0, 0
	for _, src := range ps {
		for _, dst := range ps {
			if src.name == dst.name || (src.binding == nil && dst.binding == nil) {
				continue
			}
			for i := 0; i < 2; i++ {
				pkt, ok := randomPacket(r, src, dst)
				if !ok {
					continue
				}
				if pkt.Protocol.HasPorts() {
					pkt.DstPort = []uint16{22, 80, 5432, 67}[r.Intn(4)]
				}
				spec := traceSpec(src, dst, pkt)
				// The MACs traceSpec puts in the frame.
				pkt.SrcMAC, pkt.DstMAC = net.HardwareAddr{2, 0xaa, 0, 0, 0, 1}, net.HardwareAddr{2, 0xbb, 0, 0, 0, 1}
				if src.binding != nil {
					pkt.SrcMAC = src.binding.MAC
				}
				if dst.binding != nil {
					pkt.DstMAC = dst.binding.MAC
				}
				v := ev.Evaluate(endpointOf(src), endpointOf(dst), pkt)
				want := v.Allowed
				got, trace, err := Trace(o, "br-int", spec)
				if err != nil {
					t.Fatalf("%v\n%s", err, trace)
				}
				ran++
				if want {
					allowed++
				}
				if got != want {
					t.Fatalf("%s -> %s %s: OVS delivered=%v, evaluator allowed=%v (%s)\ntrace spec: %s\ntrace:\n%s",
						src.name, dst.name, pkt, got, want, fmt.Sprint(v), spec, trace)
				}
			}
		}
	}
	t.Logf("%d probes agreed, %d of them allowed", ran, allowed)
	if allowed == 0 || allowed == ran {
		t.Fatalf("the probes are all allowed or all denied: nothing was tested")
	}
}

// wide reports whether e may send from any address: it has a pair of all
// IPv4 addresses, or no port security.
func wide(e *policy.Endpoint) bool {
	if e.Guard == policy.GuardNone {
		return true
	}
	for _, p := range e.AddressPairs {
		if p.Prefix.Bits() == 0 && p.Prefix.Addr().Is4() {
			return true
		}
	}
	return false
}

// endpointOf is the participant's endpoint, or nil: the evaluator decides
// only the policy of local endpoints, as the bridge enforces only theirs.
func endpointOf(p participant) *policy.Endpoint {
	if p.binding == nil {
		return nil
	}
	return p.endpoint
}
