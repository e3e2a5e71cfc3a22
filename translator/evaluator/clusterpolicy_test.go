package evaluator_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// TestClusterPolicyConformance runs the network-policy-api conformance
// cases, in both API versions, step by step through the reference
// evaluator: every probe of every step must come out as the case says.
func TestClusterPolicyConformance(t *testing.T) {
	cases := evaltest.ConformanceCases()
	if len(cases) < 8 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, st := range evaltest.ConformanceStates() {
		t.Run(st.Name, func(t *testing.T) {
			w, err := evaltest.BuildWorld(st.Case+".yaml", st.YAML)
			if err != nil {
				t.Fatal(err)
			}
			ev := evaluator.New(w, evaluator.DefaultOptions())
			for _, p := range st.Step.Probes {
				got := conformanceProbe(t, ev, p)
				if got.Allowed != p.Allowed {
					t.Errorf("%s: got allowed=%v (%s)", p, got.Allowed, got.Reason())
				}
			}
		})
	}
}

func conformanceProbe(t *testing.T, ev *evaluator.Evaluator, p evaltest.Probe) evaluator.Verdict {
	t.Helper()
	from, to := evaltest.ConformancePod(p.From), evaltest.ConformancePod(p.To)
	src, dst := ev.Endpoint(from.String()), ev.Endpoint(to.String())
	if src == nil || dst == nil {
		t.Fatalf("%s: no endpoint for %s or %s", p, from, to)
	}
	return ev.Evaluate(src, dst, evaluator.Packet{Src: from.IP, Dst: to.IP, Protocol: p.Service.Protocol, SrcPort: 40000, DstPort: p.Service.Port})
}

// TestClusterPolicyCasesDiscriminate guards against cases that cannot
// fail: with no policy at all, every probe is allowed, so every step must
// expect at least one denial or differ from the step before.
func TestClusterPolicyCasesDiscriminate(t *testing.T) {
	w, err := evaltest.BuildWorld("world.yaml", evaltest.ConformanceWorldYAML())
	if err != nil {
		t.Fatal(err)
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	for _, c := range evaltest.ConformanceCases() {
		denies := false
		for _, step := range c.Steps {
			for _, p := range step.Probes {
				if !conformanceProbe(t, ev, p).Allowed {
					t.Fatalf("%s: %s denied with no policy", c.Name, p)
				}
				denies = denies || !p.Allowed
			}
		}
		if !denies {
			t.Errorf("%s: no probe expects a denial", c.Name)
		}
	}
}

// TestClusterPolicyVerdictNamesRule checks that a decision by a
// cluster-scoped rule names its tier, the policy and the rule's name.
func TestClusterPolicyVerdictNamesRule(t *testing.T) {
	c := evaltest.ConformanceCases()[0]
	for _, v := range []evaltest.APIVersion{evaltest.V1Alpha2, evaltest.V1Alpha1} {
		w, err := evaltest.BuildWorld("x.yaml", evaltest.ConformanceWorldYAML()+c.Policies(0, v))
		if err != nil {
			t.Fatal(err)
		}
		got := conformanceProbe(t, evaluator.New(w, evaluator.DefaultOptions()), evaltest.Probe{From: "slytherin/0", To: "gryffindor/0", Service: evaltest.ConformanceServices[0]})
		prefix := map[evaltest.APIVersion]string{evaltest.V1Alpha2: "kcnp.kube-admin.", evaltest.V1Alpha1: "kanp.adminnetworkpolicy."}[v]
		want := fmt.Sprintf(`ingress: kube-admin/%singress-tcp ingress[3] "deny-from-slytherin-at-port-80" Deny`, prefix)
		if got.Allowed || !strings.Contains(got.Reason(), want) {
			t.Errorf("%s: reason %q, want %q", v, got.Reason(), want)
		}
	}
}
