package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// agentProc is a running `flowgate agent` against a private OVS.
type agentProc struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeAgentConfig writes a config for a private OVS watching policyDir.
func writeAgentConfig(t testing.TB, o *sandbox.OVS, policyDir string) string {
	return writeAgentConfigPoll(t, o.DBAddr(), policyDir, "100ms")
}

// writeAgentConfigPoll writes an agent config polling policyDir every poll.
func writeAgentConfigPoll(t testing.TB, dbAddr, policyDir, poll string) string {
	t.Helper()
	cfg := fmt.Sprintf("bridge: br-int\ndatapathType: netdev\novsdb: %s\npolicyPaths: [%s]\npollInterval: %s\n"+
		"checkInterval: 300ms\nlogLevel: debug\nhealthAddress: \"\"\nstateDir: %s\n", dbAddr, policyDir, poll, t.TempDir())
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func startAgent(t testing.TB, o *sandbox.OVS, config string, extra ...string) *agentProc {
	t.Helper()
	a := &agentProc{log: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(flowgateBin, append([]string{"agent", "--config", config}, extra...)...)
	a.cmd.Env = append(os.Environ(), o.Env()...)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.kill(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("agent log:\n%s", a.log.String())
		}
	})
	return a
}

func (a *agentProc) kill(sig syscall.Signal) {
	select {
	case <-a.done:
		return
	default:
	}
	a.cmd.Process.Signal(sig)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
	return 0
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// backendSeed is the seed scene most agent tests run: dev/prod frontend,
// backend and database pods, the database listening on 8080.
const backendSeed = "../examples/seeds/database-allow-backends"

// backendScene starts a private OVS with br-int and backendSeed's workloads
// on it, both stopped when the test ends.
func backendScene(t testing.TB) (*sandbox.OVS, *Scene) {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	s, err := StartScene(o, "br-int", backendSeed, []int{8080})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return o, s
}

// agentScene starts OVS, the database-allow-backends scene, and an agent
// watching a copy of the scene's world (policy added by the test).
func agentScene(t *testing.T) (*sandbox.OVS, *Scene, string, *agentProc) {
	t.Helper()
	o, s := backendScene(t)
	policyDir := t.TempDir()
	copyFile(t, filepath.Join(backendSeed, "world.yaml"), filepath.Join(policyDir, "world.yaml"))
	a := startAgent(t, o, writeAgentConfig(t, o, policyDir))
	a.waitRealized(t, "the world file", 0)
	return o, s, policyDir, a
}

// realizedLine is the agent's log line for a realization of changed
// policy input: what tests wait for, rather than a drop that an empty
// fail_mode=secure bridge gives before the agent ever programmed it.
const realizedLine = `msg="enforcement updated"`

// realizations counts the agent's realizations of changed policy input.
func (a *agentProc) realizations() int {
	n := 0
	for _, l := range strings.Split(a.log.String(), "\n") {
		if strings.Contains(l, realizedLine) && strings.Contains(l, `reason="policy input changed"`) {
			n++
		}
	}
	return n
}

// waitRealized waits for the agent to realize changed policy input after
// the n-th realization (realizations before the change).
func (a *agentProc) waitRealized(t testing.TB, what string, n int) {
	t.Helper()
	waitFor(t, "the agent to realize "+what, 15*time.Second, func() bool { return a.realizations() > n })
}

func (s *Scene) addr(id string, port int) netip.AddrPort {
	return netip.AddrPortFrom(s.Workloads[id].IPs[0].Addr(), uint16(port))
}

const policyFile = "../examples/seeds/database-allow-backends/database-allow-backends.yaml"

// TestAgentLiveChanges: with the agent running, adding the policy file
// isolates the database, removing it opens it again, and relabelling an
// endpoint (rewriting its object) moves it in and out of the allowed set.
func TestAgentLiveChanges(t *testing.T) {
	_, s, dir, _ := agentScene(t)
	from, to := s.Workloads["dev/frontend"], s.addr("prod/database", 8080)
	waitFor(t, "agent to allow traffic with no policy", 10*time.Second, func() bool { return from.ProbeTCP(to, 300*time.Millisecond) })
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	took := waitFor(t, "policy to deny dev/frontend", 10*time.Second, func() bool { return !from.ProbeTCP(to, 200*time.Millisecond) })
	t.Logf("policy added → enforced in %s (including one probe timeout)", took)
	if !s.Workloads["dev/backend"].ProbeTCP(to, time.Second) {
		t.Fatal("dev/backend must still reach prod/database:8080")
	}
	// Relabel dev/frontend as a backend: the world file is rewritten.
	world, _ := os.ReadFile(filepath.Join(dir, "world.yaml"))
	relabelled := relabel(t, string(world), "dev", "frontend", "app: frontend", "app: backend")
	os.WriteFile(filepath.Join(dir, "world.yaml"), []byte(relabelled), 0o644)
	took = waitFor(t, "relabelled dev/frontend to be allowed", 10*time.Second, func() bool { return from.ProbeTCP(to, 300*time.Millisecond) })
	t.Logf("relabel → enforced in %s", took)
	os.Remove(filepath.Join(dir, "policy.yaml"))
	waitFor(t, "policy removal to open prod/database to prod/frontend", 10*time.Second, func() bool {
		return s.Workloads["prod/frontend"].ProbeTCP(to, 300*time.Millisecond)
	})
}

// relabel replaces old with new inside the document of pod ns/name.
func relabel(t *testing.T, world, ns, name, old, new string) string {
	t.Helper()
	docs := strings.Split(world, "\n---")
	for i, d := range docs {
		if strings.Contains(d, "kind: Pod") && strings.Contains(d, "name: "+name) && strings.Contains(d, "namespace: "+ns) {
			if !strings.Contains(d, old) {
				t.Fatalf("pod %s/%s has no %q:\n%s", ns, name, old, d)
			}
			docs[i] = strings.Replace(d, old, new, 1)
			return strings.Join(docs, "\n---")
		}
	}
	t.Fatalf("no pod %s/%s in world", ns, name)
	return ""
}

// TestAgentKeepsEnforcementOnBadInput: a broken file in the watched
// directory is reported and changes nothing.
func TestAgentKeepsEnforcementOnBadInput(t *testing.T) {
	_, s, dir, a := agentScene(t)
	n := a.realizations()
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	from, to := s.Workloads["dev/frontend"], s.addr("prod/database", 8080)
	a.waitRealized(t, "the policy file", n)
	if from.ProbeTCP(to, 300*time.Millisecond) {
		t.Fatal("the policy file is realized, yet dev/frontend reaches prod/database")
	}
	good, _ := os.ReadFile(policyFile)
	os.WriteFile(filepath.Join(dir, "policy.yaml"), append(good, []byte("  bogus: [\n")...), 0o644)
	os.WriteFile(filepath.Join(dir, "junk.yaml"), []byte("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec: {selector: \"a ==\"}\n"), 0o644)
	waitFor(t, "the agent to report the broken files", 10*time.Second, func() bool {
		l := a.log.String()
		return strings.Contains(l, "policy.yaml") && strings.Contains(l, "junk.yaml") && strings.Contains(l, "spec.selector")
	})
	time.Sleep(500 * time.Millisecond)
	if from.ProbeTCP(to, 300*time.Millisecond) {
		t.Fatal("a broken policy file loosened enforcement: dev/frontend reached prod/database")
	}
	if !s.Workloads["dev/backend"].ProbeTCP(to, time.Second) {
		t.Fatal("a broken policy file tightened enforcement: dev/backend lost prod/database")
	}
}

// TestAgentRestartDropsNothing: allowed traffic flows continuously, new
// connections every few milliseconds, while the agent is killed with
// SIGKILL and started again. (ovs-vswitchd restarting under the agent is
// TestAgentVswitchdRestartUnderProbes.)
func TestAgentRestartDropsNothing(t *testing.T) {
	o, s, dir, a := agentScene(t)
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	backend, frontend, to := s.Workloads["dev/backend"], s.Workloads["dev/frontend"], s.addr("prod/database", 8080)
	waitFor(t, "policy enforced", 10*time.Second, func() bool { return !frontend.ProbeTCP(to, 200*time.Millisecond) && backend.ProbeTCP(to, time.Second) })

	ctx, cancel := context.WithCancel(context.Background())
	var sent, lost atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			sent.Add(1)
			if !backend.ProbeTCP(to, 2*time.Second) {
				lost.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	a.kill(syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
	a2 := startAgent(t, o, writeAgentConfig(t, o, dir))
	waitFor(t, "the restarted agent to sync", 10*time.Second, func() bool { return strings.Contains(a2.log.String(), "flows replaced") })
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	t.Logf("agent kill -9 and restart: %d connections, %d lost", sent.Load(), lost.Load())
	if lost.Load() != 0 || sent.Load() < 20 {
		t.Fatalf("%d of %d connections lost across an agent restart", lost.Load(), sent.Load())
	}
	if frontend.ProbeTCP(to, 300*time.Millisecond) {
		t.Fatal("after the agent restart dev/frontend reaches prod/database")
	}
}

// TestEstablishedConnectionSurvivesPolicyChange: a TCP connection opened
// while allowed keeps working after a policy denies new ones (the seeds'
// behaviour); a new connection is refused.
func TestEstablishedConnectionSurvivesPolicyChange(t *testing.T) {
	_, s, dir, _ := agentScene(t)
	from, to := s.Workloads["dev/frontend"], s.addr("prod/database", 8080)
	waitFor(t, "traffic allowed before any policy", 10*time.Second, func() bool { return from.ProbeTCP(to, 300*time.Millisecond) })
	conn, err := from.DialTCP(to, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	echo := func(msg string) error {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := fmt.Fprintln(conn, msg); err != nil {
			return err
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			return err
		}
		if strings.TrimSpace(line) != msg {
			return fmt.Errorf("echo %q, want %q", line, msg)
		}
		return nil
	}
	if err := echo("before"); err != nil {
		t.Fatal(err)
	}
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	waitFor(t, "new connections denied", 10*time.Second, func() bool { return !from.ProbeTCP(to, 200*time.Millisecond) })
	for i := 0; i < 5; i++ {
		if err := echo(fmt.Sprintf("after-%d", i)); err != nil {
			t.Fatalf("the established connection broke after the policy change: %v", err)
		}
	}
}

// TestSpoofedTrafficDropped: a workload sending from another workload's
// IP, or with another MAC, is dropped, and so is its ARP claiming the
// other's address; its own traffic still flows.
func TestSpoofedTrafficDropped(t *testing.T) {
	_, s, dir, a := agentScene(t)
	n := a.realizations()
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	attacker, victimIP := s.Workloads["dev/frontend"], s.Workloads["dev/backend"].IPs[0].Addr()
	to := s.addr("prod/database", 8080)
	a.waitRealized(t, "the policy file", n)
	if attacker.ProbeTCP(to, 300*time.Millisecond) || !s.Workloads["dev/backend"].ProbeTCP(to, time.Second) {
		t.Fatal("the policy file is realized, yet dev/frontend reaches prod/database or dev/backend does not")
	}
	// dev/backend is allowed to reach the database; dev/frontend claims its IP.
	if out, err := attacker.Exec("ip", "addr", "add", victimIP.String()+"/32", "dev", "eth0"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if c, err := attacker.DialTCPFrom(victimIP, to, time.Second); err == nil {
		c.Close()
		t.Fatal("a connection from a spoofed source IP got through")
	}
	// Its ARP for the database now carries the spoofed sender address too
	// (the kernel picks the source matching the route), and must not teach
	// the bridge or the database anything: the database's neighbour table
	// must not map dev/backend's IP to the attacker's MAC.
	db := s.Workloads["prod/database"]
	if out, _ := db.Exec("ip", "neigh", "show", victimIP.String()); strings.Contains(out, attacker.MAC.String()) {
		t.Fatalf("ARP spoofing reached the database: %s", out)
	}
	// A changed MAC: nothing leaves the port.
	if out, err := s.Workloads["dev/backend"].Exec("ip", "link", "set", "eth0", "address", "02:66:66:66:66:66"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if s.Workloads["dev/backend"].ProbeTCP(to, 500*time.Millisecond) {
		t.Fatal("traffic with a spoofed MAC got through")
	}
	// Honest traffic still flows.
	if !s.Workloads["prod/backend"].ProbeTCP(to, time.Second) {
		t.Fatal("prod/backend lost access")
	}
}

// TestApplyIsIdempotent: a second `flowgate apply` with the same input
// changes nothing and says so; a changed input is applied.
func TestApplyIsIdempotent(t *testing.T) {
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	apply := func(dir string) string {
		t.Helper()
		cmd := exec.Command(flowgateBin, "apply", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev", "-f", dir)
		cmd.Env = append(os.Environ(), o.Env()...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("flowgate apply: %v\n%s", err, out)
		}
		return string(out)
	}
	dir := backendSeed
	s, err := StartScene(o, "br-int", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if out := apply(dir); strings.Contains(out, "no changes") {
		t.Fatalf("first apply on an empty bridge reported no changes: %s", out)
	}
	if out := apply(dir); !strings.Contains(out, "no changes") {
		t.Fatalf("second apply of the same input: %s", out)
	}
	if out := apply("../examples/seeds/database-allow-backends-trap"); strings.Contains(out, "no changes") {
		t.Fatalf("apply of a different policy reported no changes: %s", out)
	}
}
