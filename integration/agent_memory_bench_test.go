package integration

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/compiler/scalegen"
)

// BenchmarkAgentMemory runs the real `flowgate agent` on the compiler's
// scale world (translator/compiler/scalegen: 100,000 remote pods, 200
// local, 10,000 policies; AGENT_MEMORY_WORLD=small for a tenth), written
// once as YAML files the agent reads (policy.yaml, pods.yaml), with the
// local pods bound to internal ports of a private userspace OVS. It
// reports the agent's memory from /proc/PID/status — peak (VmHWM) and
// resident (VmRSS) right after the first sync, after 30 s idle and after
// ten policy changes — the time to the first sync, the CPU it took, and
// the flows installed.
//
//	go test -run '^$' -bench AgentMemory -benchtime 1x -timeout 30m ./integration/
//
// AGENT_CPUPROFILE=FILE makes the agent write a CPU profile there.
//
// It needs about 2 GiB free (agent and ovs-vswitchd); do not run it beside
// another large benchmark.
func BenchmarkAgentMemory(b *testing.B) {
	cfg, seed := scalegen.Target, uint64(1)
	if os.Getenv("AGENT_MEMORY_WORLD") == "small" {
		cfg = scalegen.Small
	}
	o := sandboxtest.New(b)
	if err := o.AddBridge("br-int"); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	g := scalegen.Generate(seed, cfg)
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(g.YAML), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "pods.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := g.WritePods(w); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(filepath.Join(dir, "pods.yaml"))
	b.Logf("world: %d pods (%d local), %d policies; pods.yaml %d MB, policy.yaml %d kB",
		len(g.Pods), len(g.Local), cfg.Policies, st.Size()>>20, len(g.YAML)>>10)

	// The local pods' ports, 50 to an ovs-vsctl call.
	for start := 0; start < len(g.Local); start += 50 {
		var args []string
		for i := start; i < min(start+50, len(g.Local)); i++ {
			name := fmt.Sprintf("lp%d", i)
			args = append(args, "--", "add-port", "br-int", name, "--", "set", "interface", name, "type=internal",
				"ofport_request="+strconv.Itoa(i+1), "external_ids:iface-id="+g.Local[i].ID(),
				fmt.Sprintf("external_ids:attached-mac=02:cc:00:00:%02x:%02x", i>>8, i&0xff))
		}
		if out, err := o.Vsctl(args[1:]...); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}

	conf := writeAgentConfigPoll(b, o.DBAddr(), dir, "2s")
	b.ResetTimer()
	started := time.Now()
	a := startAgent(b, o, conf, agentArgs()...)
	pid := a.cmd.Process.Pid
	// Sample VmRSS while it starts: VmHWM is the peak, but the samples show
	// when it is reached.
	var mu sync.Mutex
	var peakAt time.Duration
	peak := int64(0)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if m, err := procStatus(pid); err == nil && m["VmRSS"] > peak {
				mu.Lock()
				peak, peakAt = m["VmRSS"], time.Since(started)
				mu.Unlock()
			}
			select {
			case <-stopSampling:
				return
			case <-a.done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	waitFor(b, "first sync", 15*time.Minute, func() bool {
		select {
		case <-a.done:
			b.Fatalf("the agent exited before its first sync:\n%s", tail(a.log.String(), 30))
		default:
		}
		return strings.Contains(a.log.String(), "flows replaced")
	})
	firstSync := time.Since(started)
	atSync := mustStatus(b, pid)
	cpuSync := cpuSeconds(b, pid)
	flows, _ := o.Ofctl("dump-aggregate", "br-int")

	time.Sleep(30 * time.Second)
	idle := mustStatus(b, pid)

	// Ten policy changes: a global policy over every local pod, its port
	// changing each time.
	var took []time.Duration
	for i := 0; i < 10; i++ {
		before := strings.Count(a.log.String(), "enforcement updated")
		t0 := time.Now()
		err := os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: bench-extra}
spec: {order: 5, selector: "has(app)", ingress: [{action: Allow, protocol: TCP, destination: {ports: [%d]}}]}
`, 9000+i)), 0o644)
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, "a policy change", time.Minute, func() bool {
			return strings.Count(a.log.String(), "enforcement updated") > before
		})
		took = append(took, time.Since(t0))
	}
	afterChanges := mustStatus(b, pid)
	close(stopSampling)
	<-sampled
	b.StopTimer()

	mib := func(kb int64) float64 { return float64(kb) / 1024 }
	b.ReportMetric(firstSync.Seconds(), "first-sync-s")
	b.ReportMetric(cpuSync, "cpu-s-to-sync")
	b.ReportMetric(mib(afterChanges["VmHWM"]), "peak-MiB")
	b.ReportMetric(mib(atSync["VmRSS"]), "rss-synced-MiB")
	b.ReportMetric(mib(idle["VmRSS"]), "rss-idle30s-MiB")
	b.ReportMetric(mib(afterChanges["VmRSS"]), "rss-after-changes-MiB")
	b.Logf("installed: %s", strings.TrimSpace(flows))
	b.Logf("peak RSS %.0f MiB (sampled %.0f MiB at %s; VmHWM at sync %.0f MiB); policy changes took %v",
		mib(afterChanges["VmHWM"]), mib(peak), peakAt.Round(100*time.Millisecond), mib(atSync["VmHWM"]), took)
	// Each change's stages as the agent logged them (the benchmark output
	// is cut after ten lines or so: these come last).
	for _, line := range strings.Split(a.log.String(), "\n") {
		if strings.Contains(line, "enforcement updated") && !strings.Contains(line, "full=true") {
			b.Logf("%s", line[strings.Index(line, "msg="):])
		}
	}
}

// procStatus reads the kB fields of /proc/PID/status (VmRSS, VmHWM, ...).
func procStatus(pid int) (map[string]int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				m[k] = n
			}
		}
	}
	return m, nil
}

func mustStatus(b *testing.B, pid int) map[string]int64 {
	b.Helper()
	m, err := procStatus(pid)
	if err != nil {
		b.Fatalf("agent status: %v", err)
	}
	return m
}

// cpuSeconds is the user+system CPU time the process has used.
func cpuSeconds(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which is in parentheses): utime and
	// stime are the 14th and 15th fields of the line, in clock ticks.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
