package integration

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// intruderPod is the endpoint that, once written into the policy, binds the
// intruder's port: a backend in dev, which database-allow-backends lets
// reach prod/database:8080.
const intruderPod = `apiVersion: v1
kind: Pod
metadata: {name: intruder, namespace: dev, labels: {app: backend}}
spec: {containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.2.0.50, podIPs: [{ip: 10.2.0.50}]}
`

// addIntruder plugs a workload into the bridge whose iface-id names an
// endpoint the policy does not know (yet), listening on 8080.
func addIntruder(t *testing.T, o *sandbox.OVS) *sandbox.Workload {
	t.Helper()
	w, err := o.AddWorkload("br-int", "intruder", "dev/intruder", net.HardwareAddr{0x02, 0xee, 0, 0, 0, 0x50},
		netip.MustParsePrefix("10.2.0.50/16"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.RemoveWorkload(w) })
	ln, err := w.ListenTCP(8080)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return w
}

// assertHeld checks that the intruder can neither send nor receive, where
// an unknown port without the hold could both: dev/frontend has no policy
// (default allow) and the intruder, being no endpoint, would meet none.
func assertHeld(t *testing.T, s *Scene, intruder *sandbox.Workload) {
	t.Helper()
	frontend := s.Workloads["dev/frontend"]
	toIntruder := netip.AddrPortFrom(intruder.IPs[0].Addr(), 8080)
	waitFor(t, "the unknown port to be held (it reached dev/frontend)", 10*time.Second, func() bool {
		return !intruder.ProbeTCP(s.addr("dev/frontend", 8080), 200*time.Millisecond)
	})
	if frontend.ProbeTCP(toIntruder, 500*time.Millisecond) {
		t.Fatal("dev/frontend reached the held port")
	}
	if intruder.ProbeTCP(s.addr("dev/frontend", 8080), 500*time.Millisecond) {
		t.Fatal("the held port reached dev/frontend")
	}
}

// TestAgentHoldsUnknownPort: a port whose iface-id names no endpoint the
// agent knows can neither send nor receive; once its endpoint is added to
// the policy directory it works as the policy says (a dev backend may reach
// prod/database and, with no policy of its own, dev/frontend and back).
func TestAgentHoldsUnknownPort(t *testing.T) {
	o, s, dir, a := agentScene(t)
	n := a.realizations()
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	frontend, database := s.Workloads["dev/frontend"], s.addr("prod/database", 8080)
	a.waitRealized(t, "the policy file", n)
	if frontend.ProbeTCP(database, 300*time.Millisecond) {
		t.Fatal("the policy file is realized, yet dev/frontend reaches prod/database")
	}
	intruder := addIntruder(t, o)
	waitFor(t, "the agent to hold the new port (held=1 in its log)", 10*time.Second, func() bool {
		return strings.Contains(a.log.String(), "held=1")
	})
	assertHeld(t, s, intruder)

	if err := os.WriteFile(filepath.Join(dir, "intruder.yaml"), []byte(intruderPod), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bound port to reach prod/database as a dev backend", 10*time.Second, func() bool {
		return intruder.ProbeTCP(database, 300*time.Millisecond)
	})
	if !intruder.ProbeTCP(s.addr("dev/frontend", 8080), time.Second) {
		t.Fatal("the bound port cannot reach dev/frontend (no policy there)")
	}
	if !frontend.ProbeTCP(netip.AddrPortFrom(intruder.IPs[0].Addr(), 8080), time.Second) {
		t.Fatal("dev/frontend cannot reach the bound port (no policy there)")
	}
	if frontend.ProbeTCP(database, 300*time.Millisecond) {
		t.Fatal("dev/frontend reaches prod/database")
	}
}

// TestApplyHoldsUnknownPort: `flowgate apply` holds a port whose iface-id
// names no endpoint of its input, and a second apply with the endpoint
// added releases it.
func TestApplyHoldsUnknownPort(t *testing.T) {
	o, s := backendScene(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(backendSeed, "world.yaml"), filepath.Join(dir, "world.yaml"))
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	apply := func() {
		t.Helper()
		cmd := exec.Command(flowgateBin, "apply", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev", "-f", dir)
		cmd.Env = append(os.Environ(), o.Env()...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("flowgate apply: %v\n%s", err, out)
		}
	}
	intruder := addIntruder(t, o)
	apply()
	assertHeld(t, s, intruder)
	if err := os.WriteFile(filepath.Join(dir, "intruder.yaml"), []byte(intruderPod), 0o644); err != nil {
		t.Fatal(err)
	}
	apply()
	waitFor(t, "the bound port to reach prod/database as a dev backend", 10*time.Second, func() bool {
		return intruder.ProbeTCP(s.addr("prod/database", 8080), 300*time.Millisecond)
	})
}
