package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// The Kubernetes benchmarks run the real thing at scale: an API server
// filled through client-go with a synthetic world (evaltest.Generate:
// pods in namespaces of 100, policies of the shapes real clusters have,
// Kubernetes and Calico), a private OVS with the node's local pods as
// namespace workloads, and the agent as a process. They take minutes and
// print their numbers (docs/benchmarks.md, "## Kubernetes"); sizes can be
// changed with FLOWGATE_K8S_BENCH_PODS / _POLICIES / _LOCAL / _CHANGES.

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// gvrFor maps what evaltest.Generate writes to resources.
func gvrFor(apiVersion, kind string) (schema.GroupVersionResource, bool) {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	plural := map[string]string{
		"Namespace": "namespaces", "Pod": "pods", "ServiceAccount": "serviceaccounts", "NetworkPolicy": "networkpolicies",
		"Tier": "tiers", "GlobalNetworkPolicy": "globalnetworkpolicies", "GlobalNetworkSet": "globalnetworksets",
		"NetworkSet": "networksets", "HostEndpoint": "hostendpoints",
	}[kind]
	return gv.WithResource(plural), kind == "Namespace" || kind == "Tier" || kind == "GlobalNetworkPolicy" || kind == "GlobalNetworkSet" || kind == "HostEndpoint"
}

// benchWorld is a generated world loaded into the API server.
type benchWorld struct {
	gen    evaltest.Generated
	local  []evaltest.Pod // the pods bound to the benchmark's node
	labels map[string]map[string]any
}

// loadBenchWorld creates the generated objects with client-go (workers in
// parallel), binds the first nLocal pods to node and the rest to 100 other
// nodes, and reports every pod Running with its address.
func loadBenchWorld(b *testing.B, c *k8sCluster, pods, policies, nLocal int, node string) *benchWorld {
	b.Helper()
	start := time.Now()
	gen := evaltest.Generate(1, pods, policies)
	w := &benchWorld{gen: gen, labels: map[string]map[string]any{}}
	docs := splitYAML(b, gen.YAML)
	localSet := map[string]bool{}
	for i := 0; i < nLocal && i < len(gen.Pods); i++ {
		localSet[gen.Pods[i].String()] = true
		w.local = append(w.local, gen.Pods[i])
	}
	ctx := context.Background()
	create := func(d document) error {
		u := &unstructured.Unstructured{Object: d}
		gvr, cluster := gvrFor(u.GetAPIVersion(), u.GetKind())
		var st map[string]any
		if u.GetKind() == "Pod" {
			st, _ = d["status"].(map[string]any)
			delete(d, "status")
		}
		ri := c.dynamic.Resource(gvr)
		var err error
		if cluster {
			_, err = ri.Create(ctx, u, metav1.CreateOptions{})
		} else {
			_, err = ri.Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{})
		}
		if err != nil {
			return fmt.Errorf("create %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		if st != nil {
			patch := fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}]}}`, st["podIP"], st["podIP"])
			_, err = c.client.CoreV1().Pods(u.GetNamespace()).Patch(ctx, u.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
		}
		return err
	}
	// Pods are bound to nodes here, before the workers share the documents.
	for i, d := range docs {
		if d["kind"] != "Pod" {
			continue
		}
		md := d["metadata"].(map[string]any)
		id := md["namespace"].(string) + "/" + md["name"].(string)
		n := fmt.Sprintf("node-%03d", i%100)
		if localSet[id] {
			n = node
		}
		unstructured.SetNestedField(d, n, "spec", "nodeName")
		w.labels[id] = md["labels"].(map[string]any)
	}
	// Namespaces and tiers first, then everything else in parallel.
	var first, rest []document
	for _, d := range docs {
		switch d["kind"] {
		case "Namespace", "Tier":
			first = append(first, d)
		default:
			rest = append(rest, d)
		}
	}
	for _, batch := range [][]document{first, rest} {
		work := make(chan document)
		errs := make(chan error, 1)
		var wg sync.WaitGroup
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for d := range work {
					if err := create(d); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			}()
		}
		for _, d := range batch {
			work <- d
		}
		close(work)
		wg.Wait()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	}
	b.Logf("API server loaded: %d objects (%d pods, %d policies asked) in %s", len(docs), pods, policies, time.Since(start).Round(time.Second))
	return w
}

// benchAgent is the agent process with its output read line by line and
// time-stamped on arrival (logrus' timestamps have one-second resolution).
type benchAgent struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []timedLine
	wake  chan struct{}
	done  chan struct{}
}

type timedLine struct {
	at   time.Time
	text string
}

func startBenchAgent(b *testing.B, o *sandbox.OVS, kubeconfig, node, health string) *benchAgent {
	b.Helper()
	cfg := fmt.Sprintf("bridge: br-int\ndatapathType: netdev\novsdb: %s\npolicyPaths: []\ncheckInterval: 2s\nlogLevel: info\nhealthAddress: %s\nkubernetes:\n  enabled: true\n", o.DBAddr(), health)
	return startAgentProcess(b, o, cfg, "--kubeconfig", kubeconfig, "--node-name", node)
}

// startAgentProcess runs `flowgate agent` with the configuration cfg and
// extra arguments, reading its output as benchAgent lines; the agent is
// stopped when the benchmark ends.
func startAgentProcess(b *testing.B, o *sandbox.OVS, cfg string, args ...string) *benchAgent {
	b.Helper()
	path := filepath.Join(b.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	a := &benchAgent{wake: make(chan struct{}, 1), done: make(chan struct{})}
	a.cmd = exec.Command(flowgateBin, append([]string{"agent", "--config", path}, args...)...)
	a.cmd.Env = append(os.Environ(), o.Env()...)
	pr, pw := io.Pipe()
	a.cmd.Stdout, a.cmd.Stderr = pw, pw
	if err := a.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			a.mu.Lock()
			a.lines = append(a.lines, timedLine{time.Now(), sc.Text()})
			a.mu.Unlock()
			select {
			case a.wake <- struct{}{}:
			default:
			}
		}
	}()
	go func() { a.cmd.Wait(); pw.Close(); close(a.done) }()
	b.Cleanup(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			a.cmd.Process.Kill()
		}
		if b.Failed() {
			a.mu.Lock()
			for _, l := range a.lines[max(0, len(a.lines)-40):] {
				b.Log(l.text)
			}
			a.mu.Unlock()
		}
	})
	return a
}

// waitLine returns the arrival time of the first line after index from
// that contains want, and the index after it.
func (a *benchAgent) waitLine(b *testing.B, from int, want string, timeout time.Duration) (time.Time, int) {
	at, next, _ := a.waitText(b, from, want, timeout)
	return at, next
}

// waitText is waitLine also returning the line.
func (a *benchAgent) waitText(b *testing.B, from int, want string, timeout time.Duration) (time.Time, int, string) {
	b.Helper()
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		for i := from; i < len(a.lines); i++ {
			if strings.Contains(a.lines[i].text, want) {
				l := a.lines[i]
				a.mu.Unlock()
				return l.at, i + 1, l.text
			}
		}
		a.mu.Unlock()
		select {
		case <-a.wake:
		case <-a.done:
			b.Fatalf("agent exited waiting for %q", want)
		case <-deadline:
			b.Fatalf("no %q from the agent within %s", want, timeout)
		}
	}
}

// stop ends the agent and waits for it to exit.
func (a *benchAgent) stop(b *testing.B) {
	b.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(time.Minute):
		b.Fatal("agent did not stop within a minute of SIGTERM")
	}
}

func (a *benchAgent) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.lines)
}

// procStats reads a process's CPU seconds (user+system) and RSS / peak RSS.
func procStats(pid int) (cpu float64, rss, hwm int64) {
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		cpu = (ut + st) / 100 // USER_HZ
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				if f[0] == "VmRSS:" {
					rss = v * 1024
				} else {
					hwm = v * 1024
				}
			}
		}
	}
	return cpu, rss, hwm
}

// benchLocalPods attaches the node's pods to br-int as namespace workloads
// carrying their identity, as flowgate-cni would.
func benchLocalPods(b *testing.B, o *sandbox.OVS, pods []evaltest.Pod) {
	b.Helper()
	for i, p := range pods {
		mac := net.HardwareAddr{0x02, 0xfb, 0, 0, byte(i >> 8), byte(i)}
		if _, err := o.AddWorkload("br-int", fmt.Sprintf("l%d", i), p.String(), mac, netip.PrefixFrom(p.IP, 16)); err != nil {
			b.Fatal(err)
		}
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// BenchmarkK8sApplyToEnforced measures kubectl apply → enforced: with
// 5,000 pods and 500 policies in the API server and 50 of the pods on this
// node, 100 changes are made with kubectl one at a time — 50 new
// NetworkPolicies selecting local pods, 50 relabellings of local pods —
// and for each the time from starting kubectl (and from kubectl having
// returned) until the agent reports the OpenFlow bundle committed.
func BenchmarkK8sApplyToEnforced(b *testing.B) {
	sandboxtest.Require(b)
	nPods, nPol := benchEnvInt("FLOWGATE_K8S_BENCH_PODS", 5000), benchEnvInt("FLOWGATE_K8S_BENCH_POLICIES", 500)
	nLocal, nChanges := benchEnvInt("FLOWGATE_K8S_BENCH_LOCAL", 50), benchEnvInt("FLOWGATE_K8S_BENCH_CHANGES", 100)
	c := startK8s(b)
	c.kubectl(b, "", "apply", "-f", "../deploy/kubernetes/crds")
	c.kubectl(b, "", "wait", "--for", "condition=established", "--timeout=60s", "crd", "-l", "app.kubernetes.io/part-of=flowgate")
	w := loadBenchWorld(b, c, nPods, nPol, nLocal, "bench-node")
	o := sandboxtest.New(b)
	if err := o.AddBridge("br-int"); err != nil {
		b.Fatal(err)
	}
	benchLocalPods(b, o, w.local)
	health := fmt.Sprintf("127.0.0.1:%d", freePorts(b, 1)[0])
	start := time.Now()
	a := startBenchAgent(b, o, c.Kubeconfig, "bench-node", health)
	_, idx, line := a.waitText(b, 0, "flows replaced", 5*time.Minute)
	b.Logf("agent: first realization %s after start: %s", time.Since(start).Round(time.Millisecond), line)
	time.Sleep(time.Second)

	var fromStart, fromReturn []time.Duration
	for i := 0; i < nChanges; i++ {
		p := w.local[i%len(w.local)]
		var args []string
		var stdin string
		if i%2 == 0 {
			stdin = fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bench-%d, namespace: %s}
spec:
  podSelector: {matchLabels: {app: %s}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{protocol: TCP, port: %d}]
`, i, p.Namespace, w.labels[p.String()]["app"], 10000+i)
			args = []string{"apply", "-f", "-"}
		} else {
			args = []string{"label", "pod", "-n", p.Namespace, p.Name, fmt.Sprintf("bench=b%d", i), "--overwrite"}
		}
		idx = a.count()
		t0 := time.Now()
		c.kubectl(b, stdin, args...)
		t1 := time.Now()
		at, next := a.waitLine(b, idx, "enforcement updated", 30*time.Second)
		fromStart = append(fromStart, at.Sub(t0))
		fromReturn = append(fromReturn, max(0, at.Sub(t1)))
		idx = next
		time.Sleep(150 * time.Millisecond) // quiet before the next change
	}
	cpu, rss, hwm := procStats(a.cmd.Process.Pid)
	b.ReportMetric(float64(percentile(fromStart, 0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(percentile(fromStart, 0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(percentile(fromReturn, 0.5).Milliseconds()), "p50-after-kubectl-ms")
	b.ReportMetric(float64(percentile(fromReturn, 0.99).Milliseconds()), "p99-after-kubectl-ms")
	b.Logf("%d pods (%d local), %d policies; %d changes: kubectl start → flows committed p50 %s p99 %s max %s; kubectl returned → committed p50 %s p99 %s; agent CPU %.1fs total, RSS %d MiB (peak %d MiB)",
		nPods, nLocal, nPol, len(fromStart), percentile(fromStart, 0.5), percentile(fromStart, 0.99), percentile(fromStart, 1),
		percentile(fromReturn, 0.5), percentile(fromReturn, 0.99), cpu, rss>>20, hwm>>20)
}

// BenchmarkK8sAgentScale measures the agent watching a large cluster:
// 50,000 pods and 2,000 policies created through client-go, 1 pod on
// this node (FLOWGATE_K8S_BENCH_LOCAL=0: none, the cost of watching alone;
// the flows compiled for local pods grow with the cluster's peer sets —
// one local pod of this world compiles to 403k flows, five to 3.9M). It
// reports the time to the first realization, CPU seconds spent getting
// there, RSS after sync and at peak, idle CPU over 30 s, and the latency
// and CPU of label changes at that scale.
func BenchmarkK8sAgentScale(b *testing.B) {
	sandboxtest.Require(b)
	nPods, nPol := benchEnvInt("FLOWGATE_K8S_BENCH_PODS", 50000), benchEnvInt("FLOWGATE_K8S_BENCH_POLICIES", 2000)
	nLocal := benchEnvInt("FLOWGATE_K8S_BENCH_LOCAL", 1)
	if os.Getenv("FLOWGATE_K8S_BENCH_LOCAL") == "0" {
		nLocal = 0
	}
	c := startK8s(b)
	c.kubectl(b, "", "apply", "-f", "../deploy/kubernetes/crds")
	c.kubectl(b, "", "wait", "--for", "condition=established", "--timeout=60s", "crd", "-l", "app.kubernetes.io/part-of=flowgate")
	w := loadBenchWorld(b, c, nPods, nPol, nLocal, "bench-node")
	o := sandboxtest.New(b)
	if err := o.AddBridge("br-int"); err != nil {
		b.Fatal(err)
	}
	benchLocalPods(b, o, w.local)
	health := fmt.Sprintf("127.0.0.1:%d", freePorts(b, 1)[0])
	start := time.Now()
	a := startBenchAgent(b, o, c.Kubeconfig, "bench-node", health)
	synced, _ := a.waitLine(b, 0, "caches synced", 10*time.Minute)
	first, idx, line := a.waitText(b, 0, "flows replaced", 10*time.Minute)
	b.Log(line)
	cpuStart, rssStart, _ := procStats(a.cmd.Process.Pid)
	b.Logf("agent: caches synced after %s, first realization after %s; CPU %.1fs; RSS %d MiB",
		synced.Sub(start).Round(time.Millisecond), first.Sub(start).Round(time.Millisecond), cpuStart, rssStart>>20)
	time.Sleep(30 * time.Second)
	cpuIdle, rssIdle, _ := procStats(a.cmd.Process.Pid)
	b.Logf("idle 30 s: CPU %.2fs (%.1f%% of a core); RSS %d MiB", cpuIdle-cpuStart, (cpuIdle-cpuStart)/30*100, rssIdle>>20)

	// Label changes at this scale, through client-go (no kubectl start-up).
	var lat []time.Duration
	changed := w.local
	if len(changed) == 0 {
		changed = w.gen.Pods[:20]
	}
	for i := 0; i < 20; i++ {
		p := changed[i%len(changed)]
		idx = a.count()
		patch := fmt.Sprintf(`{"metadata":{"labels":{"bench":"b%d"}}}`, i)
		t0 := time.Now()
		if _, err := c.client.CoreV1().Pods(p.Namespace).Patch(context.Background(), p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			b.Fatal(err)
		}
		at, _ := a.waitLine(b, idx, "enforcement updated", time.Minute)
		lat = append(lat, at.Sub(t0))
		time.Sleep(200 * time.Millisecond)
	}
	cpuEnd, rssEnd, hwm := procStats(a.cmd.Process.Pid)
	b.ReportMetric(first.Sub(start).Seconds(), "first-sync-s")
	b.ReportMetric(float64(rssEnd>>20), "rss-MiB")
	b.ReportMetric(float64(hwm>>20), "peak-rss-MiB")
	b.ReportMetric(cpuStart, "startup-cpu-s")
	b.ReportMetric(float64(percentile(lat, 0.5).Milliseconds()), "change-p50-ms")
	b.Logf("%d pods (%d local), %d policies: 20 label changes: patch → committed p50 %s p99 %s, CPU %.2fs per change; RSS %d MiB, peak %d MiB",
		nPods, nLocal, nPol, percentile(lat, 0.5), percentile(lat, 0.99), (cpuEnd-cpuIdle)/20, rssEnd>>20, hwm>>20)
}
