package integration

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// seedsDir holds the examples reconstructed from the seed pages.
const seedsDir = "../examples/seeds"

// seedServices are the services the seed pages talk about (nginx on 80,
// redis on 6379, the database on 8080), plus UDP and ICMP, which every
// policy that names TCP must leave alone or deny as the page says.
var seedServices = []evaluator.Packet{
	{Protocol: policy.TCP, DstPort: 80},
	{Protocol: policy.TCP, DstPort: 6379},
	{Protocol: policy.TCP, DstPort: 8080},
	{Protocol: policy.UDP, DstPort: 53},
	{Protocol: policy.ICMP, ICMPType: 8},
}

// seedOutsiders are addresses beyond the host that the pages use: a
// client on the internet, the external networks the egress examples
// allow, and a host inside the cluster range no pod has.
var seedOutsiders = []string{"203.0.113.7", "1.2.3.4", "172.18.0.99", "10.0.99.99"}

// TestSeedExamplesTrace compiles every seed example with all its endpoints
// on this host, loads the flows into one private OVS and traces every
// ordered pair of endpoints (and outsiders to and from each endpoint) for
// every service, wanting the verdict of the reference evaluator — which
// translator/evaluator/seeds_test.go holds to what the pages say.
func TestSeedExamplesTrace(t *testing.T) {
	dirs := exampleDirs(t)
	if len(dirs) < 15 {
		t.Fatalf("only %d example directories found under %s", len(dirs), seedsDir)
	}
	o := sandboxTraceBridge(t)
	tr := newTracer(t, o)
	total := 0
	for _, dir := range dirs {
		objs, errs := files.Read([]string{filepath.Join(seedsDir, dir)}, nil)
		w, berrs := decode.Build(objs)
		if errs = append(errs, berrs...); len(errs) > 0 {
			t.Fatalf("%s: %v", dir, errs[0])
		}
		n := traceWorld(t, o, tr, dir, w, seedOutsiders, seedServices)
		total += n
		if t.Failed() {
			return
		}
	}
	t.Logf("%d examples, %d traces agreed with the evaluator", len(dirs), total)
}

// exampleDirs lists the example directories with a world.yaml, relative
// to seedsDir.
func exampleDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(seedsDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "world.yaml" {
			rel, _ := filepath.Rel(seedsDir, filepath.Dir(path))
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// traceWorld compiles w with every endpoint local, installs it, and traces
// every ordered pair of participants (endpoints, and outsiders to or from
// an endpoint) for each service against the evaluator. It returns the
// number of traces.
func traceWorld(t *testing.T, o *sandbox.OVS, tr *tracer, name string, w *policy.World, outsiders []string, services []evaluator.Packet) int {
	t.Helper()
	locals := compiler.AllLocal(w, "")
	if len(locals) > maxLocalPorts {
		t.Fatalf("%s: %d endpoints, the bridge has %d ports: raise maxLocalPorts", name, len(locals), maxLocalPorts)
	}
	c, errs := compiler.New(w, compiler.Options{Locals: locals, FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()})
	if len(errs) > 0 {
		t.Fatalf("%s: compile: %v", name, errs)
	}
	flows := c.BridgeFlows(nil)
	if err := ReplaceFlows(o, "br-int", flows); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	checkNamedDump(t, o, "br-int", flows)
	ev := evaluator.New(w, evaluator.DefaultOptions())
	var ps []participant
	for _, e := range w.Endpoints {
		b := locals[e.ID()]
		ps = append(ps, participant{name: e.ID(), endpoint: e, addrs: e.IPs, binding: &b})
	}
	for _, a := range outsiders {
		ps = append(ps, participant{name: a, addrs: []netip.Addr{netip.MustParseAddr(a)}})
	}
	n := 0
	for _, src := range ps {
		for _, dst := range ps {
			if src.name == dst.name || (src.binding == nil && dst.binding == nil) {
				continue
			}
			for _, svc := range services {
				pkt, ok := seedPacket(src, dst, svc)
				if !ok {
					continue
				}
				want, why := expected(ev, src, dst, pkt)
				spec := traceSpec(src, dst, pkt)
				got, trace, err := tr.trace("br-int", spec)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				n++
				if got != want {
					t.Errorf("%s: %s -> %s %s: OVS delivered=%v, evaluator allowed=%v (%s)\ntrace spec: %s\ntrace:\n%s", name, src.name, dst.name, pkt, got, want, why, spec, trace)
					return n
				}
			}
		}
	}
	return n
}

// seedPacket addresses svc from src to dst with their first addresses of
// one family (ok false when they share none).
func seedPacket(src, dst participant, svc evaluator.Packet) (evaluator.Packet, bool) {
	for _, s := range src.addrs {
		for _, d := range dst.addrs {
			if s.Is4() != d.Is4() {
				continue
			}
			p := svc
			p.Src, p.Dst = s, d
			if p.Protocol.HasPorts() {
				p.SrcPort = evaluator.SourcePort
			}
			if p.Protocol == policy.ICMP && s.Is6() {
				p.Protocol, p.ICMPType = policy.ICMPv6, 128
			}
			return p, true
		}
	}
	return evaluator.Packet{}, false
}

// expected is what the bridge must do with a new connection: the egress
// verdict of a local source and the ingress verdict of a local
// destination must both allow it.
func expected(ev *evaluator.Evaluator, src, dst participant, pkt evaluator.Packet) (bool, string) {
	v := ev.Evaluate(src.endpoint, dst.endpoint, pkt)
	want, why := true, ""
	if src.binding != nil {
		want = want && v.Egress.Allowed
		why += "egress: " + v.Egress.Reason + "; "
	}
	if dst.binding != nil {
		want = want && v.Ingress.Allowed
		why += "ingress: " + v.Ingress.Reason
	}
	return want, why
}
