package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/translator/policy"
)

// testK8sClusterPolicy: SIG Network's cluster-scoped policy from kubectl
// apply on a real API server, through the agent's informers, with real
// traffic: the examples (an Admin policy denying what a NetworkPolicy
// allows; a Baseline policy a NetworkPolicy overrides), then a live
// priority change and a v1alpha1 AdminNetworkPolicy, and an object the
// API server's schema accepts but flowgate refuses (an Event; the last
// good version stays in force).
func testK8sClusterPolicy(t *testing.T, n *k8sNode) {
	for _, ex := range []struct {
		dir   string
		files []string
	}{
		{"../examples/cluster-policy/admin-denies-what-networkpolicy-allows", []string{"database-allow-backends.yaml", "deny-dev-to-databases.yaml"}},
		{"../examples/cluster-policy/networkpolicy-overrides-baseline", []string{"database-allow-backends.yaml", "baseline-isolate-prod.yaml"}},
	} {
		t.Run(filepath.Base(ex.dir), func(t *testing.T) { testK8sSeed(t, n, ex.dir, ex.files, []int{8080}) })
	}

	dir := "../examples/cluster-policy/admin-denies-what-networkpolicy-allows"
	pods := seedWorld(t, n, dir, []int{8080})
	defer n.deletePods(t, pods)
	expect := func() []probeCase { return n.expectFromCluster(t, pods, policy.TCP, []int{8080}) }
	converge(t, "pods up, no policy", 20*time.Second, expect)
	db, devBack := findPod(t, pods, "prod/database"), findPod(t, pods, "dev/backend")
	cnp := func(name string, prio int, action, op string) string {
		return fmt.Sprintf(`apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: %s}
spec:
  tier: Admin
  priority: %d
  subject:
    pods:
      namespaceSelector: {}
      podSelector: {matchLabels: {app: database}}
  ingress:
  - name: %s-dev
    action: %s
    from:
    - namespaces:
        matchExpressions: [{key: env, operator: %s, values: [dev]}]
`, name, prio, strings.ToLower(action), action, op)
	}
	n.c.kubectl(t, cnp("deny-dev", 20, "Deny", "In"), "apply", "-f", "-")
	n.c.kubectl(t, cnp("accept-dev", 30, "Accept", "In"), "apply", "-f", "-")
	converge(t, "Admin Deny (priority 20) before Accept (30)", 20*time.Second, func() []probeCase {
		return append(expect(), check(devBack, db, 8080, false, "denied by the Admin tier, priority 20"))
	})
	n.c.kubectl(t, cnp("accept-dev", 10, "Accept", "In"), "apply", "-f", "-")
	converge(t, "Accept moved to priority 10", 20*time.Second, func() []probeCase {
		return append(expect(), check(devBack, db, 8080, true, "accepted by the Admin tier, priority 10"))
	})
	n.c.kubectl(t, "", "delete", "clusternetworkpolicy", "accept-dev")
	n.c.kubectl(t, `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-dev}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: database}}}}
  ingress:
  - name: allow-dev
    action: Allow
    from: [{namespaces: {matchLabels: {env: dev}}}]
`, "apply", "-f", "-")
	converge(t, "v1alpha1 AdminNetworkPolicy (priority 5) allows before the Deny at 20", 20*time.Second, func() []probeCase {
		return append(expect(), check(devBack, db, 8080, true, "allowed by the AdminNetworkPolicy"))
	})
	n.c.kubectl(t, "", "delete", "adminnetworkpolicy", "allow-dev")
	converge(t, "AdminNetworkPolicy deleted", 20*time.Second, func() []probeCase {
		return append(expect(), check(devBack, db, 8080, false, "denied by the Admin tier again"))
	})

	// The CRD's schema does not check label selector operators; flowgate
	// refuses the update, reports it and keeps the last good version.
	n.c.kubectl(t, cnp("deny-dev", 20, "Deny", "Sometimes"), "apply", "-f", "-")
	waitFor(t, "an InvalidPolicy Event on ClusterNetworkPolicy deny-dev", 15*time.Second, func() bool {
		out, _ := n.c.kubectlErr("", "get", "events", "-A", "--field-selector", "involvedObject.name=deny-dev,reason=InvalidPolicy", "-o", "jsonpath={range .items[*]}{.involvedObject.kind} {.message}{'\\n'}{end}")
		return strings.Contains(out, "ClusterNetworkPolicy") && strings.Contains(out, "spec.ingress[0].from[0].namespaces")
	})
	time.Sleep(500 * time.Millisecond)
	if bad := probe([]probeCase{check(devBack, db, 8080, false, "last good version of the invalid ClusterNetworkPolicy still in force")}); len(bad) > 0 {
		t.Fatalf("an invalid update dropped the policy's last good version: %v", bad)
	}
	n.c.kubectl(t, "", "delete", "clusternetworkpolicy", "deny-dev")
	converge(t, "cluster-scoped policies deleted", 20*time.Second, expect)
}
