package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// serviceAccountPath is where a pod finds its service account's
// credentials, and where rest.InClusterConfig reads them.
const serviceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// serviceAccountDir writes what the kubelet mounts into a pod for a
// service account: a token the API server issued for it (TokenRequest,
// `kubectl create token`), the cluster CA and the namespace.
func (c *k8sCluster) serviceAccountDir(t *testing.T, namespace, name string) string {
	t.Helper()
	token := strings.TrimSpace(c.kubectl(t, "", "create", "token", name, "-n", namespace, "--duration", "1h"))
	ca, err := os.ReadFile(filepath.Join(c.Dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for f, data := range map[string][]byte{"token": []byte(token), "ca.crt": ca, "namespace": []byte(namespace)} {
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// inClusterCommand runs a command the way it runs in a pod of the
// DaemonSet as far as the API server is concerned: in a private mount
// namespace where n.serviceAccount is mounted at serviceAccountPath (over
// a tmpfs on /run, so the host's filesystem is untouched), with
// KUBERNETES_SERVICE_HOST/PORT naming the API server, and no kubeconfig.
func (n *k8sNode) inClusterCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	port := strings.TrimPrefix(n.c.server(t), "https://127.0.0.1:")
	script := `set -e
run=$(readlink -f /var/run)
mount -t tmpfs flowgate-test "$run"
mkdir -p "` + serviceAccountPath + `"
mount --bind "$FLOWGATE_TEST_SA" "` + serviceAccountPath + `"
exec "$@"`
	cmd := exec.Command("sh", append([]string{"-c", script, "sh", name}, args...)...)
	// Go makes / recursively private in the new mount namespace, so the
	// mounts stay inside it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUBECONFIG=") {
			env = append(env, e)
		}
	}
	cmd.Env = append(append(env, n.ovs.Env()...),
		"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT="+port, "FLOWGATE_TEST_SA="+n.serviceAccount)
	return cmd
}

// TestK8sInClusterConfig: `flowgate agent` with kubernetes.enabled and no
// kubeconfig uses the in-cluster config, as in the DaemonSet's pods: a
// real service-account token issued by the API server for the
// ServiceAccount of deploy/kubernetes, read from the pod's mount path. With
// exactly the ClusterRole of deploy/kubernetes bound to that account the
// agent syncs, enforces NetworkPolicies by real traffic and posts Events
// about invalid objects, and the CNI install step reads its Node's pod
// CIDRs — the least-privilege role is sufficient. A
// service account without the binding gets nowhere: the agent stays
// unready, saying it is forbidden.
func TestK8sInClusterConfig(t *testing.T) {
	sandboxtest.Require(t)
	c := startK8s(t)
	c.install(t)
	n := newK8sNode(t, c, k8sNodeName)

	c.kubectl(t, "", "create", "serviceaccount", "unbound", "-n", "flowgate-system")
	n.serviceAccount = c.serviceAccountDir(t, "flowgate-system", "unbound")
	a := n.startAgent(t)
	waitFor(t, "the unbound agent to be refused", 30*time.Second, func() bool {
		return strings.Contains(a.log.String(), "forbidden")
	})
	if agentReady(n) {
		t.Fatal("an agent whose service account has no role is ready")
	}
	if !strings.Contains(a.log.String(), "system:serviceaccount:flowgate-system:unbound") {
		t.Errorf("the refusal does not name the service account:\n%s", lastLinesOf(a.log.String(), 10))
	}
	a.kill(syscall.SIGTERM)

	n.serviceAccount = c.serviceAccountDir(t, "flowgate-system", "flowgate-agent")
	// The init container's step, in-cluster too: it reads its Node's pod
	// CIDRs with the same account.
	c.kubectl(t, `apiVersion: v1
kind: Node
metadata: {name: `+k8sNodeName+`}
spec: {podCIDR: 10.244.7.0/24, podCIDRs: [10.244.7.0/24]}
`, "apply", "-f", "-")
	cniDir := t.TempDir()
	install := n.inClusterCommand(t, filepath.Join(mustCNIBinDir(t), "flowgate-cni"), "install",
		"--template", "../deploy/kubernetes/cni.conflist", "--bin-dir", filepath.Join(cniDir, "bin"), "--conf-dir", filepath.Join(cniDir, "net.d"))
	install.Env = append(install.Env, "NODE_NAME="+k8sNodeName)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("flowgate-cni install in-cluster: %v\n%s", err, out)
	}
	if conf := string(readFile(t, filepath.Join(cniDir, "net.d", "10-flowgate.conflist"))); !strings.Contains(conf, "10.244.7.0/24") {
		t.Errorf("installed CNI configuration lacks the node's pod CIDR:\n%s", conf)
	}

	a = n.startAgent(t)
	waitFor(t, "the in-cluster agent ready", 60*time.Second, func() bool { return agentReady(n) })
	if log := a.log.String(); strings.Contains(log, "forbidden") || !strings.Contains(log, "caches synced") {
		t.Fatalf("in-cluster agent:\n%s", lastLinesOf(log, 30))
	}
	testK8sNamespaceIsolation(t, n)

	c.kubectl(t, `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: broken-selector}
spec:
  selector: "app == "
  ingress: [{action: Allow}]
`, "apply", "-f", "-")
	waitFor(t, "the agent's Warning Event", 30*time.Second, func() bool {
		out, _ := c.kubectlErr("", "get", "events", "-A", "--field-selector", "reason=InvalidPolicy,involvedObject.name=broken-selector", "-o", "name")
		return strings.TrimSpace(out) != ""
	})
}

func mustCNIBinDir(t *testing.T) string {
	t.Helper()
	dir, err := cniBinDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
