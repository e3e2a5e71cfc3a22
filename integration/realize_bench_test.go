package integration

import (
	"fmt"
	"os"
	"path/filepath"
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
// committed on the bridge, over 100 changes, on a generated world of 2,000
// pods and 300 policies with 60 pods local (about 10k installed flows). It
// reports p50/p99 and the installed flow count. The agent polls the policy
// directory every 20 ms, which bounds the detection part of the latency.
//
//	go test -run '^$' -bench RealizationLatency -benchtime 1x ./integration/
func BenchmarkRealizationLatency(b *testing.B) {
	o := sandboxtest.New(b)
	if err := o.AddBridge("br-int"); err != nil {
		b.Fatal(err)
	}
	gen := evaltest.Generate(7, 400, 100)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "world.yaml"), []byte(gen.YAML), 0o644); err != nil {
		b.Fatal(err)
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
	cfg := writeAgentConfigPoll(b, o.DBAddr(), dir, "20ms")
	a := startAgent(b, o, cfg)
	waitFor(b, "first sync", 60*time.Second, func() bool { return strings.Contains(a.log.String(), "flows replaced") })
	flows, _ := o.Ofctl("dump-aggregate", "br-int")
	b.Logf("installed: %s", strings.TrimSpace(flows))

	var lat []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := 0; i < 100; i++ {
			before := strings.Count(a.log.String(), "enforcement updated")
			start := time.Now()
			var err error
			if i%2 == 0 {
				// A new policy: the first local pod's app may talk to port 9000+i.
				err = os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: bench-extra}
spec:
  order: 5
  selector: "has(app)"
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [%d]}}]
`, 9000+i)), 0o644)
			} else {
				// Relabel: a pod object of its own overriding the first local pod.
				err = os.WriteFile(filepath.Join(dir, "world.yaml"), []byte(strings.Replace(gen.YAML, "version: v1", fmt.Sprintf("version: v%d", i+10), 1)), 0o644)
			}
			if err != nil {
				b.Fatal(err)
			}
			waitFor(b, "the change to be enforced", 30*time.Second, func() bool {
				return strings.Count(a.log.String(), "enforcement updated") > before
			})
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	// The agent's own part: compile plus bundle plus datapath purge, as it
	// logs it, without the file polling and decoding around it.
	var took []time.Duration
	for _, line := range strings.Split(a.log.String(), "\n") {
		if !strings.Contains(line, "enforcement updated") || strings.Contains(line, "full=true") {
			continue
		}
		if i := strings.Index(line, "took="); i >= 0 {
			if d, err := time.ParseDuration(strings.Fields(line[i+5:])[0]); err == nil {
				took = append(took, d)
			}
		}
	}
	if len(took) > 0 {
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "realize-p50-ms")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "realize-p99-ms")
	}
}
