package decode_test

import (
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestStagedPoliciesDecoded: the three staged kinds decode into
// World.Staged with Calico's stagedAction (omitted = Set), the kind of the
// policy they stage and its name (a staged Kubernetes policy is named as
// Calico names the enforced one), and never into World.Policies.
func TestStagedPoliciesDecoded(t *testing.T) {
	const in = `
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: snp, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [5432]}}]
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: sgnp}
spec:
  stagedAction: Delete
---
apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: {name: sknp, namespace: dev}
spec:
  stagedAction: Set
  podSelector: {}
  policyTypes: [Egress]
`
	objs, errs := decode.Decode("staged.yaml", []byte(in))
	w, berrs := decode.Build(objs)
	for _, e := range append(errs, berrs...) {
		t.Fatal(e)
	}
	if len(w.Policies) != 0 {
		t.Fatalf("staged policies became enforced policies: %v", w.Policies)
	}
	got := map[string]string{}
	for _, s := range w.Staged {
		got[s.StagedKind()+" "+s.Policy.ID()] = s.Action.String() + " " + s.Policy.Kind.String()
	}
	want := map[string]string{
		"StagedNetworkPolicy prod/snp":                       "Set NetworkPolicy",
		"StagedGlobalNetworkPolicy sgnp":                     "Delete GlobalNetworkPolicy",
		"StagedKubernetesNetworkPolicy dev/knp.default.sknp": "Set NetworkPolicy.networking.k8s.io",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

// TestStagedPoliciesValidated: a staged policy is validated as the policy
// it stages, and as Calico validates stagedAction.
func TestStagedPoliciesValidated(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"kind: StagedNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {stagedAction: Apply}",
			"spec.stagedAction: unknown staged action \"Apply\" (want Set or Delete)"},
		{"kind: StagedNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {selector: \"app ==\"}",
			"spec.selector"},
		{"kind: StagedNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {stagedAction: Delete, selector: all()}",
			"spec: with stagedAction Delete every spec field but tier must be empty"},
		{"kind: StagedGlobalNetworkPolicy\nmetadata: {name: p}\nspec: {ingress: [{action: Jump}]}",
			"spec.ingress[0].action"},
		{"kind: StagedGlobalNetworkPolicy\nmetadata: {name: p}\nspec: {bogus: 1}",
			"spec.bogus: unknown field"},
		{"kind: StagedNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {tier: nope}",
			"spec.tier: tier \"nope\" does not exist"},
		{"kind: StagedKubernetesNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {stagedAction: Delete, policyTypes: [Ingress]}",
			"spec: with stagedAction Delete every spec field must be empty"},
		{"kind: StagedKubernetesNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {policyTypes: [Sideways]}",
			"spec.policyTypes[0]"},
	}
	for _, c := range cases {
		objs, errs := decode.Decode("t.yaml", []byte("apiVersion: projectcalico.org/v3\n"+c.doc))
		_, berrs := decode.Build(objs)
		errs = append(errs, berrs...)
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		if joined := strings.Join(msgs, "\n"); !strings.Contains(joined, c.want) {
			t.Errorf("%s\ngot errors %q, want one containing %q", c.doc, joined, c.want)
		}
	}
}

// TestWithStaged: Set replaces the enforced policy of the same kind and
// name (or adds one), Delete removes it, other kinds of the same name are
// untouched, and the world itself is left as it was.
func TestWithStaged(t *testing.T) {
	const in = `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a, namespace: prod}
spec: {selector: all(), ingress: [{action: Deny}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec: {selector: all()}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k, namespace: prod}
spec: {podSelector: {}}
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: a, namespace: prod}
spec: {selector: all(), ingress: [{action: Allow}]}
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: g}
spec: {stagedAction: Delete}
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: new, namespace: prod}
spec: {selector: all()}
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: knp.default.k, namespace: prod}
spec: {stagedAction: Delete}
`
	objs, errs := decode.Decode("t.yaml", []byte(in))
	w, berrs := decode.Build(objs)
	for _, e := range append(errs, berrs...) {
		t.Fatal(e)
	}
	after := w.WithStaged()
	ids := map[string]policy.Action{}
	for _, p := range after.Policies {
		var first policy.Action
		if len(p.Ingress) > 0 {
			first = p.Ingress[0].Action
		}
		ids[p.Kind.String()+" "+p.ID()] = first
	}
	want := map[string]policy.Action{
		"NetworkPolicy prod/a":                               policy.Allow,
		"NetworkPolicy prod/new":                             0,
		"NetworkPolicy.networking.k8s.io prod/knp.default.k": 0,
	}
	if len(ids) != len(want) || len(after.Staged) != 0 {
		t.Fatalf("got %v (staged %d), want %v", ids, len(after.Staged), want)
	}
	for k, v := range want {
		if a, ok := ids[k]; !ok || a != v {
			t.Errorf("%s: got %v (present %v), want %v", k, a, ok, v)
		}
	}
	if len(w.Policies) != 3 || len(w.Staged) != 4 {
		t.Errorf("WithStaged changed its world: %d policies, %d staged", len(w.Policies), len(w.Staged))
	}
}
