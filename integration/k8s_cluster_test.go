package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// k8sCluster is a real etcd + kube-apiserver started by integration/k8s.sh
// for one test (on free loopback ports, in a temporary work directory) and
// stopped when it ends. The binaries are built once per machine by
// `integration/k8s.sh build` (.ci/run does it); without them the test is
// skipped, or fails under CI=true.
type k8sCluster struct {
	// Dir is k8s.sh's work directory: pki/, logs/, kubeconfigs.
	Dir string
	// Kubeconfig is the admin's (system:masters); AgentKubeconfig is the
	// user flowgate-agent's, which RBAC confines to what the ClusterRole
	// in deploy/kubernetes grants once the test binds it.
	Kubeconfig, AgentKubeconfig string
	// Bin holds kube-apiserver, etcd and kubectl.
	Bin string

	client  kubernetes.Interface
	dynamic dynamic.Interface
	env     []string // k8s.sh's environment (the ports)
	// installed: deploy/kubernetes is applied and the agent user bound
	// (by install), so a subtest run alone with -run still has the CRDs
	// and RBAC the agent needs.
	installed bool
}

// requireK8s is what a Kubernetes test needs besides an OVS sandbox: the
// built binaries. It returns their directory.
func requireK8s(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("./k8s.sh", "bin").Output()
	if err != nil {
		t.Fatalf("k8s.sh bin: %v", err)
	}
	bin := strings.TrimSpace(string(out))
	var missing []string
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missing = append(missing, b)
		}
	}
	for _, c := range []string{"openssl", "curl"} {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return bin
	}
	why := fmt.Sprintf("Kubernetes test binaries missing in %s: %s (build them once with integration/k8s.sh build, ~5 min)", bin, strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " and CI=true")
	}
	t.Skip(why)
	return ""
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startK8s starts a cluster for the test and stops (and purges) it in
// t.Cleanup; on failure the API server's log tail is printed.
func startK8s(t testing.TB) *k8sCluster {
	t.Helper()
	bin := requireK8s(t)
	reapK8s()
	dir, err := os.MkdirTemp("", "fgk8s")
	if err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 3)
	c := &k8sCluster{Dir: dir, Bin: bin, Kubeconfig: filepath.Join(dir, "kubeconfig"), AgentKubeconfig: filepath.Join(dir, "agent.kubeconfig")}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	c.env = append(os.Environ(),
		"FLOWGATE_K8S_ETCD_PORT="+strconv.Itoa(p[0]),
		"FLOWGATE_K8S_ETCD_PEER_PORT="+strconv.Itoa(p[1]),
		"FLOWGATE_K8S_API_PORT="+strconv.Itoa(p[2]))
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "logs", "kube-apiserver.log"))
			t.Logf("kube-apiserver.log tail:\n%s", lastLinesOf(string(log), 20))
		}
		c.script(t, "down", dir, "--purge")
	})
	start := time.Now()
	c.script(t, "up", dir)
	t.Logf("kube-apiserver up in %s", time.Since(start).Round(time.Millisecond))
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 500, 1000
	if c.client, err = kubernetes.NewForConfig(rc); err != nil {
		t.Fatal(err)
	}
	if c.dynamic, err = dynamic.NewForConfig(rc); err != nil {
		t.Fatal(err)
	}
	return c
}

// reapK8s stops clusters left behind by test processes that died without
// their cleanups (killed, or timed out): each work directory records its
// owner's pid.
func reapK8s() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "fgk8s*", "owner.pid"))
	for _, f := range dirs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = exec.Command("./k8s.sh", "down", filepath.Dir(f), "--purge").Run()
	}
}

// script runs k8s.sh with the cluster's ports.
func (c *k8sCluster) script(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("./k8s.sh", args...)
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("k8s.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// install applies deploy/kubernetes for real (namespace first, then the
// kustomize layout), waits for the CRDs, and binds the agent's ClusterRole
// to the static user flowgate-agent the tests' agents authenticate as (the
// DaemonSet's binding names the service account instead).
func (c *k8sCluster) install(t testing.TB) {
	t.Helper()
	c.kubectl(t, "", "apply", "-f", "../deploy/kubernetes/namespace.yaml")
	c.kubectl(t, "", "apply", "-k", "../deploy/kubernetes")
	c.kubectl(t, "", "wait", "--for", "condition=established", "--timeout=60s", "crd", "-l", "app.kubernetes.io/part-of=flowgate")
	c.kubectl(t, "", "create", "clusterrolebinding", "flowgate-agent-test-user", "--clusterrole=flowgate-agent", "--user=flowgate-agent")
	c.installed = true
}

// ensureInstalled installs deploy/kubernetes unless a subtest did already
// (a subtest picked alone with -run skips testK8sManifests, which installs).
func (c *k8sCluster) ensureInstalled(t testing.TB) {
	t.Helper()
	if !c.installed {
		c.install(t)
	}
}

// kubectl runs kubectl as the admin with stdin, returning stdout; it fails
// the test on error unless the caller wants the error (kubectlErr).
func (c *k8sCluster) kubectl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := c.kubectlErr(stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (c *k8sCluster) kubectlErr(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// agentToken is the flowgate-agent user's bearer token (for tools that
// take a token file, as a pod's service account would give them).
func (c *k8sCluster) agentToken(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Dir, "pki", "tokens.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ",")
		if len(f) >= 2 && f[1] == "flowgate-agent" {
			return f[0]
		}
	}
	t.Fatal("no flowgate-agent token")
	return ""
}

// server is the API server's URL.
func (c *k8sCluster) server(t testing.TB) string {
	t.Helper()
	for _, e := range c.env {
		if v, ok := strings.CutPrefix(e, "FLOWGATE_K8S_API_PORT="); ok {
			return "https://127.0.0.1:" + v
		}
	}
	t.Fatal("no API port")
	return ""
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
