package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// BenchmarkRealizationLatency measures, through the real agent, the time
// from a policy file written (or a local endpoint relabelled) to its flows
// committed on the bridge, over 100 changes, on a generated world of 400
// pods and 100 policies with 40 pods local (about 13k installed flows). It
// reports p50/p99, the agent's own part, and the p50 of every stage the
// agent logs (read, build, bind, diff, compile, bundle, purge). The agent
// sees changes through inotify; its poll interval (500 ms, the default) is
// the fallback, so a broken notification shows as ~250 ms latencies.
//
// The first local pod lives in a file of its own, as one object per file
// is how a policy directory is kept; a relabel rewrites that file.
//
//	go test -run '^$' -bench RealizationLatency -benchtime 1x ./integration/
//
// AGENT_CPUPROFILE=FILE makes the agent write a CPU profile there.
func BenchmarkRealizationLatency(b *testing.B) {
	o := sandboxtest.New(b)
	if err := o.AddBridge("br-int"); err != nil {
		b.Fatal(err)
	}
	gen := evaltest.Generate(7, 400, 100)
	dir := b.TempDir()
	pod0, rest := splitPod(b, gen.YAML, gen.Pods[0].Namespace, gen.Pods[0].Name)
	if err := os.WriteFile(filepath.Join(dir, "world.yaml"), []byte(rest), 0o644); err != nil {
		b.Fatal(err)
	}
	pod0File := filepath.Join(dir, "pod-0.yaml")
	if err := os.WriteFile(pod0File, []byte(pod0), 0o644); err != nil {
		b.Fatal(err)
	}
	version := regexp.MustCompile(`version: v\d+`).FindString(pod0)
	if version == "" {
		b.Fatalf("pod %s has no version label:\n%s", gen.Pods[0], pod0)
	}
	// Local pods: internal ports carrying the pods' iface-ids.
	const locals = 40
	var args []string
	for i := 0; i < locals; i++ {
		name := fmt.Sprintf("lp%d", i)
		args = append(args, "--", "add-port", "br-int", name, "--", "set", "interface", name, "type=internal",
			"ofport_request="+strconv.Itoa(i+1),
			fmt.Sprintf("external_ids:iface-id=%s", gen.Pods[i].String()),
			fmt.Sprintf("external_ids:attached-mac=02:bb:00:00:%02x:%02x", i>>8, i&0xff))
	}
	if out, err := o.Vsctl(args[1:]...); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	cfg := writeAgentConfigPoll(b, o.DBAddr(), dir, "500ms")
	a := startAgent(b, o, cfg, agentArgs()...)
	waitFor(b, "first sync", 60*time.Second, func() bool { return strings.Contains(a.log.String(), "flows replaced") })
	flows, _ := o.Ofctl("dump-aggregate", "br-int")
	b.Logf("installed: %s", strings.TrimSpace(flows))

	var lat []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := 0; i < 100; i++ {
			// Only the log written after the change is searched: scanning
			// the whole log every millisecond would take a core from the
			// agent.
			from := len(a.log.String())
			start := time.Now()
			var err error
			if i%2 == 0 {
				// A new policy: every local pod's app may talk to port 9000+i.
				err = os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: bench-extra}
spec:
  order: 5
  selector: "has(app)"
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [%d]}}]
`, 9000+i)), 0o644)
			} else {
				// Relabel the first local pod: its version label flips between
				// its own and one no policy names, which moves it in and out
				// of the policies that exclude its version.
				v := version
				if i%4 == 1 {
					v = "version: v9"
				}
				err = os.WriteFile(pod0File, []byte(strings.Replace(pod0, version, v, 1)), 0o644)
			}
			if err != nil {
				b.Fatal(err)
			}
			// Polled every millisecond: waitFor's 20 ms would be a visible
			// part of what is measured.
			for !strings.Contains(a.log.String()[from:], "enforcement updated") {
				if time.Since(start) > 30*time.Second {
					b.Fatalf("change %d not enforced after 30 s:\n%s", i, a.log.String())
				}
				time.Sleep(time.Millisecond)
			}
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	// The agent's own part (took: build to purge) and each stage, as it
	// logs them, without the file notification around them.
	stages := map[string][]float64{}
	for _, line := range strings.Split(a.log.String(), "\n") {
		if !strings.Contains(line, "enforcement updated") || strings.Contains(line, "full=true") {
			continue
		}
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if k == "took" {
				if d, err := time.ParseDuration(v); err == nil {
					stages["realize"] = append(stages["realize"], float64(d.Microseconds())/1000)
				}
			} else if name, ok := strings.CutSuffix(k, "Ms"); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					stages[name] = append(stages[name], x)
				}
			}
		}
	}
	for name, xs := range stages {
		sort.Float64s(xs)
		b.ReportMetric(xs[len(xs)/2], name+"-p50-ms")
		b.ReportMetric(xs[len(xs)*99/100], name+"-p99-ms")
		b.Logf("%-8s p50 %7.2f ms  p90 %7.2f ms  largest %v ms", name, xs[len(xs)/2], xs[len(xs)*9/10], xs[max(0, len(xs)-3):])
	}
}

// agentArgs are extra agent flags from the environment: a CPU profile.
func agentArgs() []string {
	if p := os.Getenv("AGENT_CPUPROFILE"); p != "" {
		return []string{"--cpuprofile", p}
	}
	return nil
}

// splitPod takes pod ns/name's document out of a multi-document YAML and
// returns it and the rest.
func splitPod(tb testing.TB, yaml, ns, name string) (pod, rest string) {
	tb.Helper()
	docs := strings.Split(yaml, "\n---\n")
	for i, d := range docs {
		if strings.Contains(d, "kind: Pod\n") && strings.Contains(d, "\n  name: "+name+"\n") && strings.Contains(d, "\n  namespace: "+ns+"\n") {
			return d + "\n", strings.Join(append(docs[:i:i], docs[i+1:]...), "\n---\n")
		}
	}
	tb.Fatalf("no pod %s/%s in the world", ns, name)
	return "", ""
}
