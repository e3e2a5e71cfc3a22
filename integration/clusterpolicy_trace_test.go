package integration

import (
	"testing"

	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestClusterPolicyConformanceTrace runs the network-policy-api
// conformance cases (both API versions, every step, state kept between
// steps) through a real ovs-vswitchd: the eight pods are local, each
// step's policies are compiled and installed, and every ordered pod pair
// is traced for every served protocol and port. The bridge must give every
// probe the case's answer and every pair the reference evaluator's.
func TestClusterPolicyConformanceTrace(t *testing.T) {
	o := sandboxTraceBridge(t)
	tr := newTracer(t, o)
	traces := 0
	for _, st := range evaltest.ConformanceStates() {
		name, step := st.Name, st.Step
		w, err := evaltest.BuildWorld(st.Case, st.YAML)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		locals := compiler.AllLocal(w, "")
		comp, errs := compiler.New(w, compiler.Options{Locals: locals, FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()})
		if len(errs) > 0 {
			t.Fatalf("%s: compile: %v", name, errs)
		}
		flows := comp.Flows()
		if err := ReplaceFlows(o, "br-int", flows); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkNamedDump(t, o, "br-int", flows)
		ev := evaluator.New(w, evaluator.DefaultOptions())
		traceOne := func(from, to evaltest.Pod, svc evaltest.Service) (bool, string) {
			delivered, trace, err := tr.tracePods(ev, locals, from, to, svc)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			traces++
			return delivered, trace
		}
		for _, p := range step.Probes {
			if got, trace := traceOne(evaltest.ConformancePod(p.From), evaltest.ConformancePod(p.To), p.Service); got != p.Allowed {
				t.Errorf("%s: %s: OVS delivered=%v\n%s", name, p, got, trace)
			}
		}
		for _, svc := range evaltest.ConformanceServices {
			for _, from := range evaltest.ConformancePods() {
				for _, to := range evaltest.ConformancePods() {
					if from == to {
						continue
					}
					got, trace := traceOne(from, to, svc)
					pkt := evaluator.Packet{Src: from.IP, Dst: to.IP, Protocol: svc.Protocol, SrcPort: evaluator.SourcePort, DstPort: svc.Port}
					want := ev.Evaluate(ev.Endpoint(from.String()), ev.Endpoint(to.String()), pkt)
					if got != want.Allowed {
						t.Errorf("%s: %s -> %s %s: OVS delivered=%v, evaluator %v (%s)\n%s", name, from, to, svc, got, want.Allowed, want.Reason(), trace)
					}
				}
			}
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d traces matched the conformance cases and the evaluator", traces)
}
