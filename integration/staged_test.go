package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// stagedDenyAll would, if committed, deny every pod's ingress that no
// earlier policy allows: enforcing it would cut dev/backend off prod/backend.
const stagedDenyAll = `apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata:
  name: deny-everything
spec:
  selector: all()
  types: [Ingress]
  ingress:
  - action: Deny
`

// flowDump is the bridge's flows without counters, sorted, for comparing.
func flowDump(t *testing.T, ofctl func(args ...string) (string, error)) string {
	t.Helper()
	out, err := ofctl("-O", OpenFlow, "--no-stats", "dump-flows", "br-int")
	if err != nil {
		t.Fatalf("dump-flows: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// getObjects reads the agent's /objects: the status code and the body.
func getObjects(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/objects")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestAgentNeverEnforcesStaged: staged policies in the agent's policy
// directory — one that would open dev/frontend to the database (the AND/OR
// trap), one that would deny every ingress — change not one flow and no
// connection, once the agent has read them (its /objects lists them); and
// `flowgate diff` against the running agent shows what committing them
// would do.
func TestAgentNeverEnforcesStaged(t *testing.T) {
	o, s := backendScene(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(backendSeed, "world.yaml"), filepath.Join(dir, "world.yaml"))
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	health := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf("bridge: br-int\ndatapathType: netdev\novsdb: %s\npolicyPaths: [%s]\npollInterval: 100ms\n"+
		"checkInterval: 300ms\nlogLevel: debug\nhealthAddress: %q\n", o.DBAddr(), dir, health)
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startAgent(t, o, cfgPath)
	waitFor(t, "the agent's first realization (/objects served)", 20*time.Second, func() bool {
		code, body := getObjects(health)
		return code == http.StatusOK && strings.Contains(body, `"database-allow-backends"`)
	})
	db := s.addr("prod/database", 8080)
	frontend, backend := s.Workloads["dev/frontend"], s.Workloads["dev/backend"]
	probes := func(when string) {
		t.Helper()
		if frontend.ProbeTCP(db, 300*time.Millisecond) {
			t.Errorf("%s: dev/frontend reached prod/database:8080", when)
		}
		if !backend.ProbeTCP(db, time.Second) {
			t.Errorf("%s: dev/backend lost prod/database:8080", when)
		}
		if !backend.ProbeTCP(s.addr("prod/backend", 8080), time.Second) {
			t.Errorf("%s: dev/backend lost prod/backend:8080", when)
		}
	}
	probes("enforced policy only")
	before := flowDump(t, o.Ofctl)

	copyFile(t, "../examples/staged/database-allow-backends-trap.yaml", filepath.Join(dir, "staged-trap.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "staged-deny.yaml"), []byte(stagedDenyAll), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent to read the staged policies (/objects lists them)", 20*time.Second, func() bool {
		_, body := getObjects(health)
		return strings.Contains(body, `"StagedGlobalNetworkPolicy"`) && strings.Contains(body, `"StagedKubernetesNetworkPolicy"`)
	})
	time.Sleep(500 * time.Millisecond) // a realization that did change flows would be done by now
	if after := flowDump(t, o.Ofctl); after != before {
		t.Errorf("staged policies changed the bridge's flows:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	probes("staged policies beside it")

	// What committing them would do, against what the agent enforces.
	cmd := exec.Command(flowgateBin, "diff", "--agent", health, "--ports", "8080")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("flowgate diff --agent: %v, want exit 3\n%s", err, out)
	}
	for _, want := range []string{"+ dev/frontend -> prod/database tcp/8080 opened", "- dev/backend -> prod/backend tcp/8080 closed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("flowgate diff --agent lacks %q:\n%s", want, out)
		}
	}
}
