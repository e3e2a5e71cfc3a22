package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/sandbox"
)

// TestApplyRecordFailsClosed: `flowgate apply` records on the bridge
// (external_ids:flowgate-apply) which input its flows are the compilation
// of and the digest of that compilation, and a later apply of the same
// input onto the same ports skips decoding, compiling and comparing only
// while the bridge's flows are exactly those: a flow whose actions were
// edited behind its back, a deleted flow, an added flow, a new port and a
// changed input file each make the next apply compile and compare
// everything and put the right flows back.
func TestApplyRecordFailsClosed(t *testing.T) {
	o, dir := backendSceneCopy(t)
	apply := func() string {
		t.Helper()
		cmd := exec.Command(flowgateBin, "apply", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev", "-f", dir)
		cmd.Env = append(os.Environ(), o.Env()...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("flowgate apply: %v\n%s", err, out)
		}
		return string(out)
	}
	// compiled: the apply compiled and compared (its engine logs "flows
	// replaced" whatever it found); a shortcut prints only its summary.
	compiled := func(out string) bool { return strings.Contains(out, "flows replaced") }

	if out := apply(); strings.Contains(out, "no changes") {
		t.Fatalf("first apply on an empty bridge reported no changes: %s", out)
	}
	if rec, err := o.Vsctl("get", "Bridge", "br-int", "external_ids:flowgate-apply"); err != nil || !strings.HasPrefix(strings.Trim(strings.TrimSpace(rec), `"`), "v1 ") ||
		strings.Contains(rec, " - ") {
		t.Fatalf("no apply record with the desired flows' digest on the bridge after an apply: %q %v", rec, err)
	}
	want := sortedFlows(t, o)
	if out := apply(); !strings.Contains(out, "no changes") || compiled(out) {
		t.Fatalf("second apply of the same input onto the flows it installed: want the shortcut:\n%s", out)
	}

	// One flow of each kind of tampering, each undone by the next apply.
	some := stripCookie(strings.SplitN(want[len(want)/2], " actions=", 2)[0])
	tamper := map[string][]string{
		"actions edited": {"--strict", "mod-flows", "br-int", some + " actions=drop"},
		"flow deleted":   {"--strict", "del-flows", "br-int", some},
		"flow added":     {"add-flow", "br-int", "table=0,priority=65535,actions=NORMAL"},
	}
	for _, what := range []string{"actions edited", "flow deleted", "flow added"} {
		args := tamper[what]
		if out, err := o.Ofctl(append([]string{"-O", "OpenFlow15"}, args...)...); err != nil {
			t.Fatalf("%s: %v: %s", what, err, out)
		}
		if got := sortedFlows(t, o); equalLines(got, want) {
			t.Fatalf("%s: tampering changed nothing (%v)", what, args)
		}
		out := apply()
		if !compiled(out) || strings.Contains(out, "no changes") {
			t.Fatalf("%s behind flowgate's back: the next apply did not compile and fix it:\n%s", what, out)
		}
		if got := sortedFlows(t, o); !equalLines(got, want) {
			t.Fatalf("%s: after apply the bridge does not hold the verified flows again", what)
		}
		if out := apply(); compiled(out) || !strings.Contains(out, "no changes") {
			t.Fatalf("%s, fixed: the next apply should take the shortcut again:\n%s", what, out)
		}
	}

	// A new workload port (held: its traffic dropped until bound) and a
	// changed input file each change the fingerprint.
	if _, err := o.Vsctl("add-port", "br-int", "extra0", "--", "set", "Interface", "extra0", "type=internal", "external_ids:iface-id=nobody/none"); err != nil {
		t.Fatal(err)
	}
	if out := apply(); !compiled(out) || strings.Contains(out, "no changes") {
		t.Fatalf("a new workload port: the next apply did not compile and hold it:\n%s", out)
	}
	if out := apply(); compiled(out) || !strings.Contains(out, "no changes") {
		t.Fatalf("after the port: want the shortcut:\n%s", out)
	}
	f := filepath.Join(dir, filepath.Base(mustGlob(t, filepath.Join(dir, "*.yaml"))[0]))
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, append(data, []byte("\n# a comment changes the bytes, not the policy\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := apply(); !compiled(out) || !strings.Contains(out, "no changes") {
		t.Fatalf("a changed input file: want a full comparison (finding no changes):\n%s", out)
	}
}

// backendSceneCopy is backendScene with its policy files copied to a
// directory of the test's own, which it returns, for tests that edit them.
func backendSceneCopy(t *testing.T) (*sandbox.OVS, string) {
	t.Helper()
	o, _ := backendScene(t)
	dir := t.TempDir()
	for _, f := range mustGlob(t, filepath.Join(backendSeed, "*.yaml")) {
		copyFile(t, f, filepath.Join(dir, filepath.Base(f)))
	}
	return o, dir
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("glob %s: %v %v", pattern, m, err)
	}
	return m
}

// sortedFlows is the bridge's flows as ovs-ofctl prints them without
// statistics, sorted.
func sortedFlows(t *testing.T, o *sandbox.OVS) []string {
	t.Helper()
	out, err := o.Ofctl("-O", "OpenFlow15", "--no-stats", "dump-flows", "br-int")
	if err != nil {
		t.Fatal(err)
	}
	lines := openflow.FlowLines(out)
	sort.Strings(lines)
	return lines
}

// stripCookie removes the "cookie=0x..., " a dumped flow starts with, so
// that it can be a strict match.
func stripCookie(flow string) string {
	if i := strings.Index(flow, ", "); strings.HasPrefix(flow, "cookie=") && i > 0 {
		return flow[i+2:]
	}
	return flow
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestApplyRefusesUncompilablePolicyOnBoundBridge: when the bridge's
// ports bind every endpoint, apply's input check and its compilation are
// one (agent.Engine.CompileForAllLocal), and a policy that does not
// compile still makes it refuse with nothing changed on the bridge.
func TestApplyRefusesUncompilablePolicyOnBoundBridge(t *testing.T) {
	o, dir := backendSceneCopy(t)
	apply := func() (string, error) {
		cmd := exec.Command(flowgateBin, "apply", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev", "-f", dir)
		cmd.Env = append(os.Environ(), o.Env()...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := apply(); err != nil {
		t.Fatalf("flowgate apply: %v\n%s", err, out)
	}
	before := sortedFlows(t, o)
	// More Log rules than a direction can hold: valid input that does
	// not compile.
	var b strings.Builder
	b.WriteString("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: too-many-logs\n  namespace: prod\nspec:\n  selector: app == 'database'\n  types: [Ingress]\n  ingress:\n")
	for range 40 {
		b.WriteString("  - action: Log\n")
	}
	b.WriteString("  - action: Deny\n")
	if err := os.WriteFile(filepath.Join(dir, "too-many-logs.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := apply()
	if err == nil || !strings.Contains(out, "nothing changed on the bridge") {
		t.Fatalf("apply of a policy that does not compile: want exit 1 and nothing changed, got %v:\n%s", err, out)
	}
	if !strings.Contains(out, "not compiled") {
		t.Fatalf("the check did not run as the bridge's own compilation (no \"not compiled\" log): the test misses its path:\n%s", out)
	}
	if after := sortedFlows(t, o); !equalLines(after, before) {
		t.Fatal("a refused apply changed the bridge's flows")
	}
}
