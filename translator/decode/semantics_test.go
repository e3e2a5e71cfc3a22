package decode_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// decodePolicies decodes one YAML file that must be valid and returns its
// policies by ID.
func decodePolicies(t *testing.T, yaml string) map[string]*policy.Policy {
	t.Helper()
	objs, errs := decode.Decode("test.yaml", []byte(yaml))
	w, berrs := decode.Build(objs)
	for _, e := range append(errs, berrs...) {
		t.Fatal(e)
	}
	out := map[string]*policy.Policy{}
	for _, p := range w.Policies {
		out[p.ID()] = p
	}
	return out
}

// TestCalicoTypesDefaulting is the table of "Get started with Calico network
// policy": with no types field, "Ingress rule present? / Egress rule
// present? / Value": No No Ingress; Yes No Ingress; No Yes Egress; Yes Yes
// Ingress, Egress. Given types are kept as written.
func TestCalicoTypesDefaulting(t *testing.T) {
	const ingress, egress = "  ingress:\n  - action: Allow\n", "  egress:\n  - action: Allow\n"
	cases := []struct {
		spec string
		want policy.Direction
	}{
		{"", policy.Ingress},
		{ingress, policy.Ingress},
		{egress, policy.Egress},
		{ingress + egress, policy.Ingress | policy.Egress},
		{"  types: [Egress]\n", policy.Egress},
		{"  types: [Ingress, Egress]\n" + ingress, policy.Ingress | policy.Egress},
		{"  types: [Egress, Ingress]\n", policy.Ingress | policy.Egress},
	}
	for _, c := range cases {
		for _, kind := range []string{"NetworkPolicy", "GlobalNetworkPolicy"} {
			ns, id := "  namespace: prod\n", "prod/p"
			if kind == "GlobalNetworkPolicy" {
				ns, id = "", "p"
			}
			yaml := fmt.Sprintf("apiVersion: projectcalico.org/v3\nkind: %s\nmetadata:\n  name: p\n%sspec:\n  selector: all()\n%s", kind, ns, c.spec)
			if got := decodePolicies(t, yaml)[id].Types; got != c.want {
				t.Errorf("%s with spec\n%s: types %v, want %v", kind, c.spec, got, c.want)
			}
		}
	}
}

// TestKubernetesPolicyTypesDefaulting: Kubernetes always includes Ingress
// when policyTypes is absent, and Egress when there are egress rules.
func TestKubernetesPolicyTypesDefaulting(t *testing.T) {
	const ingress, egress = "  ingress:\n  - {}\n", "  egress:\n  - {}\n"
	cases := []struct {
		spec string
		want policy.Direction
	}{
		{"", policy.Ingress},
		{ingress, policy.Ingress},
		{egress, policy.Ingress | policy.Egress},
		{ingress + egress, policy.Ingress | policy.Egress},
		{"  policyTypes: [Egress]\n" + ingress, policy.Egress},
		{"  policyTypes: [Ingress, Egress]\n", policy.Ingress | policy.Egress},
	}
	for _, c := range cases {
		yaml := k8sHeader + "spec:\n  podSelector: {}\n" + c.spec
		p := decodePolicies(t, yaml)["prod/knp.default.k"]
		if p.Types != c.want {
			t.Errorf("spec\n%s: types %v, want %v", c.spec, p.Types, c.want)
		}
		if p.Order != policy.KubernetesOrder || p.Tier != policy.DefaultTier || p.Kind != policy.KubernetesNetworkPolicy {
			t.Errorf("Kubernetes policy: order %v tier %q kind %v, want 1000 in the default tier", p.Order, p.Tier, p.Kind)
		}
	}
}

// TestSelectorScoping checks the effective selectors the decoder computes,
// which must be Calico's: a namespaced policy confines its own selector and
// its rules' selectors to its namespace unless a rule gives a
// namespaceSelector; all() in a namespaceSelector means every namespaced
// entity, global() only non-namespaced ones; service accounts are matched
// by name and by their labels (pcsa.); a notSelector is never scoped;
// Kubernetes selectors select pods only.
func TestSelectorScoping(t *testing.T) {
	ps := decodePolicies(t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: prod}
spec:
  selector: app == 'db'
  serviceAccountSelector: role == 'x'
  ingress:
  - action: Allow
    source: {selector: "app == 'web'"}
  - action: Allow
    source: {selector: "app == 'web'", namespaceSelector: "team == 'a'"}
  - action: Allow
    source: {namespaceSelector: "all()"}
  - action: Allow
    source: {namespaceSelector: "global()", selector: "role == 'x'"}
  - action: Allow
    source: {notSelector: "app == 'web'"}
  - action: Allow
    source: {serviceAccounts: {names: [b, a], selector: "team == 'x'"}}
  - action: Allow
    source: {nets: [10.0.0.0/8]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: g}
spec:
  selector: app == 'db'
  namespaceSelector: env == 'dev'
  ingress:
  - action: Allow
    source: {selector: "app == 'web'"}
  - action: Allow
    source: {namespaceSelector: "team == 'a'"}
  - action: Allow
    source: {serviceAccounts: {names: [a]}}
  - action: Allow
    source: {notSelector: "app == 'web'"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - namespaceSelector: {}
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [x, w]}]}
    - ipBlock: {cidr: 10.0.0.0/8}
`)
	cases := []struct {
		policy, applies string
		rules           []string // "selector | notSelector" per ingress rule, "-" for none
	}{
		{"prod/p", `projectcalico.org/namespace == "prod" && app == "db" && pcsa.role == "x"`, []string{
			`projectcalico.org/namespace == "prod" && app == "web" | -`,
			`pcns.team == "a" && app == "web" | -`,
			`has(projectcalico.org/namespace) | -`,
			`global() && role == "x" | -`,
			`projectcalico.org/namespace == "prod" | app == "web"`,
			`projectcalico.org/namespace == "prod" && pcsa.team == "x" && projectcalico.org/serviceaccount in {"a", "b"} | -`,
			`- | -`,
		}},
		{"g", `app == "db" && pcns.env == "dev"`, []string{
			`app == "web" | -`,
			`pcns.team == "a" | -`,
			`projectcalico.org/serviceaccount in {"a"} | -`,
			`- | app == "web"`,
		}},
		{"prod/knp.default.k", `projectcalico.org/namespace == "prod" && projectcalico.org/orchestrator == "k8s" && app == "db"`, []string{
			`projectcalico.org/namespace == "prod" && projectcalico.org/orchestrator == "k8s" && app == "web" | -`,
			`projectcalico.org/orchestrator == "k8s" && has(projectcalico.org/namespace) | -`,
			`projectcalico.org/orchestrator == "k8s" && app not in {"w", "x"} && pcns.team == "a" | -`,
			`- | -`,
		}},
	}
	for _, c := range cases {
		p := ps[c.policy]
		if p == nil {
			t.Fatalf("no policy %s", c.policy)
		}
		if got := p.AppliesTo.String(); got != c.applies {
			t.Errorf("%s applies to\n  %s\nwant\n  %s", c.policy, got, c.applies)
		}
		var got []string
		for _, r := range p.Ingress {
			sel, not := "-", "-"
			if r.Source.Selector != nil {
				sel = r.Source.Selector.String()
			}
			if r.Source.NotSelector != nil {
				not = r.Source.NotSelector.String()
			}
			got = append(got, sel+" | "+not)
		}
		if strings.Join(got, "\n") != strings.Join(c.rules, "\n") {
			t.Errorf("%s ingress sources:\n  %s\nwant\n  %s", c.policy, strings.Join(got, "\n  "), strings.Join(c.rules, "\n  "))
		}
	}
}
