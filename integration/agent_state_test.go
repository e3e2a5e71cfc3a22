package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
)

// This file tests the agent's input files against restarts and against
// the ways files change on disk: the last good state persisted in the
// state directory, no programming without a good state, in-place
// rewrites, ConfigMap symlink swaps and a full state directory — each with
// real traffic through a private OVS.

// stateAgentConfig is an agent config for a private OVS watching
// policyDir, keeping its state in stateDir, serving health on health
// ("" for none).
func stateAgentConfig(t testing.TB, o *sandbox.OVS, policyDir, stateDir, health string) string {
	t.Helper()
	cfg := fmt.Sprintf("bridge: br-int\ndatapathType: netdev\novsdb: %s\npolicyPaths: [%s]\npollInterval: 100ms\n"+
		"checkInterval: 300ms\nlogLevel: info\nhealthAddress: %q\nstateDir: %s\n", o.DBAddr(), policyDir, health, stateDir)
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// healthGet is an agent health endpoint's status and body.
func healthGet(addr, path string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// flowsOf is the bridge's flows without counters, to compare.
func flowsOf(t *testing.T, o *sandbox.OVS) string {
	t.Helper()
	out, err := o.Ofctl("-O", OpenFlow, "--no-stats", "dump-flows", "br-int")
	if err != nil {
		t.Fatalf("dump-flows: %v: %s", err, out)
	}
	return out
}

// brokenPolicy is the seed's policy file made invalid.
func brokenPolicy(t *testing.T) []byte {
	good, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	return append(good, []byte("  bogus: [\n")...)
}

// policyScene is backendScene with a policy directory holding the world
// and the seed's policy.
func policyScene(t *testing.T) (*sandbox.OVS, *Scene, string) {
	o, s := backendScene(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(backendSeed, "world.yaml"), filepath.Join(dir, "world.yaml"))
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	return o, s, dir
}

// assertSeedPolicy checks the seed policy is what the bridge enforces:
// dev/frontend denied, dev/backend allowed to prod/database:8080.
func assertSeedPolicy(t *testing.T, s *Scene, when string) {
	t.Helper()
	to := s.addr("prod/database", 8080)
	if s.Workloads["dev/frontend"].ProbeTCP(to, 300*time.Millisecond) {
		t.Fatalf("%s: dev/frontend reaches prod/database (the policy is not enforced)", when)
	}
	if !s.Workloads["dev/backend"].ProbeTCP(to, time.Second) {
		t.Fatalf("%s: dev/backend cannot reach prod/database", when)
	}
}

// TestAgentStartsBrokenFileFromSavedState: an agent killed with SIGKILL,
// whose policy file is then broken and whose flows are then wiped (as a
// reboot wipes a kernel datapath's), starts again and enforces the file's
// last good content from the state directory — not the world without it.
func TestAgentStartsBrokenFileFromSavedState(t *testing.T) {
	o, s, dir := policyScene(t)
	stateDir := t.TempDir()
	cfg := stateAgentConfig(t, o, dir, stateDir, "")
	a := startAgent(t, o, cfg)
	a.waitRealized(t, "the policy directory", 0)
	assertSeedPolicy(t, s, "first agent")
	a.kill(syscall.SIGKILL)

	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), brokenPolicy(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := o.Ofctl("-O", OpenFlow, "del-flows", "br-int"); err != nil {
		t.Fatalf("del-flows: %v: %s", err, out)
	}
	a2 := startAgent(t, o, cfg)
	// The flows were wiped: dev/backend reaching prod/database proves the
	// restarted agent programmed the world; then the policy must be in it.
	waitFor(t, "the restarted agent to program the bridge (dev/backend reaches prod/database)", 15*time.Second, func() bool {
		return s.Workloads["dev/backend"].ProbeTCP(s.addr("prod/database", 8080), 300*time.Millisecond)
	})
	assertSeedPolicy(t, s, "agent started with a broken policy file")
	l := a2.log.String()
	if !strings.Contains(l, "enforcing its last good state saved earlier") || !strings.Contains(l, "policy.yaml") {
		t.Fatalf("the agent did not say it enforces the saved state of policy.yaml:\n%s", l)
	}
}

// TestAgentWithoutGoodStateDoesNotProgram: an agent started while a file
// is broken, with nothing saved for it (a new state directory), leaves the
// bridge exactly as it is, says why in its log and on /readyz, and
// programs as soon as the file is fixed.
func TestAgentWithoutGoodStateDoesNotProgram(t *testing.T) {
	o, s, dir := policyScene(t)
	a := startAgent(t, o, stateAgentConfig(t, o, dir, t.TempDir(), ""))
	a.waitRealized(t, "the policy directory", 0)
	assertSeedPolicy(t, s, "first agent")
	a.kill(syscall.SIGKILL)
	before := flowsOf(t, o)

	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), brokenPolicy(t), 0o644); err != nil {
		t.Fatal(err)
	}
	health := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	a2 := startAgent(t, o, stateAgentConfig(t, o, dir, t.TempDir(), health))
	waitFor(t, "the agent to say why it does not program", 15*time.Second, func() bool {
		return strings.Contains(a2.log.String(), "not programming the bridge")
	})
	waitFor(t, "/readyz to be 503 naming policy.yaml and its problem", 10*time.Second, func() bool {
		code, body := healthGet(health, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "policy.yaml") && strings.Contains(body, "invalid YAML")
	})
	time.Sleep(time.Second) // several poll intervals and checks
	if after := flowsOf(t, o); after != before {
		t.Fatalf("the bridge's flows changed while an input had no good state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	assertSeedPolicy(t, s, "agent started with a broken file and no saved state")
	if strings.Contains(a2.log.String(), "flows replaced") {
		t.Fatal("the agent replaced the flows while an input had no good state")
	}

	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	a2.waitRealized(t, "the fixed policy file", 0)
	waitFor(t, "/readyz ok", 10*time.Second, func() bool { code, _ := healthGet(health, "/readyz"); return code == http.StatusOK })
	assertSeedPolicy(t, s, "file fixed")
}

// trafficProbes runs two probers until stop: dev/frontend → prod/database
// (the seed policy denies it: every success is a leak) and dev/backend →
// prod/database (allowed: every failure is a loss).
type trafficProbes struct {
	denied, allowed, leaked, lost atomic.Int64
	wg                            sync.WaitGroup
}

func startProbes(ctx context.Context, s *Scene) *trafficProbes {
	p := &trafficProbes{}
	to := s.addr("prod/database", 8080)
	probe := func(w *sandbox.Workload, timeout time.Duration, n, bad *atomic.Int64, badIf bool) {
		defer p.wg.Done()
		for ctx.Err() == nil {
			n.Add(1)
			if w.ProbeTCP(to, timeout) == badIf {
				bad.Add(1)
			}
		}
	}
	// A denied probe lasts its timeout (the SYN is dropped): several run
	// side by side so that a short window would still be hit.
	for i := 0; i < 4; i++ {
		p.wg.Add(1)
		go probe(s.Workloads["dev/frontend"], 150*time.Millisecond, &p.denied, &p.leaked, true)
	}
	p.wg.Add(1)
	go probe(s.Workloads["dev/backend"], 2*time.Second, &p.allowed, &p.lost, false)
	return p
}

func (p *trafficProbes) String() string {
	return fmt.Sprintf("%d denied probes, %d leaked; %d allowed probes, %d lost", p.denied.Load(), p.leaked.Load(), p.allowed.Load(), p.lost.Load())
}

// decoyPolicy comes first in the rewritten file: a policy that changes
// nothing the probes see, so that the file cut at the document boundary is
// valid YAML without the seed policy (which follows it).
const decoyPolicy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: decoy, namespace: dev}
spec:
  podSelector: {matchLabels: {app: nothing-has-this-label}}
  policyTypes: [Ingress]
---
`

// TestAgentInPlaceRewriteUnderTraffic: a policy file rewritten in place in
// a tight loop — truncated, then written in three chunks with short pauses,
// as cp and config-management tools do — while dev/frontend (denied) and
// dev/backend (allowed) probe prod/database: no denied connection passes,
// no allowed one fails, and the agent never realizes a change (every
// version means the same; a partial read would drop the policy).
func TestAgentInPlaceRewriteUnderTraffic(t *testing.T) {
	_, s, dir, a := agentScene(t)
	seed, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "policy.yaml")
	n := a.realizations()
	if err := os.WriteFile(file, []byte(decoyPolicy+string(seed)), 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitRealized(t, "the policy file", n)
	assertSeedPolicy(t, s, "before the rewrites")
	time.Sleep(500 * time.Millisecond)
	n = a.realizations()
	logged := len(a.log.String())

	ctx, cancel := context.WithCancel(context.Background())
	probes := startProbes(ctx, s)
	start := time.Now()
	rewrites := 0
	for time.Since(start) < 10*time.Second {
		// Each version differs (a comment), so the agent reads and decodes
		// each one it sees.
		content := fmt.Sprintf("# version %d\n%s%s", rewrites, decoyPolicy, seed)
		// Cut halfway through the decoy, after it (the file then is valid
		// without the seed policy), and halfway through the seed policy.
		decoyEnd := strings.Index(content, "---\n") + 4
		cuts := []int{0, decoyEnd / 2, decoyEnd, (decoyEnd + len(content)) / 2, len(content)}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(cuts); i++ {
			chunk := content[cuts[i]:cuts[i+1]]
			if _, err := f.WriteString(chunk); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rewrites%4) * time.Millisecond)
		}
		f.Close()
		rewrites++
		time.Sleep(time.Duration(rewrites%7) * 5 * time.Millisecond)
	}
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	cancel()
	probes.wg.Wait()
	log := a.log.String()[logged:]
	t.Logf("%d in-place rewrites in %s (%.0f/s); %s; %d input problems logged",
		rewrites, took.Round(time.Millisecond), float64(rewrites)/took.Seconds(), probes, strings.Count(log, "policy input problem"))
	if probes.leaked.Load() != 0 || probes.lost.Load() != 0 {
		t.Errorf("partial reads changed enforcement: %s", probes)
	}
	if got := a.realizations(); got != n {
		t.Errorf("the agent realized %d changes while only comments changed (it read a partial file)", got-n)
	}
	if strings.Contains(log, "policy input problem") {
		t.Errorf("the agent saw a half-written file as broken:\n%s", grepLines(log, "policy input problem"))
	}
	if probes.denied.Load() < 20 || probes.allowed.Load() < 20 {
		t.Errorf("too few probes to tell: %s", probes)
	}
}

// grepLines is the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// configMapDir is a directory laid out as a Kubernetes ConfigMap volume:
// each version in a "..<timestamp>" directory, "..data" a symlink to the
// current one, and each file a symlink through "..data".
type configMapDir struct {
	dir     string
	version int
}

// write publishes a new version of the files the way the kubelet's atomic
// writer does: the new version's directory, a new "..data_tmp" symlink
// renamed over "..data", the old version removed.
func (c *configMapDir) write(t *testing.T, files map[string][]byte) {
	t.Helper()
	c.version++
	ver := fmt.Sprintf("..2026_12_05_00_00_%02d.%06d", c.version%60, c.version)
	if err := os.MkdirAll(filepath.Join(c.dir, ver), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(c.dir, ver, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(c.dir, "..data"))
	tmp := filepath.Join(c.dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(ver, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	// As the kubelet, after the swap: links for new keys, then the links
	// of keys the new version no longer has removed.
	for name := range files {
		link := filepath.Join(c.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if _, keep := files[e.Name()]; !keep && !strings.HasPrefix(e.Name(), "..") {
			os.Remove(filepath.Join(c.dir, e.Name()))
		}
	}
	if old != "" {
		os.RemoveAll(filepath.Join(c.dir, old))
	}
}

// TestAgentConfigMapSwapUnderTraffic: the policy directory is a ConfigMap
// volume updated by symlink swaps in a loop while the probes run, the
// policy moving between two keys from one version to the next: no denied
// connection passes, no allowed one fails, no version is seen half (the
// agent reads one version's files together); then a version without the
// policy opens prod/database to dev/frontend, as it should.
func TestAgentConfigMapSwapUnderTraffic(t *testing.T) {
	o, s := backendScene(t)
	world, _ := os.ReadFile(filepath.Join(backendSeed, "world.yaml"))
	seed, _ := os.ReadFile(policyFile)
	cm := &configMapDir{dir: t.TempDir()}
	cm.write(t, map[string][]byte{"world.yaml": world, "policy.yaml": []byte(decoyPolicy + string(seed))})
	a := startAgent(t, o, stateAgentConfig(t, o, cm.dir, t.TempDir(), ""))
	a.waitRealized(t, "the ConfigMap", 0)
	assertSeedPolicy(t, s, "before the swaps")
	time.Sleep(500 * time.Millisecond)
	n := a.realizations()
	logged := len(a.log.String())

	ctx, cancel := context.WithCancel(context.Background())
	probes := startProbes(ctx, s)
	start := time.Now()
	swaps := 0
	for time.Since(start) < 10*time.Second {
		// Every other version moves the policy to another key: a read
		// of the directory between the swap and the kubelet's new links
		// would see it nowhere.
		key := []string{"policy.yaml", "moved.yaml"}[swaps%2]
		cm.write(t, map[string][]byte{
			"world.yaml": append([]byte(fmt.Sprintf("# version %d\n", swaps)), world...),
			key:          []byte(fmt.Sprintf("# version %d\n%s%s", swaps, decoyPolicy, seed)),
		})
		swaps++
		time.Sleep(time.Duration(swaps%5) * 10 * time.Millisecond)
	}
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	cancel()
	probes.wg.Wait()
	log := a.log.String()[logged:]
	t.Logf("%d ConfigMap swaps in %s (%.0f/s); %s", swaps, took.Round(time.Millisecond), float64(swaps)/took.Seconds(), probes)
	if probes.leaked.Load() != 0 || probes.lost.Load() != 0 {
		t.Errorf("swaps changed enforcement: %s", probes)
	}
	if got := a.realizations(); got != n {
		t.Errorf("the agent realized %d changes while only comments changed", got-n)
	}
	// A version replaced while it was read holds programming for a moment
	// ("until an input file is completely written", at info level): that
	// is the agent refusing a half state, not seeing one.
	if strings.Contains(log, "policy input problem") || strings.Contains(log, "level=error") {
		t.Errorf("the agent saw a half state:\n%s", grepLines(log, "level=warning")+grepLines(log, "level=error"))
	}
	t.Logf("programming held while a version was replaced mid-read: %d times", strings.Count(log, "until an input file is completely written"))

	cm.write(t, map[string][]byte{"world.yaml": world})
	a.waitRealized(t, "the ConfigMap without the policy", n)
	waitFor(t, "dev/frontend to reach prod/database without the policy", 10*time.Second, func() bool {
		return s.Workloads["dev/frontend"].ProbeTCP(s.addr("prod/database", 8080), 300*time.Millisecond)
	})
}

// TestAgentStateDirFull: the state directory is a tiny tmpfs, filled up.
// The agent keeps enforcing and still applies changes, reports that it
// cannot save (log, /readyz detail, metric), never crashes; once space is
// back the unsaved state is saved without waiting for a change.
func TestAgentStateDirFull(t *testing.T) {
	o, s, dir := policyScene(t)
	stateDir := t.TempDir()
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size=64k", "flowgate-state-test", stateDir); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { runCmd("umount", "-l", stateDir) })
	health := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	a := startAgent(t, o, stateAgentConfig(t, o, dir, stateDir, health))
	a.waitRealized(t, "the policy directory", 0)
	assertSeedPolicy(t, s, "state directory with room")

	if !s.Workloads["dev/backend"].ProbeTCP(s.addr("prod/frontend", 8080), time.Second) {
		t.Fatal("dev/backend cannot reach prod/frontend before any policy isolates it")
	}
	// Fill it: a filler file grows until the filesystem refuses.
	filler, err := os.Create(filepath.Join(stateDir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()

	// A change: prod/frontend is isolated too. It must be enforced though
	// it cannot be saved.
	n := a.realizations()
	isolate := `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: isolate-prod-frontend}
spec:
  selector: app == 'frontend'
  types: [Ingress]
  ingress: []
`
	if err := os.WriteFile(filepath.Join(dir, "isolate.yaml"), []byte(isolate+strings.Repeat("# padding\n", 50)), 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitRealized(t, "the new file while the state directory is full", n)
	waitFor(t, "the agent to report the failed save", 10*time.Second, func() bool {
		return strings.Contains(a.log.String(), "cannot save the last good state")
	})
	if !strings.Contains(a.log.String(), "no space left on device") {
		t.Errorf("the log does not say why the save failed:\n%s", grepLines(a.log.String(), "cannot save"))
	}
	_, metrics := healthGet(health, "/metrics")
	if !strings.Contains(metrics, "flowgate_state_save_failing 1") {
		t.Errorf("/metrics does not report the failing save:\n%s", metrics)
	}
	code, body := healthGet(health, "/readyz")
	if code != http.StatusOK || !strings.Contains(body, "not saved") {
		t.Errorf("/readyz = %d %q: want ready (enforcing) with the save failure as detail", code, body)
	}
	assertSeedPolicy(t, s, "state directory full")
	if s.Workloads["dev/backend"].ProbeTCP(s.addr("prod/frontend", 8080), 300*time.Millisecond) {
		t.Error("the change made while the state directory is full is not enforced: dev/backend reaches prod/frontend")
	}
	if code, _ := healthGet(health, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d with a full state directory", code)
	}
	select {
	case <-a.done:
		t.Fatalf("the agent exited with a full state directory:\n%s", a.log.String())
	default:
	}

	// Room again: the unsaved state is saved at the next poll, without
	// any change, and the failure clears.
	os.Remove(filepath.Join(stateDir, "filler"))
	waitFor(t, "the save to succeed again", 10*time.Second, func() bool {
		_, m := healthGet(health, "/metrics")
		return strings.Contains(m, "flowgate_state_save_failing 0")
	})
	if !strings.Contains(a.log.String(), "last good state saved again") {
		t.Errorf("the agent did not log the saved state:\n%s", grepLines(a.log.String(), "state"))
	}
	assertSeedPolicy(t, s, "state directory with room again")
}

// runCmd runs a command and returns its combined output.
func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
