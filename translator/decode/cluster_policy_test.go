package decode_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

const (
	cnpHeader  = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata:\n  name: c\n"
	anpHeader  = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata:\n  name: a\n"
	banpHeader = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata:\n  name: default\n"
	nsSubject  = "  subject:\n    namespaces: {}\n"
)

// TestClusterPolicyValidation: every schema and CEL rule of the API is
// enforced, each problem naming file:line, the object and the field.
func TestClusterPolicyValidation(t *testing.T) {
	many := func(n int, item string) string { return strings.Repeat(item, n) }
	cases := []struct {
		name, doc, object, field, why string
	}{
		{"tier required", cnpHeader + "spec:\n  priority: 1\n" + nsSubject, "ClusterNetworkPolicy c", "spec.tier", "required"},
		{"unknown tier", cnpHeader + "spec:\n  tier: Platform\n  priority: 1\n" + nsSubject, "ClusterNetworkPolicy c", "spec.tier", "unknown tier"},
		{"priority required", cnpHeader + "spec:\n  tier: Admin\n" + nsSubject, "ClusterNetworkPolicy c", "spec.priority", "required"},
		{"priority range", cnpHeader + "spec:\n  tier: Admin\n  priority: 1001\n" + nsSubject, "ClusterNetworkPolicy c", "spec.priority", "out of range"},
		{"anp priority range", anpHeader + "spec:\n  priority: -1\n" + nsSubject, "AdminNetworkPolicy a", "spec.priority", "out of range"},
		{"subject required", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n  subject: {}\n", "ClusterNetworkPolicy c", "spec.subject", "exactly one"},
		{"subject both", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n  subject:\n    namespaces: {}\n    pods: {namespaceSelector: {}, podSelector: {}}\n", "ClusterNetworkPolicy c", "spec.subject", "exactly one"},
		{"unknown field", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n  order: 3\n" + nsSubject, "ClusterNetworkPolicy c", "spec.order", "unknown field"},
		{"accept in v1alpha1", anpHeader + "spec:\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Accept\n    from: [{namespaces: {}}]\n", "AdminNetworkPolicy a", "spec.ingress[0].action", "want Allow, Deny or Pass"},
		{"allow in v1alpha2", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Allow\n    from: [{namespaces: {}}]\n", "ClusterNetworkPolicy c", "spec.ingress[0].action", "want Accept, Deny or Pass"},
		{"pass in banp", banpHeader + "spec:\n" + nsSubject + "  ingress:\n  - action: Pass\n    from: [{namespaces: {}}]\n", "BaselineAdminNetworkPolicy default", "spec.ingress[0].action", "want Allow or Deny"},
		{"banp name", strings.Replace(banpHeader, "name: default", "name: other", 1) + "spec:\n" + nsSubject, "BaselineAdminNetworkPolicy other", "metadata.name", `must be named "default"`},
		{"banp priority", banpHeader + "spec:\n  priority: 3\n" + nsSubject, "BaselineAdminNetworkPolicy default", "spec.priority", "no priority"},
		{"peers required", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Deny\n", "ClusterNetworkPolicy c", "spec.ingress[0].from", "at least one peer"},
		{"peer exactly one", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  egress:\n  - action: Deny\n    to:\n    - namespaces: {}\n      networks: [10.0.0.0/8]\n", "ClusterNetworkPolicy c", "spec.egress[0].to[0]", "exactly one"},
		{"networks in ingress", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Deny\n    from:\n    - networks: [10.0.0.0/8]\n", "ClusterNetworkPolicy c", "spec.ingress[0].from[0]", "only namespaces or pods"},
		{"cidr host bits", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  egress:\n  - action: Deny\n    to:\n    - networks: [10.0.0.1/8]\n", "ClusterNetworkPolicy c", "spec.egress[0].to[0].networks[0]", "host bits"},
		{"too many networks", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  egress:\n  - action: Deny\n    to:\n    - networks:\n" + many(26, "      - 10.0.0.0/8\n"), "ClusterNetworkPolicy c", "spec.egress[0].to[0].networks", "at most 25"},
		{"too many rules", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  ingress:\n" + many(26, "  - action: Deny\n    from: [{namespaces: {}}]\n"), "ClusterNetworkPolicy c", "spec.ingress", "at most 25"},
		{"named port with networks", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  egress:\n  - action: Accept\n    to:\n    - networks: [10.0.0.0/8]\n    protocols:\n    - destinationNamedPort: web\n", "ClusterNetworkPolicy c", "spec.egress[0].to[0]", "named port"},
		{"v1alpha1 named port with networks", anpHeader + "spec:\n  priority: 1\n" + nsSubject + "  egress:\n  - action: Allow\n    to:\n    - networks: [10.0.0.0/8]\n    ports:\n    - namedPort: web\n", "AdminNetworkPolicy a", "spec.egress[0].to[0]", "named port"},
		{"protocol exactly one", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n    protocols:\n    - tcp: {destinationPort: {number: 80}}\n      udp: {destinationPort: {number: 53}}\n", "ClusterNetworkPolicy c", "spec.ingress[0].protocols[0]", "exactly one"},
		{"port range order", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n    protocols:\n    - tcp: {destinationPort: {range: {start: 90, end: 80}}}\n", "ClusterNetworkPolicy c", "spec.ingress[0].protocols[0].tcp.destinationPort.range", "less than"},
		{"port number range", anpHeader + "spec:\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n    ports:\n    - portNumber: {protocol: TCP, port: 70000}\n", "AdminNetworkPolicy a", "spec.ingress[0].ports[0].portNumber.port", "out of range"},
		{"port number protocol", anpHeader + "spec:\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n    ports:\n    - portNumber: {protocol: ICMP, port: 80}\n", "AdminNetworkPolicy a", "spec.ingress[0].ports[0].portNumber.protocol", "unknown protocol"},
		{"rule name length", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Deny\n    name: " + strings.Repeat("n", 101) + "\n    from: [{namespaces: {}}]\n", "ClusterNetworkPolicy c", "spec.ingress[0].name", "at most 100"},
		{"domain name", cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + "  egress:\n  - action: Deny\n    to:\n    - domainNames: [\"not a domain\"]\n", "ClusterNetworkPolicy c", "spec.egress[0].to[0].domainNames[0]", "not a domain name"},
		{"domain names in banp", banpHeader + "spec:\n" + nsSubject + "  egress:\n  - action: Deny\n    to:\n    - domainNames: [example.com]\n", "BaselineAdminNetworkPolicy default", "spec.egress[0].to[0].domainNames", "not a field"},
		{"namespaced", strings.Replace(cnpHeader, "name: c\n", "name: c\n  namespace: x\n", 1) + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject, "ClusterNetworkPolicy c", "metadata.namespace", "cluster-scoped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := decodeAll(t, "in.yaml", c.doc)
			if len(errs) == 0 {
				t.Fatalf("accepted:\n%s", c.doc)
			}
			found := false
			for _, e := range errs {
				if e.File == "in.yaml" && e.Line == 1 && e.Object == c.object && e.Field == c.field && strings.Contains(e.Err.Error(), c.why) {
					found = true
				}
			}
			if !found {
				t.Errorf("want in.yaml:1: %s: %s: …%s…, got %v", c.object, c.field, c.why, errs)
			}
		})
	}
}

// TestAdminPortProtocolDefaultsToTCP: the v1alpha1 CRDs default
// portNumber.protocol and portRange.protocol to TCP, so a file kubectl
// accepts without them decodes offline too, as TCP.
func TestAdminPortProtocolDefaultsToTCP(t *testing.T) {
	ports := "    ports:\n    - portNumber: {port: 80}\n    - portRange: {start: 8000, end: 8080}\n"
	docs := map[string]string{
		"AdminNetworkPolicy":         anpHeader + "spec:\n  priority: 1\n" + nsSubject + "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n" + ports,
		"BaselineAdminNetworkPolicy": banpHeader + "spec:\n" + nsSubject + "  egress:\n  - action: Deny\n    to: [{namespaces: {}}]\n" + ports,
	}
	for kind, doc := range docs {
		t.Run(kind, func(t *testing.T) {
			objs, errs := decodeAll(t, "in.yaml", doc)
			if len(errs) > 0 || len(objs) != 1 {
				t.Fatalf("errors %v, %d objects", errs, len(objs))
			}
			p := objs[0].Value.(*policy.Policy)
			rules := append(append([]policy.Rule{}, p.Ingress...), p.Egress...)
			if len(rules) != 2 {
				t.Fatalf("%d rules, want 2: %+v", len(rules), rules)
			}
			want := []policy.PortMatch{{Min: 80, Max: 80}, {Min: 8000, Max: 8080}}
			for i, r := range rules {
				if r.Protocol != policy.TCP || len(r.Destination.Ports) != 1 || r.Destination.Ports[0] != want[i] {
					t.Errorf("rule %d = protocol %v ports %+v, want TCP %+v", i, r.Protocol, r.Destination.Ports, want[i])
				}
			}
		})
	}
}

// TestClusterPolicyFailClosedPeers: nodes and domainNames peers cannot be
// matched exactly, so an Accept rule drops them and a Deny or Pass rule
// becomes a Deny of everything.
func TestClusterPolicyFailClosedPeers(t *testing.T) {
	doc := cnpHeader + "spec:\n  tier: Admin\n  priority: 1\n" + nsSubject + `  egress:
  - name: accept-nodes
    action: Accept
    to:
    - nodes: {}
    - networks: [192.0.2.0/24]
  - name: pass-domains
    action: Pass
    to:
    - domainNames: ["*.example.com"]
    protocols:
    - tcp: {destinationPort: {number: 443}}
`
	objs, errs := decodeAll(t, "in.yaml", doc)
	if len(errs) > 0 || len(objs) != 1 {
		t.Fatalf("errors %v, %d objects", errs, len(objs))
	}
	p := objs[0].Value.(*policy.Policy)
	if len(p.Egress) != 2 {
		t.Fatalf("%d egress rules, want 2: %+v", len(p.Egress), p.Egress)
	}
	if r := p.Egress[0]; r.Action != policy.Allow || len(r.Destination.Nets) != 1 || r.Name != "accept-nodes" {
		t.Errorf("rule 0 = %+v, want Allow to the network only", r)
	}
	if r := p.Egress[1]; r.Action != policy.Deny || !r.Destination.IsZero() || r.Protocol != 0 || r.Index != 1 || r.Name != "pass-domains" {
		t.Errorf("rule 1 = %+v, want a Deny of everything", r)
	}
	if p.Tier != policy.AdminTier || p.Order != 1 || p.Name != "kcnp.kube-admin.c" {
		t.Errorf("tier %s order %v name %s", p.Tier, p.Order, p.Name)
	}
}

// TestClusterPolicyWarnings: check warns about fail-closed peers and about
// equal priorities that both apply to one pod, and about nothing else.
func TestClusterPolicyWarnings(t *testing.T) {
	pod := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: db\n  namespace: prod\n  labels: {app: db}\nstatus:\n  podIP: 10.0.0.1\n"
	policyAt := func(name string, prio int, app, peer string) string {
		return fmt.Sprintf("---\n%sspec:\n  tier: Admin\n  priority: %d\n  subject:\n    pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: %s}}}\n  egress:\n  - action: Deny\n    to: [%s]\n",
			strings.Replace(cnpHeader, "name: c", "name: "+name, 1), prio, app, peer)
	}
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"distinct priorities", policyAt("a", 1, "db", "{namespaces: {}}") + policyAt("b", 2, "db", "{namespaces: {}}"), nil},
		{"same priority, disjoint subjects", policyAt("a", 1, "db", "{namespaces: {}}") + policyAt("b", 1, "web", "{namespaces: {}}"), nil},
		{"same priority, shared subject", policyAt("a", 1, "db", "{namespaces: {}}") + policyAt("b", 1, "db", "{namespaces: {}}"),
			[]string{"ClusterNetworkPolicy b: spec.priority: same priority 1 as kcnp.kube-admin.a"}},
		{"domain names", policyAt("a", 1, "db", "{domainNames: [example.com]}"),
			[]string{"ClusterNetworkPolicy a: spec.egress[0].to[0]: flowgate cannot match this peer exactly"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, errs := decode.Decode("in.yaml", []byte(pod+c.doc))
			w, berrs := decode.Build(objs)
			if len(errs)+len(berrs) > 0 {
				t.Fatal(errs, berrs)
			}
			var got []error
			for _, o := range objs {
				got = append(got, o.Warnings...)
			}
			got = append(got, decode.WorldWarnings(objs, w)...)
			if len(got) != len(c.want) {
				t.Fatalf("warnings %v, want %d", got, len(c.want))
			}
			for i, g := range got {
				if !strings.Contains(g.Error(), c.want[i]) {
					t.Errorf("warning %q, want …%s…", g, c.want[i])
				}
			}
		})
	}
}
