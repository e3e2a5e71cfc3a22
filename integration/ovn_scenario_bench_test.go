package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// BenchmarkOVNScenario runs flowgate on the exact objects of OVN's own
// NetworkPolicy benchmark (bench/ovn: the scenario ovn-kubernetes is
// measured on, written as Kubernetes YAML by bench/ovn/export_k8s.py), so
// that its numbers stand beside OVN's in bench/ovn/ovn-results-*.md
// (docs/benchmarks.md, "Beside OVN"). The scale is
// FLOWGATE_OVN_SCALE=pods:policies:namespaces:local (default
// 10000:1000:100:50). It measures, on a private userspace OVS with the
// node's local pods as internal ports bound by iface-id:
//
//   - cold: `flowgate apply` process start to exit, YAML reading included;
//   - raw: `ovs-ofctl --bundle add-flows` of the same flows (as OVS dumps
//     them) into an empty bridge, the install rate flowgate is held to;
//   - applies onto the programmed bridge: the same command again
//     FLOWGATE_OVN_AGAIN times (default 2), and the flow mods each sent
//     (counted from ovs-vswitchd's connmgr log; must be 0): it finds the
//     record the cold apply left on the bridge and only digests the
//     bridge's flows;
//   - agent starts onto the programmed bridge (restarts), as many: time to
//     its first "enforcement updated" and its flow mods (must be 0);
//   - +1 / −1 remote pod IP (changes.json's new prometheus pods, each a
//     file renamed into the policy directory, then removed in the same
//     order) and relabelling one local pod into and out of policies (its
//     own file rewritten by rename): file renamed → the agent's
//     "enforcement updated" line, i.e. after the bundle committed;
//   - the agent's RSS right after all changes, and 3 s later (it returns
//     its garbage to the system after 1 s without changes);
//   - with FLOWGATE_OVN_STEADY=N, N more relabels one after the other and
//     the agent's RSS after the first 100 and after all N: whether its
//     memory levels off.
//
// FLOWGATE_OVN_MEMPROFILE=FILE has the last agent write its heap profile
// there when it stops; FLOWGATE_OVN_JSON=1 gives flowgate the world and the
// policies as JSON Lists instead of YAML (the same objects).
//
// Numbers are printed (on stdout: b.Log keeps only 10 lines of a benchmark) and reported as metrics; nothing is asserted
// about time. The machine's load average is printed with them.
func BenchmarkOVNScenario(b *testing.B) {
	sandboxtest.Require(b)
	scale := os.Getenv("FLOWGATE_OVN_SCALE")
	if scale == "" {
		scale = "10000:1000:100:50"
	}
	parts := strings.Split(scale, ":")
	if len(parts) != 4 {
		b.Fatalf("FLOWGATE_OVN_SCALE=%q: want pods:policies:namespaces:local", scale)
	}
	dir := b.TempDir()
	export := filepath.Join(dir, "export")
	gen := exec.Command("python3", "../bench/ovn/export_k8s.py", "--pods", parts[0], "--policies", parts[1],
		"--namespaces", parts[2], "--local", parts[3], "--out", export)
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("export the scenario: %v\n%s", err, out)
	}
	var changes ovnChanges
	if data, err := os.ReadFile(filepath.Join(export, "changes.json")); err != nil {
		b.Fatal(err)
	} else if err := json.Unmarshal(data, &changes); err != nil {
		b.Fatalf("changes.json: %v", err)
	}
	policyDir := filepath.Join(dir, "policy")
	mover := changes.Relabel.Pod
	moverDoc := splitOVNWorld(b, export, policyDir, mover.Namespace, mover.Name)
	if os.Getenv("FLOWGATE_OVN_JSON") == "1" {
		for _, f := range []string{"world", "policies"} {
			ovnFileAsJSONList(b, filepath.Join(policyDir, f+".yaml"))
		}
	}

	o := sandboxtest.New(b)
	if err := o.AddBridge("br-int"); err != nil {
		b.Fatal(err)
	}
	addOVNLocalPorts(b, o, filepath.Join(export, "local.txt"))
	env := append(os.Environ(), o.Env()...)
	apply := func() (time.Duration, string) {
		cmd := exec.Command(flowgateBin, "apply", "--bridge", "br-int", "--ovsdb", o.DBAddr(), "--datapath-type", "netdev", "--node", "node-1", "-f", policyDir)
		cmd.Env = env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("flowgate apply: %v\n%s", err, out)
		}
		return took, string(out)
	}

	benchLog("scale %s; load average %s", scale, loadAverage())
	cold, out := apply()
	flows := flowCountOf(b, o, "br-int")
	benchLog("cold apply: %s, %d flows (load %s)\n%s", cold.Round(time.Millisecond), flows, loadAverage(), lastLines(out, 6))
	b.ReportMetric(cold.Seconds(), "cold-s")
	b.ReportMetric(float64(flows), "flows")

	rawTook := rawInstall(b, o, "br-int")
	benchLog("raw ovs-ofctl --bundle add-flows of the same %d flows: %s (%.0f flows/s; flowgate's apply as a whole %.0f flows/s) (load %s)",
		flows, rawTook.Round(time.Millisecond), float64(flows)/rawTook.Seconds(), float64(flows)/cold.Seconds(), loadAverage())
	b.ReportMetric(rawTook.Seconds(), "raw-install-s")

	// Every apply and agent start after the cold one finds the right
	// flows on the bridge and must change none.
	agains := benchEnvInt("FLOWGATE_OVN_AGAIN", 2)
	var againTook []time.Duration
	againMods := 0
	for i := range agains {
		mark := vswitchdLogSize(o)
		took, out := apply()
		mods := flowModsSince(b, o, mark)
		againTook, againMods = append(againTook, took), againMods+mods
		benchLog("apply %d onto the programmed bridge: %s, %d flow mods (load %s)\n%s", i+2, took.Round(time.Millisecond), mods, loadAverage(), lastLines(out, 3))
	}
	b.ReportMetric(percentile(againTook, 0.5).Seconds(), "second-apply-s")
	b.ReportMetric(float64(againMods), "second-apply-flowmods")

	cfg := fmt.Sprintf("bridge: br-int\ndatapathType: netdev\novsdb: %s\nnode: node-1\npolicyPaths: [%q]\n"+
		"checkInterval: 2s\nlogLevel: info\nhealthAddress: \"\"\nstateDir: %s\n", o.DBAddr(), policyDir, filepath.Join(dir, "state"))
	var agentArgs []string
	if p := os.Getenv("FLOWGATE_OVN_MEMPROFILE"); p != "" {
		agentArgs = []string{"--memprofile", p}
	}
	var a *benchAgent
	var next int
	var startTook []time.Duration
	startMods := 0
	for i := range agains {
		if a != nil {
			a.stop(b)
		}
		mark := vswitchdLogSize(o)
		started := time.Now()
		a = startAgentProcess(b, o, cfg, agentArgs...)
		var ready time.Time
		ready, next = a.waitLine(b, 0, "enforcement updated", 10*time.Minute)
		mods := flowModsSince(b, o, mark)
		startTook, startMods = append(startTook, ready.Sub(started)), startMods+mods
		benchLog("agent start %d onto the programmed bridge: %s to enforcing, %d flow mods (load %s)", i+1, ready.Sub(started).Round(time.Millisecond), mods, loadAverage())
	}
	b.ReportMetric(percentile(startTook, 0.5).Seconds(), "agent-start-s")
	b.ReportMetric(float64(startMods), "agent-start-flowmods")
	_, rssStart, _ := procStats(a.cmd.Process.Pid)

	// change writes one file by rename and waits for the agent to report
	// the change enforced.
	change := func(what string, do func()) time.Duration {
		at := time.Now()
		do()
		seen, n, line := a.waitText(b, next, "enforcement updated", time.Minute)
		next = n
		benchLog("%s: %s | %s", what, seen.Sub(at).Round(100*time.Microsecond), agentStages(line))
		return seen.Sub(at)
	}
	var addIP, delIP, enter, leave []time.Duration
	for i, s := range changes.AddIP.Samples {
		doc, err := yaml.Marshal(s.Pod)
		if err != nil {
			b.Fatal(err)
		}
		addIP = append(addIP, change("+1 remote IP "+s.IP, func() { writeByRename(b, filepath.Join(policyDir, fmt.Sprintf("new-%d.yaml", i)), doc) }))
	}
	for i, s := range changes.AddIP.Samples {
		delIP = append(delIP, change("-1 remote IP "+s.IP, func() {
			if err := os.Remove(filepath.Join(policyDir, fmt.Sprintf("new-%d.yaml", i))); err != nil {
				b.Fatal(err)
			}
		}))
	}
	before, after := moverLabel(changes.Relabel.LabelsBefore), moverLabel(changes.Relabel.LabelsAfter)
	for range max(changes.Repeat, 1) {
		enter = append(enter, change("relabel "+before+" → "+after, func() {
			writeByRename(b, filepath.Join(policyDir, "mover.yaml"), []byte(strings.Replace(moverDoc, "app: "+before, "app: "+after, 1)))
		}))
		leave = append(leave, change("relabel "+after+" → "+before, func() {
			writeByRename(b, filepath.Join(policyDir, "mover.yaml"), []byte(moverDoc))
		}))
	}
	_, rss, hwm := procStats(a.cmd.Process.Pid)
	time.Sleep(3 * time.Second) // the agent returns its garbage after 1 s without changes
	_, rssIdle, _ := procStats(a.cmd.Process.Pid)
	benchLog("agent RSS %d MiB after start, %d MiB right after the changes, %d MiB 3 s later (peak %d MiB)", rssStart>>20, rss>>20, rssIdle>>20, hwm>>20)
	b.ReportMetric(float64(rss>>20), "agent-rss-MiB")
	b.ReportMetric(float64(rssIdle>>20), "agent-rss-idle-MiB")
	if steady := benchEnvInt("FLOWGATE_OVN_STEADY", 0); steady > 0 {
		// Whether the agent's memory levels off: relabel the pod in and
		// out steady times, RSS after the first 100 and after all.
		var lat []time.Duration
		var rss100, idle100 int64
		for i := range steady {
			doc := moverDoc
			if i%2 == 0 {
				doc = strings.Replace(moverDoc, "app: "+before, "app: "+after, 1)
			}
			at := time.Now()
			writeByRename(b, filepath.Join(policyDir, "mover.yaml"), []byte(doc))
			var seen time.Time
			seen, next, _ = a.waitText(b, next, "enforcement updated", time.Minute)
			lat = append(lat, seen.Sub(at))
			if i+1 == min(100, steady) {
				_, rss100, _ = procStats(a.cmd.Process.Pid)
				time.Sleep(3 * time.Second)
				_, idle100, _ = procStats(a.cmd.Process.Pid)
			}
		}
		_, rssN, hwmN := procStats(a.cmd.Process.Pid)
		time.Sleep(3 * time.Second)
		_, idleN, _ := procStats(a.cmd.Process.Pid)
		benchLog("steady: %d relabels, p50 %s p99 %s max %s; agent RSS after 100: %d MiB (3 s later %d); after %d: %d MiB (3 s later %d; peak %d) (load %s)",
			steady, percentile(lat, 0.5).Round(100*time.Microsecond), percentile(lat, 0.99).Round(100*time.Microsecond), percentile(lat, 1).Round(100*time.Microsecond),
			rss100>>20, idle100>>20, steady, rssN>>20, idleN>>20, hwmN>>20, loadAverage())
		b.ReportMetric(float64(idleN>>20), "agent-rss-idle-after-steady-MiB")
	}
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"add-ip", addIP}, {"del-ip", delIP}, {"relabel-enter", enter}, {"relabel-leave", leave}} {
		b.ReportMetric(float64(percentile(m.ds, 0.5).Microseconds())/1000, m.name+"-p50-ms")
		benchLog("%-14s p50 %s max %s (%d samples)", m.name, percentile(m.ds, 0.5).Round(100*time.Microsecond), percentile(m.ds, 1).Round(100*time.Microsecond), len(m.ds))
	}
	benchLog("load average at the end %s", loadAverage())
}

// ovnChanges is what BenchmarkOVNScenario reads of export_k8s.py's
// changes.json.
type ovnChanges struct {
	Repeat int `json:"repeat"`
	AddIP  struct {
		Samples []struct {
			IP  string         `json:"ip"`
			Pod map[string]any `json:"pod"`
		} `json:"samples"`
	} `json:"address_set_add_ip"`
	Relabel struct {
		Pod struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"pod"`
		LabelsBefore map[string]string `json:"labels_before"`
		LabelsAfter  map[string]string `json:"labels_after"`
	} `json:"pod_relabel"`
}

// moverLabel is the app label of a relabel state.
func moverLabel(labels map[string]string) string { return labels["app"] }

// splitOVNWorld copies the export's world.yaml and policies.yaml into
// policyDir with the relabelled pod moved into a file of its own
// (mover.yaml), so that relabelling it rewrites one small file, as a
// Kubernetes watch delivers one object; it returns that pod's document.
func splitOVNWorld(b *testing.B, export, policyDir, namespace, name string) string {
	b.Helper()
	if err := os.MkdirAll(policyDir, 0o755); err != nil {
		b.Fatal(err)
	}
	world, err := os.ReadFile(filepath.Join(export, "world.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	docs := strings.Split(string(world), "\n---\n")
	var mover string
	var rest []string
	for _, d := range docs {
		if strings.Contains(d, "\nkind: Pod\n") && strings.Contains(d, "\n  name: "+name+"\n") && strings.Contains(d, "\n  namespace: "+namespace+"\n") {
			mover = d
			continue
		}
		rest = append(rest, d)
	}
	if mover == "" {
		b.Fatalf("pod %s/%s not in world.yaml", namespace, name)
	}
	if !strings.HasSuffix(mover, "\n") {
		mover += "\n"
	}
	for f, data := range map[string]string{"world.yaml": strings.Join(rest, "\n---\n"), "mover.yaml": mover} {
		if err := os.WriteFile(filepath.Join(policyDir, f), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	pol, err := os.ReadFile(filepath.Join(export, "policies.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(policyDir, "policies.yaml"), pol, 0o644); err != nil {
		b.Fatal(err)
	}
	return mover
}

// ovnFileAsJSONList replaces a YAML file of documents with the same
// objects as one JSON v1 List (what `kubectl get -o json` writes), file.json.
func ovnFileAsJSONList(b *testing.B, file string) {
	b.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	var list bytes.Buffer
	list.WriteString(`{"apiVersion":"v1","kind":"List","items":[`)
	n := 0
	for _, doc := range strings.Split(string(data), "\n---\n") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			b.Fatalf("%s: %v", file, err)
		}
		if string(js) == "null" { // comments only
			continue
		}
		if n > 0 {
			list.WriteByte(',')
		}
		list.Write(js)
		n++
	}
	list.WriteString("]}\n")
	if err := os.WriteFile(strings.TrimSuffix(file, ".yaml")+".json", list.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		b.Fatal(err)
	}
}

// addOVNLocalPorts adds local.txt's pods to br-int as internal ports whose
// iface-id is namespace/name (flowgate's binding; ovnbench uses ns_name),
// in one ovs-vsctl transaction.
func addOVNLocalPorts(b *testing.B, o *sandbox.OVS, localTxt string) {
	b.Helper()
	data, err := os.ReadFile(localTxt)
	if err != nil {
		b.Fatal(err)
	}
	var args []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || strings.HasPrefix(l, "#") {
			continue
		}
		args = append(args, "--", "add-port", "br-int", f[1], "--", "set", "Interface", f[1], "type=internal",
			"external_ids:iface-id="+f[0], "external_ids:attached-mac="+f[3])
	}
	if _, err := o.Vsctl(args[1:]...); err != nil {
		b.Fatalf("add local ports: %v", err)
	}
}

var flowCountRe = regexp.MustCompile(`flow_count=(\d+)`)

// flowCountOf is the number of flows on br.
func flowCountOf(b *testing.B, o *sandbox.OVS, br string) int {
	b.Helper()
	out, err := o.Ofctl("-O", "OpenFlow15", "dump-aggregate", br)
	if err != nil {
		b.Fatal(err)
	}
	m := flowCountRe.FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("dump-aggregate: %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// rawInstall dumps br's flows and times one `ovs-ofctl --bundle
// add-flows` of them into a new empty bridge, which is then deleted.
func rawInstall(b *testing.B, o *sandbox.OVS, br string) time.Duration {
	b.Helper()
	out, err := o.Ofctl("-O", "OpenFlow15", "--no-stats", "dump-flows", br)
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "flows.txt")
	if err := os.WriteFile(file, []byte(strings.Join(openflow.FlowLines(out), "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := o.AddBridge("br-raw"); err != nil {
		b.Fatal(err)
	}
	defer o.Vsctl("del-br", "br-raw")
	start := time.Now()
	if out, err := o.Ofctl("-O", "OpenFlow15", "--bundle", "add-flows", "br-raw", file); err != nil {
		b.Fatalf("raw install: %v: %s", err, out)
	}
	return time.Since(start)
}

func vswitchdLogSize(o *sandbox.OVS) int64 {
	fi, err := os.Stat(filepath.Join(o.Dir, "ovs-vswitchd.log"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

var flowModsRe = regexp.MustCompile(`(\d+) flow_mods in the last`)

// flowModsSince sums the flow mods ovs-vswitchd logged (connmgr logs each
// OpenFlow connection's count when it closes, and every minute while it is
// open) after the log had mark bytes.
func flowModsSince(b *testing.B, o *sandbox.OVS, mark int64) int {
	b.Helper()
	time.Sleep(200 * time.Millisecond) // the closing connection's line
	data, err := os.ReadFile(filepath.Join(o.Dir, "ovs-vswitchd.log"))
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, m := range flowModsRe.FindAllSubmatch(data[min(int(mark), len(data)):], -1) {
		v, _ := strconv.Atoi(string(m[1]))
		n += v
	}
	return n
}

// writeByRename replaces path's content atomically, as an editor or a
// ConfigMap update does.
func writeByRename(b *testing.B, path string, data []byte) {
	b.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
}

var stageRe = regexp.MustCompile(`\b(\w+Ms|flowOps|changes)=(\S+)`)

// agentStages is the per-stage timing fields of an "enforcement updated"
// line.
func agentStages(line string) string {
	var out []string
	for _, m := range stageRe.FindAllStringSubmatch(line, -1) {
		out = append(out, m[1]+"="+m[2])
	}
	return strings.Join(out, " ")
}

func loadAverage() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// benchLog prints one line of a benchmark's results on stdout, whole
// (testing truncates a benchmark's b.Log output to 10 lines).
func benchLog(format string, args ...any) {
	fmt.Printf("    "+format+"\n", args...)
}
