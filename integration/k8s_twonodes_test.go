package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestK8sTwoNodesClusterPolicy is SIG Network's cluster-scoped policy
// across nodes, end to end: one real kube-apiserver, two nodes — each a
// private ovs-vswitchd in its own network namespace with its own br-int
// and its own `flowgate agent --node-name` — joined by an uplink (a veth
// pair between the two bridges, as a NIC on one L2 segment would), the
// example world's pods spread over both. Cross-node traffic must obey
// Admin → NetworkPolicy → Baseline for egress on the sending node and for
// ingress on the receiving one (a node only enforces its own pods' side:
// traffic arriving on the uplink skips egress policy); a live priority
// change and a pod relabelled must reach both agents.
func TestK8sTwoNodesClusterPolicy(t *testing.T) {
	sandboxtest.Require(t)
	c := startK8s(t)
	c.install(t)
	a := newK8sNode(t, c, "flowgate-node-a")
	b := newK8sNode(t, c, "flowgate-node-b")
	joinNodes(t, a, b)
	a.startAgent(t)
	b.startAgent(t)

	dir := "../examples/cluster-policy/admin-denies-what-networkpolicy-allows"
	nss, pods := readWorld(t, readFileString(t, dir+"/world.yaml"))
	onA := map[string]bool{"prod/database": true, "prod/frontend": true, "dev/frontend": true}
	var podsA, podsB []document
	for _, p := range pods {
		md := p["metadata"].(map[string]any)
		if onA[md["namespace"].(string)+"/"+md["name"].(string)] {
			podsA = append(podsA, p)
		} else {
			podsB = append(podsB, p)
		}
	}
	all := append(a.runPods(t, nss, podsA, []int{8080}, false), b.runPods(t, nss, podsB, []int{8080}, false)...)
	defer func() {
		var pa, pb []*k8sPod
		for _, p := range all {
			if onA[p.ID()] {
				pa = append(pa, p)
			} else {
				pb = append(pb, p)
			}
		}
		a.deletePods(t, pa)
		b.deletePods(t, pb)
	}()
	pod := func(id string) *k8sPod { return findPod(t, all, id) }
	expect := func(extra ...probeCase) func() []probeCase {
		return func() []probeCase { return append(a.expectFromCluster(t, all, policy.TCP, []int{8080}), extra...) }
	}
	converge(t, "pods up on both nodes, no policy", 30*time.Second, expect())

	// Ingress is the receiving node's: the Admin Deny and the
	// NetworkPolicy decide for the database on node A, whoever sends; the
	// Baseline isolation of prod from dev is overridden by the
	// NetworkPolicy for the database only. Egress is the sending node's:
	// staging may not open connections to prod (Admin, enforced by B for
	// staging/backend), prod may not open connections to dev (Baseline),
	// except prod/backend, which an egress NetworkPolicy selects (B).
	for _, f := range []string{dir + "/database-allow-backends.yaml", dir + "/deny-dev-to-databases.yaml", "../examples/cluster-policy/networkpolicy-overrides-baseline/baseline-isolate-prod.yaml"} {
		c.kubectl(t, "", "apply", "-f", f)
	}
	c.kubectl(t, `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: staging-not-to-prod}
spec:
  tier: Admin
  priority: 50
  subject: {namespaces: {matchLabels: {env: staging}}}
  egress:
  - name: deny-to-prod
    action: Deny
    to: [{namespaces: {matchLabels: {env: prod}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: prod-not-to-dev}
spec:
  tier: Baseline
  priority: 20
  subject: {namespaces: {matchLabels: {env: prod}}}
  egress:
  - name: deny-to-dev
    action: Deny
    to: [{namespaces: {matchLabels: {env: dev}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: backend-egress-anywhere, namespace: prod}
spec:
  podSelector: {matchLabels: {app: backend}}
  policyTypes: [Egress]
  egress: [{}]
`, "apply", "-f", "-")
	db := pod("prod/database")
	tiers := []probeCase{
		check(pod("dev/backend"), db, 8080, false, "B→A: Admin ingress Deny on the receiving node before the NetworkPolicy's allow"),
		check(pod("prod/backend"), db, 8080, true, "B→A: NetworkPolicy ingress allow on the receiving node"),
		check(pod("dev/frontend"), pod("prod/frontend"), 8080, false, "A→A: Baseline ingress Deny, no NetworkPolicy selects prod/frontend"),
		check(pod("dev/backend"), pod("prod/frontend"), 8080, false, "B→A: Baseline ingress Deny on the receiving node"),
		check(pod("staging/backend"), db, 8080, false, "B→A: Admin egress Deny on the sending node"),
		check(pod("staging/backend"), pod("prod/frontend"), 8080, false, "B→A: Admin egress Deny on the sending node"),
		check(pod("prod/frontend"), pod("dev/backend"), 8080, false, "A→B: Baseline egress Deny on the sending node"),
		check(pod("prod/backend"), pod("dev/frontend"), 8080, true, "B→A: egress NetworkPolicy overrides the Baseline on the sending node"),
		check(pod("dev/frontend"), pod("staging/backend"), 8080, true, "A→B: no policy selects either end"),
	}
	converge(t, "Admin, NetworkPolicy and Baseline on both nodes", 30*time.Second, expect(tiers...))

	// A live priority change: staging's access to dev pods on both nodes
	// flips when the Accept moves ahead of the Deny (ingress, enforced by
	// node A for dev/frontend and by node B for dev/backend).
	staging := func(name string, prio int, action string) string {
		return fmt.Sprintf(`apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: %s}
spec:
  tier: Admin
  priority: %d
  subject: {namespaces: {matchLabels: {env: dev}}}
  ingress:
  - name: %s
    action: %s
    from: [{namespaces: {matchLabels: {env: staging}}}]
`, name, prio, name, action)
	}
	c.kubectl(t, staging("deny-staging", 20, "Deny")+"---\n"+staging("accept-staging", 30, "Accept"), "apply", "-f", "-")
	converge(t, "Deny (20) before Accept (30) on both nodes", 30*time.Second, expect(
		check(pod("staging/backend"), pod("dev/frontend"), 8080, false, "B→A: Admin Deny at priority 20"),
		check(pod("staging/backend"), pod("dev/backend"), 8080, false, "B→B: Admin Deny at priority 20"),
	))
	c.kubectl(t, staging("accept-staging", 10, "Accept"), "apply", "-f", "-")
	converge(t, "Accept moved to priority 10, on both nodes", 30*time.Second, expect(
		check(pod("staging/backend"), pod("dev/frontend"), 8080, true, "B→A: Admin Accept now at priority 10"),
		check(pod("staging/backend"), pod("dev/backend"), 8080, true, "B→B: Admin Accept now at priority 10"),
	))

	// A relabel on node B changes what both nodes enforce: node A's
	// NetworkPolicy for the database no longer admits prod/backend, and
	// node B's egress NetworkPolicy no longer selects it, so the Baseline
	// denies its connections to dev.
	c.kubectl(t, "", "label", "pod", "-n", "prod", "backend", "app=retired", "--overwrite")
	converge(t, "prod/backend relabelled on node B", 30*time.Second, expect(
		check(pod("prod/backend"), db, 8080, false, "B→A: no longer a backend for the receiving node's NetworkPolicy"),
		check(pod("prod/backend"), pod("dev/frontend"), 8080, false, "B→A: Baseline egress Deny on the sending node once the NetworkPolicy no longer selects it"),
	))
	c.kubectl(t, "", "label", "pod", "-n", "prod", "backend", "app=backend", "--overwrite")
	converge(t, "prod/backend a backend again", 30*time.Second, expect(tiers...))

	c.kubectl(t, "", "delete", "clusternetworkpolicies", "--all")
	c.kubectl(t, "", "delete", "networkpolicies.networking.k8s.io", "--all", "-n", "prod")
	converge(t, "everything deleted: open again on both nodes", 30*time.Second, expect(
		check(pod("dev/backend"), db, 8080, true, "no policy"),
		check(pod("prod/frontend"), pod("dev/backend"), 8080, true, "no policy"),
	))
}

// joinNodes connects two nodes' br-int with a veth pair between their
// OVS network namespaces, one end a port of each bridge: the uplink that
// carries pod traffic between the nodes (a port no endpoint is bound to).
func joinNodes(t *testing.T, a, b *k8sNode) {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "-n", a.ovs.NetNS, "link", "add", "uplink-a", "type", "veth", "peer", "name", "uplink-b", "netns", b.ovs.NetNS)
	for _, end := range []struct {
		n     *k8sNode
		iface string
	}{{a, "uplink-a"}, {b, "uplink-b"}} {
		// The userspace datapath's conntrack needs full checksums.
		run("ip", "netns", "exec", end.n.ovs.NetNS, "ethtool", "-K", end.iface, "tx", "off")
		run("ip", "-n", end.n.ovs.NetNS, "link", "set", end.iface, "up")
		if out, err := end.n.ovs.Vsctl("add-port", "br-int", end.iface); err != nil {
			t.Fatalf("add %s to br-int: %v\n%s", end.iface, err, out)
		}
	}
}
