package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

const k8sNodeName = "flowgate-node-1"

// TestK8s is the Kubernetes path end to end, on a real etcd +
// kube-apiserver (integration/k8s.sh), a private Open vSwitch, pods plumbed
// by flowgate-cni into real network namespaces, and the flowgate agent
// watching the cluster with the RBAC of deploy/kubernetes. Policy is
// applied with kubectl; every verdict is real TCP/UDP traffic, compared
// with the reference evaluator run on the cluster's own state (and, for
// the e2e grid, with the scenarios' expected tables). The subtests share
// one API server and one node and run in order.
func TestK8s(t *testing.T) {
	sandboxtest.Require(t)
	c := startK8s(t)
	t.Run("Manifests", func(t *testing.T) { testK8sManifests(t, c) })
	t.Run("SeedsApplyUnchanged", func(t *testing.T) { testK8sSeedsApply(t, c) })
	t.Run("CNIInstall", func(t *testing.T) { testK8sCNIInstall(t, c) })
	if t.Failed() {
		return
	}
	c.ensureInstalled(t)
	n := newK8sNode(t, c, k8sNodeName)
	n.startAgent(t)
	t.Run("DatabaseAllowBackends", func(t *testing.T) { testK8sDatabase(t, n) })
	t.Run("StagedNeverEnforced", func(t *testing.T) { testK8sStaged(t, n) })
	t.Run("NamespaceIsolation", func(t *testing.T) { testK8sNamespaceIsolation(t, n) })
	t.Run("CalicoNamespaceSelector", func(t *testing.T) {
		testK8sSeed(t, n, "../examples/seeds/calico-namespace-rules/namespace-selector", []string{"allow-tcp-6379.yaml"}, []int{6379})
	})
	t.Run("CalicoGlobalPolicyOrder", func(t *testing.T) {
		testK8sSeed(t, n, "../examples/seeds/calico-getting-started/policy-order", []string{"policy-order.yaml"}, []int{80})
	})
	t.Run("ClusterPolicy", func(t *testing.T) { testK8sClusterPolicy(t, n) })
	t.Run("E2EGrid", func(t *testing.T) { testK8sGrid(t, n) })
	t.Run("HoldUnrealizedPods", func(t *testing.T) { testK8sHold(t, n) })
	t.Run("APIServerRestart", func(t *testing.T) { testK8sRestart(t, n) })
}

// testK8sManifests: the kustomize layout is accepted by the real API
// server (dry run, then for real), the CRDs become Established, and the
// agent's ClusterRole grants exactly what the agent needs.
func testK8sManifests(t *testing.T, c *k8sCluster) {
	c.kubectl(t, "", "apply", "-f", "../deploy/kubernetes/namespace.yaml")
	out := c.kubectl(t, "", "apply", "--dry-run=server", "-k", "../deploy/kubernetes")
	for _, want := range []string{"customresourcedefinition.apiextensions.k8s.io/globalnetworkpolicies.projectcalico.org", "daemonset.apps/flowgate-agent", "clusterrole.rbac.authorization.k8s.io/flowgate-agent"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run did not accept %s:\n%s", want, out)
		}
	}
	c.install(t)
	if got := c.kubectl(t, "", "get", "ds", "-n", "flowgate-system", "flowgate-agent", "-o", "jsonpath={.spec.template.spec.containers[0].livenessProbe.httpGet.path} {.spec.template.spec.containers[0].readinessProbe.httpGet.path} {.spec.template.spec.hostNetwork}"); got != "/healthz /readyz true" {
		t.Errorf("DaemonSet probes/hostNetwork: %q", got)
	}
	// Metrics are scraped from off the node on their own port; the probes
	// (and /objects, on the same address) stay on loopback.
	if got := c.kubectl(t, "", "get", "ds", "-n", "flowgate-system", "flowgate-agent", "-o", "jsonpath={.spec.template.spec.containers[0].ports[?(@.name==\"metrics\")].containerPort} {.spec.template.spec.containers[0].livenessProbe.httpGet.host} {.spec.template.spec.containers[0].livenessProbe.httpGet.port}"); got != "9809 127.0.0.1 9808" {
		t.Errorf("DaemonSet metrics port / probe address: %q", got)
	}
	for _, q := range []struct {
		verb, resource string
		want           string
	}{
		{"watch", "pods", "yes"}, {"list", "namespaces", "yes"}, {"list", "serviceaccounts", "yes"}, {"watch", "nodes", "yes"},
		{"watch", "networkpolicies.networking.k8s.io", "yes"},
		{"watch", "globalnetworkpolicies.projectcalico.org", "yes"}, {"list", "tiers.projectcalico.org", "yes"},
		{"watch", "hostendpoints.projectcalico.org", "yes"}, {"watch", "networksets.projectcalico.org", "yes"},
		{"watch", "stagednetworkpolicies.projectcalico.org", "yes"}, {"list", "stagedglobalnetworkpolicies.projectcalico.org", "yes"},
		{"watch", "stagedkubernetesnetworkpolicies.projectcalico.org", "yes"}, {"update", "stagednetworkpolicies.projectcalico.org", "no"},
		{"watch", "clusternetworkpolicies.policy.networking.k8s.io", "yes"}, {"list", "adminnetworkpolicies.policy.networking.k8s.io", "yes"},
		{"watch", "baselineadminnetworkpolicies.policy.networking.k8s.io", "yes"}, {"update", "clusternetworkpolicies.policy.networking.k8s.io", "no"},
		{"create", "events", "yes"}, {"patch", "events", "yes"},
		{"create", "pods", "no"}, {"update", "networkpolicies.projectcalico.org", "no"}, {"get", "secrets", "no"},
		{"delete", "globalnetworkpolicies.projectcalico.org", "no"}, {"patch", "pods", "no"},
	} {
		got, _ := c.kubectlErr("", "auth", "can-i", q.verb, q.resource, "-A", "--as", "flowgate-agent")
		if strings.TrimSpace(got) != q.want {
			t.Errorf("flowgate-agent can-i %s %s: %q, want %s", q.verb, q.resource, strings.TrimSpace(got), q.want)
		}
	}
}

// seedFiles are every YAML file of the examples.
func seedFiles(t *testing.T) []string {
	var out []string
	filepath.WalkDir("../examples/seeds", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatal("no seed files")
	}
	return out
}

// testK8sSeedsApply: every example of the seeds — Calico CRD kinds,
// NetworkPolicies, namespaces, pods — is accepted unchanged by the API
// server with the CRDs installed; obviously bad Calico objects are refused
// by the API server itself, naming the field.
func testK8sSeedsApply(t *testing.T, c *k8sCluster) {
	files := seedFiles(t)
	nss := map[string]bool{}
	for _, f := range files {
		for _, d := range splitYAML(t, readFileString(t, f)) {
			if md, ok := d["metadata"].(map[string]any); ok {
				if ns, ok := md["namespace"].(string); ok {
					nss[ns] = true
				}
			}
		}
	}
	for ns := range nss {
		if _, err := c.kubectlErr("", "create", "namespace", ns); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
			t.Fatal(err)
		}
	}
	calico := 0
	for _, f := range files {
		text := readFileString(t, f)
		out, err := c.kubectlErr("", "apply", "--dry-run=server", "-f", f)
		if err != nil {
			t.Errorf("%s refused: %v", f, err)
			continue
		}
		if strings.Contains(text, "projectcalico.org/v3") {
			calico++
			if !strings.Contains(out, ".projectcalico.org/") {
				t.Errorf("%s: no Calico object in the output:\n%s", f, out)
			}
		}
	}
	if calico < 10 {
		t.Errorf("only %d files with Calico objects applied", calico)
	}
	for _, bad := range []struct{ yaml, field string }{
		{"spec: {ingress: [{action: Explode}]}", "spec.ingress[0].action"},
		{"spec: {ingress: [{action: Allow, protocol: TCPX}]}", "spec.ingress[0].protocol"},
		{"spec: {ingress: [{action: Allow, protocol: 256}]}", "spec.ingress[0].protocol"},
		{"spec: {ingress: [{action: Allow, protocol: TCP, destination: {ports: [70000]}}]}", "spec.ingress[0].destination.ports[0]"},
		{"spec: {ingress: [{action: Allow, protocol: TCP, destination: {ports: [0]}}]}", "spec.ingress[0].destination.ports[0]"},
		{"spec: {egress: [{action: Allow, destination: {nets: [not-a-cidr]}}]}", "spec.egress[0].destination.nets[0]"},
		{"spec: {types: [Sideways]}", "spec.types[0]"},
		{"spec: {ingress: [{action: Allow, ipVersion: 5}]}", "spec.ingress[0].ipVersion"},
		{"spec: {ingres: [{action: Allow}]}", "spec.ingres"},
		{"spec: {ingress: [{protocol: TCP}]}", "spec.ingress[0].action"},
	} {
		doc := "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: bad}\n" + bad.yaml + "\n"
		_, err := c.kubectlErr(doc, "apply", "--dry-run=server", "-f", "-")
		if err == nil || !strings.Contains(err.Error(), bad.field) {
			t.Errorf("%s: want refused naming %s, got %v", bad.yaml, bad.field, err)
		}
	}
	// The staged example is accepted as written; a staged action Calico
	// does not define is refused by the CRD's schema.
	if _, err := c.kubectlErr("", "apply", "--dry-run=server", "-f", "../examples/staged/"); err != nil {
		t.Errorf("examples/staged refused: %v", err)
	}
	doc := "apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: bad}\nspec: {stagedAction: Apply}\n"
	if _, err := c.kubectlErr(doc, "apply", "--dry-run=server", "-f", "-"); err == nil || !strings.Contains(err.Error(), "spec.stagedAction") {
		t.Errorf("stagedAction Apply: want refused naming spec.stagedAction, got %v", err)
	}
}

// testK8sCNIInstall: the DaemonSet's init step installs the plugin and
// writes a conflist for the node's pod CIDRs, read from the API server with
// the agent's credentials; the example conflist in deploy/cni is valid.
func testK8sCNIInstall(t *testing.T, c *k8sCluster) {
	c.kubectl(t, `apiVersion: v1
kind: Node
metadata:
  name: `+k8sNodeName+`
  labels: {kubernetes.io/hostname: `+k8sNodeName+`}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24, "fd00:10:244:1::/64"]
`, "apply", "-f", "-")
	dir, err := cniBinDir()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	token := filepath.Join(tmp, "token")
	os.WriteFile(token, []byte(c.agentToken(t)), 0o600)
	cmd := exec.Command(filepath.Join(dir, "flowgate-cni"), "install",
		"--server", c.server(t), "--token-file", token, "--ca-file", filepath.Join(c.Dir, "pki", "ca.crt"),
		"--node", k8sNodeName, "--template", "../deploy/kubernetes/cni.conflist",
		"--bin-dir", filepath.Join(tmp, "bin"), "--conf-dir", filepath.Join(tmp, "net.d"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flowgate-cni install: %v\n%s", err, out)
	}
	for _, b := range []string{"flowgate-cni", "host-local"} {
		if st, err := os.Stat(filepath.Join(tmp, "bin", b)); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s not installed: %v", b, err)
		}
	}
	for _, f := range []string{filepath.Join(tmp, "net.d", "10-flowgate.conflist"), "../deploy/cni/10-flowgate.conflist"} {
		list, err := libcni.ConfListFromFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(list.Plugins) != 1 || list.Plugins[0].Network.Type != "flowgate-cni" || list.Plugins[0].Network.IPAM.Type != "host-local" {
			t.Fatalf("%s: unexpected plugins %+v", f, list.Plugins)
		}
		var conf struct {
			IPAM struct {
				Ranges [][]struct{ Subnet string } `json:"ranges"`
			} `json:"ipam"`
		}
		json.Unmarshal(list.Plugins[0].Bytes, &conf)
		var subnets []string
		for _, r := range conf.IPAM.Ranges {
			for _, s := range r {
				subnets = append(subnets, s.Subnet)
			}
		}
		if !slices.Equal(subnets, []string{"10.244.1.0/24", "fd00:10:244:1::/64"}) {
			t.Errorf("%s: ranges %v, want the node's pod CIDRs", f, subnets)
		}
	}
}

// seedWorld starts the pods of an example world on the node.
func seedWorld(t *testing.T, n *k8sNode, dir string, ports []int) []*k8sPod {
	t.Helper()
	nss, pods := readWorld(t, readFileString(t, filepath.Join(dir, "world.yaml")))
	return n.runPods(t, nss, pods, ports, false)
}

func findPod(t *testing.T, pods []*k8sPod, id string) *k8sPod {
	t.Helper()
	for _, p := range pods {
		if p.ID() == id {
			return p
		}
	}
	t.Fatalf("no pod %s", id)
	return nil
}

// check is a probe case that states what a seed page says must happen.
func check(from, to *k8sPod, port int, want bool, why string) probeCase {
	return probeCase{from: from, to: to, proto: policy.TCP, port: port, want: want, why: why}
}

// testK8sSeed: an example world's pods on the node, its policy files
// applied with kubectl, real traffic equal to the evaluator's verdicts on
// the cluster's state; then the policies are deleted and everything is
// open again.
func testK8sSeed(t *testing.T, n *k8sNode, dir string, policies []string, ports []int) {
	pods := seedWorld(t, n, dir, ports)
	defer n.deletePods(t, pods)
	expect := func() []probeCase { return n.expectFromCluster(t, pods, policy.TCP, ports) }
	converge(t, "pods up, no policy", 20*time.Second, expect)
	for _, f := range policies {
		n.c.kubectl(t, "", "apply", "-f", filepath.Join(dir, f))
	}
	converge(t, "kubectl apply "+strings.Join(policies, ", "), 20*time.Second, expect)
	for _, f := range policies {
		n.c.kubectl(t, "", "delete", "-f", filepath.Join(dir, f))
	}
	converge(t, "policies deleted", 20*time.Second, expect)
}

// testK8sDatabase: the seed page's database-allow-backends, then live
// changes — a pod relabelled, a namespace relabelled, a pod added that the
// policy selects (never reachable, not even for a moment), an invalid
// update (reported as an Event, last good version kept), the policy
// deleted — each followed by real traffic.
func testK8sDatabase(t *testing.T, n *k8sNode) {
	dir := backendSeed
	pods := seedWorld(t, n, dir, []int{8080})
	defer func() { n.deletePods(t, pods) }()
	expect := func() []probeCase { return n.expectFromCluster(t, pods, policy.TCP, []int{8080}) }
	converge(t, "pods up, no policy", 20*time.Second, expect)
	n.c.kubectl(t, "", "apply", "-f", filepath.Join(dir, "database-allow-backends.yaml"))
	db := findPod(t, pods, "prod/database")
	took := converge(t, "NetworkPolicy applied", 20*time.Second, func() []probeCase {
		return append(expect(),
			check(findPod(t, pods, "dev/frontend"), db, 8080, false, "seed: frontends are not backends"),
			check(findPod(t, pods, "dev/backend"), db, 8080, true, "seed: backends in env=dev namespaces"),
			check(findPod(t, pods, "prod/backend"), db, 8080, true, "seed: backends in the policy's namespace"),
			check(findPod(t, pods, "staging/backend"), db, 8080, false, "seed: staging is not env=dev"))
	})
	t.Logf("kubectl apply → enforced within %s (probe-bounded)", took)

	n.c.kubectl(t, "", "label", "pod", "-n", "dev", "frontend", "app=backend", "--overwrite")
	converge(t, "pod dev/frontend relabelled app=backend", 20*time.Second, func() []probeCase {
		return append(expect(), check(findPod(t, pods, "dev/frontend"), db, 8080, true, "relabelled to a backend"))
	})
	n.c.kubectl(t, "", "label", "namespace", "staging", "env=dev", "--overwrite")
	converge(t, "namespace staging relabelled env=dev", 20*time.Second, func() []probeCase {
		return append(expect(), check(findPod(t, pods, "staging/backend"), db, 8080, true, "its namespace is env=dev now"))
	})

	// A new database pod is selected by the policy from its first packet:
	// prod/frontend, probing it the whole time, never gets through.
	prodFront := findPod(t, pods, "prod/frontend")
	var leaks, tries atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	target := netip.AddrPortFrom(netip.MustParseAddr("10.2.0.20"), 8080)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			tries.Add(1)
			if prodFront.Workload.ProbeTCP(target, 150*time.Millisecond) {
				leaks.Add(1)
			}
		}
	}()
	newPods := n.runPods(t, nil, []document{{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "database-2", "namespace": "prod", "labels": map[string]any{"app": "database"}},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "db", "image": "postgres:16"}}},
		"status":   map[string]any{"podIP": "10.2.0.20"},
	}}, []int{8080}, false)
	pods = append(pods, newPods...)
	converge(t, "pod prod/database-2 added", 20*time.Second, func() []probeCase {
		return append(expect(), check(findPod(t, pods, "dev/backend"), newPods[0], 8080, true, "a backend"),
			check(prodFront, newPods[0], 8080, false, "a frontend"))
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	if leaks.Load() > 0 {
		t.Fatalf("prod/frontend reached the new database pod %d times in %d tries before its policy applied", leaks.Load(), tries.Load())
	}
	t.Logf("new selected pod: %d probes from a denied peer while it came up, none got through", tries.Load())

	// An invalid update keeps the last good version and is reported.
	devBack := findPod(t, pods, "dev/backend")
	cnp := func(sel string) string {
		return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-dev-backend, namespace: prod}
spec:
  order: 10
  selector: app == 'database'
  types: [Ingress]
  ingress:
  - action: Deny
    protocol: TCP
    source: {selector: %q, namespaceSelector: "env == 'dev'"}
    destination: {ports: [8080]}
`, sel)
	}
	n.c.kubectl(t, cnp("app == 'backend'"), "apply", "-f", "-")
	converge(t, "Calico NetworkPolicy (order 10) denies dev backends", 20*time.Second, func() []probeCase {
		return append(expect(), check(devBack, db, 8080, false, "denied by order-10 Calico policy"))
	})
	n.c.kubectl(t, cnp("app == "), "apply", "-f", "-")
	waitFor(t, "an InvalidPolicy Event on prod/deny-dev-backend", 15*time.Second, func() bool {
		out, _ := n.c.kubectlErr("", "get", "events", "-n", "prod", "--field-selector", "involvedObject.name=deny-dev-backend,reason=InvalidPolicy", "-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}")
		return strings.Contains(out, "spec.ingress[0].source.selector")
	})
	ev := n.c.kubectl(t, "", "get", "events", "-n", "prod", "--field-selector", "involvedObject.name=deny-dev-backend,reason=InvalidPolicy", "-o", "jsonpath={.items[0].type} {.items[0].involvedObject.kind} {.items[0].source.component} {.items[0].message}")
	t.Logf("Event: %s", ev)
	if !strings.HasPrefix(ev, "Warning NetworkPolicy flowgate-agent ") {
		t.Errorf("Event: %q", ev)
	}
	if !strings.Contains(n.agent.log.String(), "invalid object") {
		t.Error("the agent did not log the invalid object")
	}
	time.Sleep(500 * time.Millisecond)
	if bad := probe([]probeCase{check(devBack, db, 8080, false, "last good version of the invalid policy still in force")}); len(bad) > 0 {
		t.Fatalf("an invalid update dropped the policy's last good version: %v", bad)
	}
	n.c.kubectl(t, "", "delete", "networkpolicies.projectcalico.org", "-n", "prod", "deny-dev-backend")
	converge(t, "Calico policy deleted", 20*time.Second, func() []probeCase {
		return append(expect(), check(devBack, db, 8080, true, "deny policy gone"))
	})

	n.c.kubectl(t, "", "delete", "-f", filepath.Join(dir, "database-allow-backends.yaml"))
	converge(t, "NetworkPolicy deleted", 20*time.Second, func() []probeCase {
		return append(expect(), check(prodFront, db, 8080, true, "no policy selects the database"))
	})
	n.c.kubectl(t, "", "label", "namespace", "staging", "env=staging", "--overwrite")
}

// testK8sNamespaceIsolation: the seed page's two namespaces, each
// accepting only its own pods.
func testK8sNamespaceIsolation(t *testing.T, n *k8sNode) {
	dir := "../examples/seeds/namespace-isolation"
	pods := seedWorld(t, n, dir, []int{80})
	defer n.deletePods(t, pods)
	expect := func() []probeCase { return n.expectFromCluster(t, pods, policy.TCP, []int{80}) }
	converge(t, "pods up, no policy", 20*time.Second, expect)
	n.c.kubectl(t, "", "apply", "-f", filepath.Join(dir, "network-policy-customer1.yaml"), "-f", filepath.Join(dir, "network-policy-customer2.yaml"))
	c1n, c1c, c2c := findPod(t, pods, "customer1/nginx"), findPod(t, pods, "customer1/client"), findPod(t, pods, "customer2/client")
	converge(t, "both namespaces isolated", 20*time.Second, func() []probeCase {
		return append(expect(), check(c1c, c1n, 80, true, "same namespace"), check(c2c, c1n, 80, false, "other namespace"))
	})
	n.c.kubectl(t, "", "delete", "-f", filepath.Join(dir, "network-policy-customer1.yaml"), "-f", filepath.Join(dir, "network-policy-customer2.yaml"))
	converge(t, "policies deleted", 20*time.Second, expect)
}

// k8sGridScenarios are the e2e grid scenarios run through the API server:
// one of each family (default deny, namespace and pod selectors, named
// ports, egress, ipBlock with except, endPort).
var k8sGridScenarios = []string{
	"deny-all", "allow-from-namespace", "pod-and-namespace-selector", "named-port-ingress",
	"egress-to-pod-in-namespace", "ingress-from-cidr-except", "ingress-end-port",
}

// testK8sGrid: the Kubernetes e2e-style grid (namespaces x, y, z × pods a,
// b, c) with policies applied by kubectl, TCP and UDP on ports 80 and 81,
// against each scenario's expected table.
func testK8sGrid(t *testing.T, n *k8sNode) {
	nss, podDocs := readWorld(t, evaltest.WorldYAML())
	pods := n.runPods(t, nss, podDocs, []int{80, 81}, true)
	defer n.deletePods(t, pods)
	byID := map[string]*k8sPod{}
	for _, p := range pods {
		byID[p.ID()] = p
	}
	all := map[string]evaltest.Scenario{}
	for _, sc := range evaltest.Scenarios() {
		all[sc.Name] = sc
	}
	gridCases := func(sc *evaltest.Scenario) []probeCase {
		var out []probeCase
		for _, svc := range evaltest.Services() {
			if svc.Protocol == policy.SCTP {
				continue // not probeable on this kernel; covered by ofproto/trace tests
			}
			var want *evaltest.Reachability
			if sc != nil {
				want = sc.Expect(svc)
			}
			for _, from := range evaltest.Pods() {
				for _, to := range evaltest.Pods() {
					if from == to {
						continue
					}
					ok, why := true, "no policy"
					if want != nil {
						ok, why = want.Allowed(from.String(), to.String()), sc.Name
					}
					out = append(out, probeCase{from: byID[from.String()], to: byID[to.String()], proto: svc.Protocol, port: int(svc.Port), want: ok, why: why})
				}
			}
		}
		return out
	}
	converge(t, "grid up, no policy", 30*time.Second, func() []probeCase { return gridCases(nil) })
	for _, name := range k8sGridScenarios {
		sc, ok := all[name]
		if !ok {
			t.Fatalf("no evaltest scenario %s", name)
		}
		n.c.kubectl(t, sc.Policies, "apply", "-f", "-")
		converge(t, "grid "+name, 30*time.Second, func() []probeCase { return gridCases(&sc) })
		n.c.kubectl(t, sc.Policies, "delete", "-f", "-")
	}
	converge(t, "grid policies deleted", 30*time.Second, func() []probeCase { return gridCases(nil) })
}

// testK8sHold: a pod port the agent has not realized is held. A sandbox
// attached by CNI before its pod exists in the API server, or whose pod is
// bound to another node, exchanges no traffic at all (ADD returns only
// once the agent holds it); once the pod exists here with its address,
// the port is released to its policy.
func testK8sHold(t *testing.T, n *k8sNode) {
	n.c.kubectl(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: hold}\n", "apply", "-f", "-")
	peers := n.runPods(t, nil, []document{{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "peer", "namespace": "hold"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}},
		"status":   map[string]any{"podIP": "10.9.0.1"},
	}}, []int{80}, false)
	peer := peers[0]
	defer n.deletePods(t, peers)

	// Unknown to the API server: held from the moment ADD returns.
	start := time.Now()
	ghostCNI, err := n.cni.addIP("hold", "ghost", "10.9.0.2")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CNI ADD of a pod the agent does not know returned after %s (the agent holds the port)", time.Since(start).Round(time.Millisecond))
	ghost := &k8sPod{cniPod: ghostCNI}
	n.mu.Lock()
	n.pods[ghost.ID()] = ghost
	n.mu.Unlock()
	ln, err := ghost.Workload.ListenTCP(80)
	if err != nil {
		t.Fatal(err)
	}
	ghost.closers = append(ghost.closers, ln)
	held := []probeCase{
		check(peer, ghost, 80, false, "held: no pod object yet"),
		check(ghost, peer, 80, false, "held: no pod object yet"),
	}
	if bad := probe(held); len(bad) > 0 {
		t.Fatalf("an unrealized pod port passed traffic: %v", bad)
	}
	if !strings.Contains(dumpFlows(t, n, "table=0"), "priority=50") {
		t.Error("no hold flow in classify")
	}

	// Bound to another node: still held here.
	n.c.kubectl(t, `apiVersion: v1
kind: Pod
metadata: {name: ghost, namespace: hold}
spec:
  nodeName: some-other-node
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: nginx}]
`, "apply", "-f", "-")
	if err := n.setPodIP(ghost); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if bad := probe(held); len(bad) > 0 {
		t.Fatalf("a port of a pod bound to another node passed traffic: %v", bad)
	}

	// The pod, on this node: released (no policy selects it).
	n.c.kubectl(t, "", "delete", "pod", "-n", "hold", "ghost", "--grace-period=0", "--force")
	n.c.kubectl(t, `apiVersion: v1
kind: Pod
metadata: {name: ghost, namespace: hold}
spec:
  nodeName: `+n.name+`
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: nginx}]
`, "apply", "-f", "-")
	if err := n.setPodIP(ghost); err != nil {
		t.Fatal(err)
	}
	converge(t, "pod realized on this node", 20*time.Second, func() []probeCase {
		return []probeCase{check(peer, ghost, 80, true, "released"), check(ghost, peer, 80, true, "released")}
	})
	if strings.Contains(dumpFlows(t, n, "table=0"), "priority=50") {
		t.Error("hold flow left after the pod was realized")
	}
	n.deletePods(t, []*k8sPod{ghost})
}

func dumpFlows(t *testing.T, n *k8sNode, filter string) string {
	t.Helper()
	out, err := n.ovs.Ofctl("dump-flows", "br-int", filter)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testK8sRestart: the Kubernetes API server goes away (from the agent,
// through an apiProxy, and for real: etcd and kube-apiserver stopped) for
// an outage of k8sOutage. Throughout, the installed flows stay as they
// were (allowed stays allowed, denied stays denied) and the agent stays
// ready. The API server comes back, still unreachable to the agent, and
// the cluster changes behind its back: a pod relabelled into the allowed
// set, a new policy isolating a namespace, a pod deleted, a pod added (its
// port is held meanwhile: the agent knows the port from OVSDB, not the
// pod). The agent's old enforcement holds until it reaches the API server
// again; then it resynchronises to exactly the cluster's new state.
func testK8sRestart(t *testing.T, n *k8sNode) {
	outage := k8sOutage()
	proxy := startAPIProxy(t, n.c)
	n.agent.kill(syscall.SIGTERM)
	n.kubeconfig = proxy.Kubeconfig
	defer func() { n.kubeconfig = "" }()
	n.startAgent(t)

	dir := backendSeed
	pods := seedWorld(t, n, dir, []int{8080})
	defer func() { n.deletePods(t, pods) }()
	n.c.kubectl(t, "", "apply", "-f", filepath.Join(dir, "database-allow-backends.yaml"))
	defer n.c.kubectlErr("", "delete", "-f", filepath.Join(dir, "database-allow-backends.yaml"))
	var before []probeCase
	converge(t, "policy applied", 30*time.Second, func() []probeCase {
		before = n.expectFromCluster(t, pods, policy.TCP, []int{8080})
		return before
	})

	proxy.Cut()
	n.c.script(t, "down", n.c.Dir)
	down := time.Now()
	rounds := 0
	for {
		if bad := probe(before); len(bad) > 0 {
			t.Fatalf("enforcement changed %s into the API server outage: %v", time.Since(down).Round(time.Second), bad)
		}
		if !agentReady(n) {
			t.Fatalf("agent not ready %s into the API server outage (its flows are still right)", time.Since(down).Round(time.Second))
		}
		rounds++
		if time.Since(down) >= outage {
			break
		}
		time.Sleep(min(5*time.Second, time.Until(down.Add(outage))))
	}
	t.Logf("API server down for %s: %d rounds of %d probes, all as before, agent ready throughout", time.Since(down).Round(time.Second), rounds, len(before))
	n.c.script(t, "up", n.c.Dir)

	// Changes the agent cannot see yet.
	n.c.kubectl(t, "", "label", "pod", "-n", "dev", "frontend", "app=backend", "--overwrite")
	isolate := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: isolate-staging, namespace: staging}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n"
	n.c.kubectl(t, isolate, "apply", "-f", "-")
	defer n.c.kubectlErr(isolate, "delete", "-f", "-")
	gone := findPod(t, pods, "prod/backend")
	n.deletePods(t, []*k8sPod{gone})
	pods = slices.DeleteFunc(pods, func(p *k8sPod) bool { return p == gone })
	late := n.runPods(t, nil, []document{{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "late", "namespace": "dev", "labels": map[string]any{"app": "backend"}},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}},
		"status":   map[string]any{"podIP": "10.2.1.50"},
	}}, []int{8080}, false)[0]
	pods = append(pods, late)
	db, frontend := findPod(t, pods, "prod/database"), findPod(t, pods, "dev/frontend")
	var stale []probeCase
	for _, c := range before {
		if c.from != gone && c.to != gone {
			stale = append(stale, c)
		}
	}
	stale = append(stale, check(late, db, 8080, false, "held: the agent has not seen the pod"), check(db, late, 8080, false, "held"))
	if bad := probe(stale); len(bad) > 0 {
		t.Fatalf("the agent, cut off from the API server, changed enforcement: %v", bad)
	}

	proxy.Restore()
	took := converge(t, "the cluster's new state after the outage", 60*time.Second, func() []probeCase {
		return append(n.expectFromCluster(t, pods, policy.TCP, []int{8080}),
			check(frontend, db, 8080, true, "relabelled app=backend during the outage"),
			check(late, db, 8080, true, "added during the outage, app=backend"),
			check(db, findPod(t, pods, "staging/backend"), 8080, false, "staging isolated during the outage"))
	})
	t.Logf("API server reachable again: resynchronised to the changes made meanwhile in %s", took.Round(time.Millisecond))
	if l := n.agent.log.String(); strings.Contains(l, "level=fatal") || strings.Contains(l, "panic:") {
		t.Fatalf("agent log since the outage:\n%s", lastLinesOf(l, 40))
	}
}

// k8sOutage is how long testK8sRestart keeps the API server down: 25 s,
// or the 10 minutes with FLOWGATE_LONG=1 (run it with -timeout 30m).
func k8sOutage() time.Duration {
	if os.Getenv("FLOWGATE_LONG") == "1" {
		return 10 * time.Minute
	}
	return 25 * time.Second
}

// agentReady asks the agent's /readyz.
func agentReady(n *k8sNode) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.health+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// TestK8sAgentFlags: how the agent is configured for Kubernetes from the
// command line — --kubeconfig alone needs a node name, NODE_NAME supplies
// it, a bad kubeconfig is an error naming it — and that a files agent
// still needs --config.
func TestK8sAgentFlags(t *testing.T) {
	run := func(env []string, args ...string) (string, int) {
		cmd := exec.Command(flowgateBin, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	bad := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(bad, []byte("not: [a kubeconfig"), 0o600)
	for _, c := range []struct {
		env  []string
		args []string
		want string
		code int
	}{
		{nil, []string{"agent"}, "--config is required", 2},
		{[]string{"NODE_NAME="}, []string{"agent", "--kubeconfig", bad}, "node name is required", 2},
		{[]string{"NODE_NAME=n1"}, []string{"agent", "--kubeconfig", bad, "--config", "/nonexistent.yaml"}, "read config", 2},
	} {
		out, code := run(c.env, c.args...)
		if !strings.Contains(out, c.want) || code != c.code {
			t.Errorf("flowgate %s (%v): exit %d, output %q; want %q", strings.Join(c.args, " "), c.env, code, out, c.want)
		}
	}
	// NODE_NAME is taken and the kubeconfig read before OVS is touched.
	out, code := run([]string{"NODE_NAME=n1"}, "agent", "--kubeconfig", bad)
	if code == 0 || !strings.Contains(out, "kubeconfig "+bad) {
		t.Errorf("agent with a broken kubeconfig: exit %d, %q", code, out)
	}
}
