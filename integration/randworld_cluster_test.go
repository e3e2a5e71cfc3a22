package integration

import (
	"fmt"
	"strings"
)

// Random cluster-scoped policies (policy.networking.k8s.io): v1alpha2
// ClusterNetworkPolicies of both tiers and v1alpha1 AdminNetworkPolicies
// and the BaselineAdminNetworkPolicy, with few distinct priorities so
// that equal priorities (ordered by name) occur, mixed with the Calico
// and Kubernetes policies of the same world.

var (
	rwClusterSubjects = []string{
		"{namespaces: {}}",
		"{namespaces: {matchLabels: {env: prod}}}",
		"{namespaces: {matchExpressions: [{key: team, operator: In, values: [red]}]}}",
		"{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}",
		"{pods: {namespaceSelector: {matchLabels: {env: dev}}, podSelector: {matchExpressions: [{key: tier, operator: Exists}]}}}",
	}
	rwClusterPeers = []string{
		"{namespaces: {}}",
		"{namespaces: {matchLabels: {team: red}}}",
		"{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}",
		"{pods: {namespaceSelector: {matchLabels: {env: prod}}, podSelector: {}}}",
	}
	rwClusterNetworks = []string{`{networks: ["10.0.0.0/16"]}`, `{networks: ["10.0.1.0/24", "fd00::/64"]}`, `{networks: ["0.0.0.0/0"]}`}
	// Protocols entries in v1alpha2 and v1alpha1 form; the named ones last.
	rwClusterProtocols = [][2]string{
		{"{tcp: {destinationPort: {number: 80}}}", "{portNumber: {protocol: TCP, port: 80}}"},
		{"{udp: {destinationPort: {number: 53}}}", "{portNumber: {protocol: UDP, port: 53}}"},
		{"{tcp: {destinationPort: {range: {start: 81, end: 90}}}}", "{portRange: {start: 81, end: 90}}"},
		{"{sctp: {destinationPort: {number: 81}}}", "{portNumber: {protocol: SCTP, port: 81}}"},
		{"{destinationNamedPort: http}", "{namedPort: http}"},
		{"{destinationNamedPort: dns}", "{namedPort: dns}"},
	}
)

func (g *randWorld) clusterPolicies() {
	for i, n := 0, g.r.Intn(4); i < n; i++ {
		g.clusterPolicy(i)
	}
}

func (g *randWorld) clusterPolicy(i int) {
	v1alpha1 := g.chance(0.4)
	baseline := g.chance(0.35)
	if v1alpha1 && baseline && g.baseline {
		baseline = false
	}
	actions := []string{"Accept", "Deny", "Pass"}
	var head string
	switch {
	case !v1alpha1:
		tier := "Admin"
		if baseline {
			tier = "Baseline"
		}
		head = fmt.Sprintf("apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: cnp%d}\nspec:\n  tier: %s\n  priority: %d\n", i, tier, g.r.Intn(3))
	case baseline:
		g.baseline = true
		actions = []string{"Allow", "Deny"}
		head = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n"
	default:
		actions = []string{"Allow", "Deny", "Pass"}
		head = fmt.Sprintf("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: anp%d}\nspec:\n  priority: %d\n", i, g.r.Intn(3))
	}
	var b strings.Builder
	b.WriteString(head)
	fmt.Fprintf(&b, "  subject: %s\n", g.pick(rwClusterSubjects))
	for _, dir := range []string{"ingress", "egress"} {
		if !g.chance(0.65) {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n", dir)
		for r, nr := 0, 1+g.r.Intn(3); r < nr; r++ {
			g.clusterRule(&b, dir, r, actions, v1alpha1)
		}
	}
	g.doc("%s", strings.TrimSuffix(b.String(), "\n"))
}

func (g *randWorld) clusterRule(b *strings.Builder, dir string, r int, actions []string, v1alpha1 bool) {
	var peers []string
	networks := false
	for p, np := 0, 1+g.r.Intn(2); p < np; p++ {
		if dir == "egress" && g.chance(0.3) {
			peers = append(peers, g.pick(rwClusterNetworks))
			networks = true
			continue
		}
		peers = append(peers, g.pick(rwClusterPeers))
	}
	peersKey := "from"
	if dir == "egress" {
		peersKey = "to"
	}
	fmt.Fprintf(b, "  - name: %s-%d\n    action: %s\n    %s: [%s]\n", dir, r, g.pick(actions), peersKey, strings.Join(peers, ", "))
	if !g.chance(0.5) {
		return
	}
	choices := rwClusterProtocols
	if networks {
		choices = choices[:4] // no named ports with networks peers
	}
	var ports []string
	for p, np := 0, 1+g.r.Intn(2); p < np; p++ {
		c := choices[g.r.Intn(len(choices))]
		if v1alpha1 {
			ports = append(ports, c[1])
		} else {
			ports = append(ports, c[0])
		}
	}
	key := "protocols"
	if v1alpha1 {
		key = "ports"
	}
	fmt.Fprintf(b, "    %s: [%s]\n", key, strings.Join(ports, ", "))
}
