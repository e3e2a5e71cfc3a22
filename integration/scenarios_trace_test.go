package integration

import (
	"testing"

	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestScenariosTrace runs every Kubernetes truth-table scenario (modelled
// on the upstream e2e suite) through a real ovs-vswitchd: the nine pods
// are local, the scenario's policies are compiled and installed, and every
// ordered pod pair is traced for TCP, UDP and SCTP on ports 80 and 81. The
// bridge must reproduce the scenario's expected table and the reference
// evaluator's verdicts exactly. (SCTP cannot be sent on this kernel, so
// tracing is how it is proven here.)
func TestScenariosTrace(t *testing.T) {
	scenarios := evaltest.Scenarios()
	if len(scenarios) < 45 {
		t.Fatalf("only %d scenarios", len(scenarios))
	}
	o := sandboxTraceBridge(t)
	tr := newTracer(t, o)
	traces := 0
	for _, sc := range scenarios {
		w, err := evaltest.BuildWorld(sc.Name, sc.YAML())
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		locals := compiler.AllLocal(w, "")
		c, errs := compiler.New(w, compiler.Options{Locals: locals, FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()})
		if len(errs) > 0 {
			t.Fatalf("%s: compile: %v", sc.Name, errs)
		}
		flows := c.BridgeFlows(nil)
		if err := ReplaceFlows(o, "br-int", flows); err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		checkNamedDump(t, o, "br-int", flows)
		ev := evaluator.New(w, evaluator.DefaultOptions())
		for _, svc := range evaltest.Services() {
			got := evaltest.NewReachability(false)
			for _, from := range evaltest.Pods() {
				for _, to := range evaltest.Pods() {
					if from == to {
						continue
					}
					delivered, trace, err := tr.tracePods(ev, locals, from, to, svc)
					if err != nil {
						t.Fatalf("%s: %v", sc.Name, err)
					}
					traces++
					got.Set(from.String(), to.String(), delivered)
					if t.Failed() {
						t.Logf("last trace:\n%s", trace)
					}
				}
			}
			for _, d := range sc.Expect(svc).Diff(got) {
				t.Errorf("scenario %s %s: OVS differs from the expected table: %s", sc.Name, svc, d)
			}
			observed, err := evaltest.Observe(ev, svc)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range observed.Diff(got) {
				t.Errorf("scenario %s %s: OVS differs from the evaluator: %s", sc.Name, svc, d)
			}
			if t.Failed() {
				t.Logf("scenario %s %s, OVS:\n%s", sc.Name, svc, got)
				return
			}
		}
	}
	t.Logf("%d scenarios × %d services × 72 pod pairs: %d traces matched the expected tables", len(scenarios), len(evaltest.Services()), traces)
}
