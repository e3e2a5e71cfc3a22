package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/ovs/sandbox"
)

// runFlowgate runs the flowgate binary against the private OVS and returns
// its stdout, stderr and exit code.
func runFlowgate(t *testing.T, o *sandbox.OVS, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(flowgateBin, args...)
	cmd.Env = append(os.Environ(), o.Env()...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("flowgate %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// ruleStats runs `flowgate stats -o json` on br-int with the policy at
// path.
func ruleStats(t *testing.T, o *sandbox.OVS, path string) []agent.RuleStat {
	t.Helper()
	out, errOut, code := runFlowgate(t, o, "stats", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", path, "-o", "json")
	if code != 0 {
		t.Fatalf("stats exit %d: %s", code, errOut)
	}
	var stats []agent.RuleStat
	if err := json.Unmarshal([]byte(out), &stats); err != nil {
		t.Fatalf("stats -o json: %v\n%s", err, out)
	}
	return stats
}

// TestTraceVerifyStatsLive runs the agent on the database-allow-backends
// scene, sends real TCP connections, and checks what an operator reads:
// stats counts the real packets on the rule that allowed them and on the
// default that denied the others; trace names the deciding rule from the
// bridge and agrees with the evaluator; verify finds no disagreement, and
// finds them once a flow is tampered with; /metrics on the metrics
// address has the per-rule counters, the old names and Go's metrics; the
// agent logs JSON with --log-format json.
func TestTraceVerifyStatsLive(t *testing.T) {
	o, s := backendScene(t)
	ports := freePorts(t, 2)
	health, metrics := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	cfg := fmt.Sprintf("bridge: br-int\ndatapathType: netdev\novsdb: %s\npolicyPaths: [%s]\npollInterval: 100ms\n"+
		"checkInterval: 300ms\nlogLevel: info\nhealthAddress: %q\nmetricsAddress: %q\nstateDir: %s\n"+
		"verify:\n  enabled: true\n  interval: 300ms\n  sample: 40\n", o.DBAddr(), backendSeed, health, metrics, t.TempDir())
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, o, path, "--log-format", "json")
	waitFor(t, "/readyz ok", 20*time.Second, func() bool { code, _ := healthGet(health, "/readyz"); return code == http.StatusOK })

	const allowPolicy = "prod/knp.default.database-allow-backends"
	packetsOf := func(stats []agent.RuleStat, pred func(agent.RuleStat) bool) uint64 {
		var n uint64
		for _, st := range stats {
			if pred(st) {
				n += st.Packets
			}
		}
		return n
	}
	isAllowRule := func(st agent.RuleStat) bool {
		return st.Direction == "ingress" && st.Policy == allowPolicy && st.Rule == 0 && st.Action == "Allow"
	}
	isDefaultDeny := func(st agent.RuleStat) bool { return st.Direction == "ingress" && strings.Contains(st.Default, "deny") }
	before := ruleStats(t, o, backendSeed)
	if n := packetsOf(before, isAllowRule); n != 0 {
		t.Fatalf("the allow rule counted %d packets before any traffic: %+v", n, before)
	}

	for _, c := range s.Probe(2 * time.Second) {
		if c.Observed != c.Expected {
			t.Fatalf("%s -> %s:%d: traffic %v, evaluator %v (%s)", c.From, c.To, c.Port, c.Observed, c.Expected, c.Reason)
		}
	}
	after := ruleStats(t, o, backendSeed)
	// prod/backend and dev/backend reach the database: the first packet of
	// each connection meets the rule.
	if n := packetsOf(after, isAllowRule); n < 2 {
		t.Errorf("the allow rule of %s counted %d packets after two allowed connections: %+v", allowPolicy, n, after)
	}
	if packetsOf(after, isDefaultDeny) <= packetsOf(before, isDefaultDeny) {
		t.Errorf("the ingress default deny counted no packet of the denied connections: %+v", after)
	}

	trace := func(from, to string) (agent.TraceResult, int) {
		out, errOut, code := runFlowgate(t, o, "trace", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", backendSeed,
			"--from", from, "--to", to, "--port", "8080", "-o", "json")
		var r agent.TraceResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("trace -o json: %v\n%s\n%s", err, out, errOut)
		}
		return r, code
	}
	r, code := trace("prod/backend", "prod/database")
	if code != 0 || !r.Allowed || !r.Agree || !r.SameRules || r.Ingress == nil || r.Ingress.Policy != allowPolicy || r.Ingress.Rule != 0 {
		t.Errorf("trace prod/backend -> prod/database: exit %d, %+v (ingress %+v)", code, r, r.Ingress)
	}
	r, code = trace("prod/frontend", "prod/database")
	if code != 0 || r.Allowed || !r.Agree || r.Ingress != nil || !strings.Contains(r.IngressBy, "deny") {
		t.Errorf("trace prod/frontend -> prod/database: exit %d, %+v", code, r)
	}

	// --agent: the same answer from the policy the agent enforces.
	out, errOut, code := runFlowgate(t, o, "trace", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--agent", health,
		"--from", "prod/backend", "--to", "prod/database", "--port", "8080", "-o", "json")
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.Allowed || !r.Agree || r.Ingress == nil || r.Ingress.Policy != allowPolicy {
		t.Errorf("trace --agent: exit %d, %v, %+v\n%s", code, err, r, errOut)
	}

	text, _, code := runFlowgate(t, o, "trace", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", backendSeed,
		"--from", "prod/frontend", "--to", "prod/database", "--port", "8080")
	if code != 0 || !strings.HasPrefix(text, "DENIED") || !strings.Contains(text, "end of tier default: deny") || !strings.Contains(text, "  agree") {
		t.Errorf("trace (text): exit %d\n%s", code, text)
	}
	t.Logf("flowgate trace:\n%s", text)

	out, errOut, code = runFlowgate(t, o, "verify", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", backendSeed, "--sample", "150", "--seed", "3")
	if code != 0 || !strings.Contains(out, "150 connections traced, 0 disagree") {
		t.Errorf("verify: exit %d\n%s\n%s", code, out, errOut)
	}

	waitFor(t, "a self-verification run", 20*time.Second, func() bool {
		_, m := healthGet(metrics, "/metrics")
		return metricValue(m, "flowgate_verify_runs_total") >= 1 && metricValue(m, "flowgate_verify_connections_total") >= 40
	})
	code, m := healthGet(metrics, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("metrics address: %d %s", code, m)
	}
	for _, want := range []string{"flowgate_realizations_total", "flowgate_flow_operations_total", "flowgate_state_save_failing 0",
		"flowgate_last_realization_seconds", "flowgate_realization_seconds_bucket", "flowgate_build_info{", "go_goroutines",
		"process_resident_memory_bytes", "flowgate_table_flows{table=\"61\"}", "flowgate_held_ports 0", "flowgate_verify_last_disagreements 0", "flowgate_invalid_objects 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	rule := fmt.Sprintf(`flowgate_rule_packets_total{action="Allow",direction="ingress",policy=%q,rule="0",tier="default"}`, allowPolicy)
	if metricValue(m, rule) < 2 {
		t.Errorf("/metrics: %s below 2:\n%s", rule, grepLines(m, "flowgate_rule_"))
	}
	// Bytes of the same first packets: at least a minimal TCP SYN (54
	// bytes) each.
	ruleBytes := strings.Replace(rule, "flowgate_rule_packets_total", "flowgate_rule_bytes_total", 1)
	if got := metricValue(m, ruleBytes); got < 54*metricValue(m, rule) {
		t.Errorf("/metrics: %s = %v, want at least 54 bytes per packet counted:\n%s", ruleBytes, got, grepLines(m, "flowgate_rule_"))
	}
	if code, _ := healthGet(metrics, "/objects"); code != http.StatusNotFound {
		t.Errorf("the metrics address serves /objects (%d): it must stay on the loopback health address", code)
	}
	if !strings.Contains(a.log.String(), `"msg":"enforcement updated"`) {
		t.Errorf("--log-format json: the agent's log is not JSON:\n%s", a.log.String())
	}

	if metricValue(m, "flowgate_verify_last_rule_mismatches") != 0 || metricValue(m, "flowgate_verify_rule_mismatches_total") != 0 {
		t.Errorf("/metrics: rule mismatches on an untampered bridge:\n%s", grepLines(m, "flowgate_verify_"))
	}

	// A flow that ends every Deny tier of ingress with a rule's cookie and
	// an unknown rule id (as a stale or stray flow could) leaves every
	// verdict right but names the wrong deciding rule: verify lists these
	// apart, exit code still 0.
	a.kill(15)
	const mismatchCookie = "0x40001000007ff"
	// OpenFlow 1.5, as flowgate installs: set_field, which trace prints
	// as such (NXM would install load: actions).
	if out, err := o.Ofctl("-O", "OpenFlow15", "add-flow", "br-int", "table=62,priority=65000,cookie="+mismatchCookie+
		",reg6=0,reg7=0xff100000/0xfff00000,actions=set_field:0x2->reg6,set_field:0x7ff->reg4"); err != nil {
		t.Fatalf("add-flow: %v: %s", err, out)
	}
	out, _, code = runFlowgate(t, o, "verify", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", backendSeed, "--sample", "150", "--seed", "3")
	mismatches := regexp.MustCompile(`150 connections traced, 0 disagree with the evaluator, (\d+) agree but by another deciding rule`).FindStringSubmatch(out)
	if code != 0 || mismatches == nil || mismatches[1] == "0" || !strings.Contains(out, "RULE MISMATCH") || strings.Contains(out, "DISAGREE") {
		t.Errorf("verify with a wrong deciding rule: exit %d, want 0 with rule mismatches listed apart\n%s", code, out)
	}
	if out, err := o.Ofctl("del-flows", "br-int", "cookie="+mismatchCookie+"/-1"); err != nil {
		t.Fatalf("del-flows: %v: %s", err, out)
	}

	// A flow that allows every ingress (as a stray controller or a bug
	// could install) makes the bridge disagree: verify and trace say so.
	if out, err := o.Ofctl("add-flow", "br-int", "table=61,priority=65000,reg6=0,actions=set_field:0x1->reg6"); err != nil {
		t.Fatalf("add-flow: %v: %s", err, out)
	}
	out, _, code = runFlowgate(t, o, "verify", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", backendSeed, "--sample", "150", "--seed", "3")
	if code != 1 || strings.Contains(out, " 0 disagree") || !strings.Contains(out, "DISAGREE") {
		t.Errorf("verify after tampering: exit %d, want 1 with the disagreements\n%s", code, out)
	}
	r, code = trace("prod/frontend", "prod/database")
	if code != 1 || !r.Allowed || r.Agree {
		t.Errorf("trace after tampering: exit %d, %+v", code, r)
	}
}

// metricValue is the value of the first sample line starting with name
// (name may include its labels), -1 when absent.
func metricValue(metrics, name string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:\{[^}]*\})? (\S+)$`)
	m := re.FindStringSubmatch(metrics)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}
