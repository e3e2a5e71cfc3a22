package integration

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// k8sNode is one node of the test cluster, played for real: a private
// Open vSwitch with br-int, flowgate-cni attaching pods to it as a runtime
// would, and the flowgate agent watching the cluster as this node, with
// the RBAC-limited agent credentials.
type k8sNode struct {
	c      *k8sCluster
	ovs    *sandbox.OVS
	cni    *cniRunner
	name   string
	agent  *agentProc
	health string // the agent's /healthz, /readyz, /metrics address
	// autoHEP turns the agent's kubernetes.autoHostEndpoints on.
	autoHEP bool
	// serviceAccount, when set, is a directory holding a service account's
	// token, ca.crt and namespace: the agent then runs as in a pod, with
	// no kubeconfig (see inClusterCommand).
	serviceAccount string
	// kubeconfig, when set, replaces the cluster's agent kubeconfig (an
	// apiProxy's, to take the API server away from the agent alone).
	kubeconfig string

	mu   sync.Mutex
	pods map[string]*k8sPod // by "namespace/name"
}

// k8sPod is a pod the node runs: its CNI sandbox and its listeners.
type k8sPod struct {
	*cniPod
	closers []io.Closer
}

// ID is "namespace/name".
func (p *k8sPod) ID() string { return p.Namespace + "/" + p.Name }

// newK8sNode starts the node's OVS and prepares flowgate-cni; pods get
// the addresses their YAML asks for (CNI_ARGS IP=, host-local) in
// 10.0.0.0/8, all on one L2 segment.
func newK8sNode(t *testing.T, c *k8sCluster, name string) *k8sNode {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	dir, err := cniBinDir()
	if err != nil {
		t.Fatal(err)
	}
	reapPodNetns()
	n := &k8sNode{c: c, ovs: o, name: name, pods: map[string]*k8sPod{},
		cni: &cniRunner{ovs: o, dir: dir, conf: cniConf(o, "10.0.0.0/8", t.TempDir(), "10s")}}
	t.Cleanup(func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, p := range n.pods {
			for _, cl := range p.closers {
				cl.Close()
			}
			n.cni.del(p.cniPod)
		}
	})
	return n
}

// startAgent runs `flowgate agent --config C --kubeconfig K --node-name N`
// (without --kubeconfig, as in a pod, when n.serviceAccount is set).
func (n *k8sNode) startAgent(t *testing.T) *agentProc {
	t.Helper()
	n.health = fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	cfg := fmt.Sprintf(`bridge: br-int
datapathType: netdev
ovsdb: %s
policyPaths: []
checkInterval: 300ms
logLevel: info
healthAddress: %s
kubernetes:
  enabled: true
  debounce: 20ms
  autoHostEndpoints: %t
`, n.ovs.DBAddr(), n.health, n.autoHEP)
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{log: &syncBuffer{}, done: make(chan struct{})}
	if n.serviceAccount != "" {
		a.cmd = n.inClusterCommand(t, flowgateBin, "agent", "--config", path, "--node-name", n.name)
	} else {
		kubeconfig := n.c.AgentKubeconfig
		if n.kubeconfig != "" {
			kubeconfig = n.kubeconfig
		}
		a.cmd = exec.Command(flowgateBin, "agent", "--config", path, "--kubeconfig", kubeconfig, "--node-name", n.name)
		a.cmd.Env = append(os.Environ(), n.ovs.Env()...)
	}
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.kill(syscall.SIGTERM)
		if t.Failed() {
			log := a.log.String()
			if i := strings.Index(log, "panic:"); i >= 0 { // the head of a crash, not just its stack's tail
				t.Logf("agent panicked:\n%s", firstLinesOf(log[i:], 40))
			}
			t.Logf("agent log tail:\n%s", lastLinesOf(log, 60))
		}
	})
	n.agent = a
	return a
}

// document is one YAML document as a generic object.
type document = map[string]any

func splitYAML(t testing.TB, data string) []document {
	t.Helper()
	var out []document
	for _, part := range strings.Split("\n"+data, "\n---") {
		var d document
		if err := yaml.Unmarshal([]byte(part), &d); err != nil {
			t.Fatalf("YAML: %v\n%s", err, part)
		}
		if len(d) > 0 {
			out = append(out, d)
		}
	}
	return out
}

func toYAML(t testing.TB, docs []document) string {
	t.Helper()
	var b strings.Builder
	for _, d := range docs {
		y, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.String()
}

// readWorld reads the namespaces and pods of an example world (files or
// YAML text), leaving everything else out.
func readWorld(t testing.TB, yamlText string) (namespaces, pods []document) {
	t.Helper()
	for _, d := range splitYAML(t, yamlText) {
		switch d["kind"] {
		case "Namespace":
			namespaces = append(namespaces, d)
		case "Pod":
			pods = append(pods, d)
		}
	}
	return namespaces, pods
}

// runPods does what the kubelet and the runtime do for pods bound to this
// node: the pod objects are created with kubectl (spec.nodeName = this
// node, no status), each gets its network namespace through flowgate-cni
// (asking host-local for the address its YAML's status names), the
// status subresource is patched with the IPs CNI returned, and the pod
// serves TCP (and UDP if udp) on ports. Namespaces are applied first.
func (n *k8sNode) runPods(t *testing.T, namespaces, pods []document, ports []int, udp bool) []*k8sPod {
	t.Helper()
	type want struct {
		ns, name, ip string
	}
	var wants []want
	var objs []document
	objs = append(objs, namespaces...)
	for _, p := range pods {
		md := p["metadata"].(map[string]any)
		ns, _ := md["namespace"].(string)
		if ns == "" {
			ns = "default"
			md["namespace"] = ns
		}
		ip := ""
		if st, ok := p["status"].(map[string]any); ok {
			ip, _ = st["podIP"].(string)
		}
		delete(p, "status")
		spec := p["spec"].(map[string]any)
		spec["nodeName"] = n.name
		spec["terminationGracePeriodSeconds"] = 0
		objs = append(objs, p)
		wants = append(wants, want{ns, md["name"].(string), ip})
	}
	n.c.kubectl(t, toYAML(t, objs), "apply", "-f", "-")
	out := make([]*k8sPod, len(wants))
	errs := make([]error, len(wants))
	var wg sync.WaitGroup
	for i, w := range wants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = n.startPod(w.ns, w.name, w.ip, ports, udp)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// startPod plumbs one pod that already exists in the API server.
func (n *k8sNode) startPod(ns, name, ip string, ports []int, udp bool) (*k8sPod, error) {
	cp, err := n.cni.addIP(ns, name, ip)
	if err != nil {
		return nil, err
	}
	p := &k8sPod{cniPod: cp}
	n.mu.Lock()
	n.pods[p.ID()] = p
	n.mu.Unlock()
	if err := n.setPodIP(p); err != nil {
		return nil, err
	}
	for _, port := range ports {
		ln, err := p.Workload.ListenTCP(port)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, ln)
		if udp {
			u, err := p.Workload.ListenUDP(port)
			if err != nil {
				return nil, err
			}
			p.closers = append(p.closers, u)
		}
	}
	return p, nil
}

// setPodIP reports the pod Running with its address, as the kubelet does
// after the runtime has set the sandbox up.
func (n *k8sNode) setPodIP(p *k8sPod) error {
	patch := fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}]}}`, p.IP, p.IP)
	_, err := n.c.client.CoreV1().Pods(p.Namespace).Patch(context.Background(), p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch status of %s: %w", p.ID(), err)
	}
	return nil
}

// deletePods deletes pods from the API server (at once: there is no
// kubelet) and tears their sandboxes down with CNI DEL.
func (n *k8sNode) deletePods(t *testing.T, pods []*k8sPod) {
	t.Helper()
	if len(pods) == 0 {
		return
	}
	byNS := map[string][]string{}
	for _, p := range pods {
		byNS[p.Namespace] = append(byNS[p.Namespace], p.Name)
	}
	for ns, names := range byNS {
		n.c.kubectl(t, "", append([]string{"delete", "pod", "-n", ns, "--grace-period=0", "--force", "--ignore-not-found"}, names...)...)
	}
	for _, p := range pods {
		for _, cl := range p.closers {
			cl.Close()
		}
		if err := n.cni.del(p.cniPod); err != nil {
			t.Error(err)
		}
		n.mu.Lock()
		delete(n.pods, p.ID())
		n.mu.Unlock()
	}
}

// clusterWorld reads everything policy reads from the API server, the way
// `kubectl get ... -o json` shows it, and decodes it with the same
// decoders: the reference the real traffic is compared against is the
// cluster's own state.
func (n *k8sNode) clusterWorld(t testing.TB) *evaluator.Evaluator {
	t.Helper()
	out := n.c.kubectl(t, "", "get", "-A", "-o", "json",
		"namespaces,pods,serviceaccounts,networkpolicies.networking.k8s.io,tiers.projectcalico.org,globalnetworkpolicies.projectcalico.org,networkpolicies.projectcalico.org,globalnetworksets.projectcalico.org,networksets.projectcalico.org,hostendpoints.projectcalico.org,clusternetworkpolicies.v1alpha2.policy.networking.k8s.io,adminnetworkpolicies.policy.networking.k8s.io,baselineadminnetworkpolicies.policy.networking.k8s.io")
	objs, errs := decode.Decode("cluster", []byte(out))
	w, berrs := decode.Build(objs)
	// Objects the agent reports as invalid are left out here too.
	for _, e := range append(errs, berrs...) {
		t.Logf("cluster state (not enforced): %v", e)
	}
	return evaluator.New(w, evaluator.DefaultOptions())
}

// probeCase is one connection to try and what should happen.
type probeCase struct {
	from, to *k8sPod
	proto    policy.Protocol
	port     int
	want     bool
	why      string
}

func (c probeCase) String() string {
	verdict := "denied"
	if c.want {
		verdict = "allowed"
	}
	return fmt.Sprintf("%s -> %s %s/%d should be %s (%s)", c.from.ID(), c.to.ID(), c.proto, c.port, verdict, c.why)
}

// expectFromCluster builds the probe cases between every ordered pair of
// pods, on ports, with the reference evaluator's verdicts on the cluster's
// current state.
func (n *k8sNode) expectFromCluster(t testing.TB, pods []*k8sPod, proto policy.Protocol, ports []int) []probeCase {
	t.Helper()
	ev := n.clusterWorld(t)
	var out []probeCase
	for _, from := range pods {
		for _, to := range pods {
			if from == to {
				continue
			}
			src, dst := ev.Endpoint(from.ID()), ev.Endpoint(to.ID())
			if src == nil || dst == nil {
				t.Fatalf("pod %s or %s is not in the cluster's world", from.ID(), to.ID())
			}
			for _, port := range ports {
				v := ev.Evaluate(src, dst, evaluator.Packet{Src: from.IP, Dst: to.IP, Protocol: proto, SrcPort: evaluator.SourcePort, DstPort: uint16(port)})
				out = append(out, probeCase{from: from, to: to, proto: proto, port: port, want: v.Allowed, why: v.Reason()})
			}
		}
	}
	return out
}

// probe runs the cases and returns, sorted, those real traffic disagreed
// with.
func probe(cases []probeCase) []probeCase {
	bad := disagreeing(cases, func(c probeCase) bool { return c.want }, func(c probeCase, timeout time.Duration) bool {
		addr := netip.AddrPortFrom(c.to.IP, uint16(c.port))
		if c.proto == policy.UDP {
			return c.from.Workload.ProbeUDP(addr, timeout)
		}
		return c.from.Workload.ProbeTCP(addr, timeout)
	})
	sort.Slice(bad, func(i, j int) bool { return bad[i].String() < bad[j].String() })
	return bad
}

// converge probes until real traffic agrees with cases() (re-evaluated
// each round) or the deadline passes, and reports how long it took.
func converge(t *testing.T, what string, timeout time.Duration, cases func() []probeCase) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		cs := cases()
		bad := probe(cs)
		if len(bad) == 0 {
			took := time.Since(start)
			t.Logf("%s: %d probes agree (%s)", what, len(cs), took.Round(time.Millisecond))
			return took
		}
		if time.Since(start) > timeout {
			var lines []string
			for _, b := range bad {
				lines = append(lines, "  "+b.String())
			}
			t.Fatalf("%s: after %s, %d of %d probes disagree:\n%s", what, timeout, len(bad), len(cs), strings.Join(lines, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readFileString reads an example file.
func readFileString(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func firstLinesOf(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
