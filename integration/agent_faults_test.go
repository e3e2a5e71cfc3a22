package integration

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The faults of docs/reliability.md ("## Faults") that concern Open
// vSwitch's daemons, with the agent running: each test first sees the
// agent's flows for the policy on the bridge, then breaks something.

// policyEnforced waits until the agent has installed the database policy
// (its rule for TCP 8080 is on the bridge) and traffic agrees with it:
// dev/frontend denied, dev/backend allowed to prod/database:8080.
func policyEnforced(t *testing.T, s *Scene, bridge func() (string, error)) {
	t.Helper()
	waitFor(t, "the agent's flows for the database policy", 20*time.Second, func() bool {
		out, err := bridge()
		return err == nil && strings.Contains(out, "tp_dst=8080")
	})
	to := s.addr("prod/database", 8080)
	waitFor(t, "the policy enforced", 10*time.Second, func() bool {
		return !s.Workloads["dev/frontend"].ProbeTCP(to, 200*time.Millisecond) && s.Workloads["dev/backend"].ProbeTCP(to, time.Second)
	})
}

// TestAgentFollowsOVSDBRestart: ovsdb-server is restarted under the
// running agent. Enforcement holds throughout (the flows live in
// ovs-vswitchd); the agent reconnects and follows a port change made
// after the restart: a new port whose iface-id names no endpoint is held
// (its traffic dropped), and released once its endpoint is written.
func TestAgentFollowsOVSDBRestart(t *testing.T) {
	o, s, dir, a := agentScene(t)
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	dump := func() (string, error) { return o.Ofctl("-O", OpenFlow, "dump-flows", "br-int") }
	policyEnforced(t, s, dump)
	frontend, backend, to := s.Workloads["dev/frontend"], s.Workloads["dev/backend"], s.addr("prod/database", 8080)

	start := time.Now()
	if err := o.RestartOVSDB(); err != nil {
		t.Fatal(err)
	}
	if frontend.ProbeTCP(to, 300*time.Millisecond) || !backend.ProbeTCP(to, time.Second) {
		t.Fatal("enforcement changed across the ovsdb-server restart")
	}

	// A port plugged after the restart, for an endpoint not written yet.
	stranger, err := o.AddWorkload("br-int", "stranger", "dev/stranger", net.HardwareAddr{0x02, 0x5e, 0, 0, 0, 0x99}, netip.MustParsePrefix("10.2.1.99/16"))
	if err != nil {
		t.Fatal(err)
	}
	hold := fmt.Sprintf("priority=50,in_port=%d ", stranger.OFPort)
	took := waitFor(t, "the agent to hold the port plugged after the restart", 30*time.Second, func() bool {
		out, err := dump()
		return err == nil && strings.Contains(out, hold)
	})
	t.Logf("ovsdb-server restarted; a port added after it held %s later (%s after the restart)", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if stranger.ProbeTCP(s.addr("dev/frontend", 8080), 500*time.Millisecond) {
		t.Fatal("a held port reached dev/frontend")
	}
	// Its endpoint arrives: released, and bound to the policy like any pod.
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: stranger, namespace: dev, labels: {app: frontend}}\nstatus: {podIP: 10.2.1.99, podIPs: [{ip: 10.2.1.99}]}\n"
	if err := os.WriteFile(filepath.Join(dir, "stranger.yaml"), []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent to release the port", 20*time.Second, func() bool {
		out, err := dump()
		return err == nil && !strings.Contains(out, hold)
	})
	if !stranger.ProbeTCP(s.addr("dev/frontend", 8080), 2*time.Second) {
		t.Fatal("the released port cannot reach dev/frontend")
	}
	if stranger.ProbeTCP(to, 300*time.Millisecond) {
		t.Fatal("the released port (app: frontend) reached prod/database")
	}
	if strings.Contains(a.log.String(), "level=fatal") {
		t.Fatalf("agent log has a fatal error:\n%s", a.log.String())
	}
}

// TestAgentVswitchdRestartUnderProbes: ovs-vswitchd is restarted while
// new connections are attempted at 100 per second, alternately from a
// pod the policy denies and from one it allows. Not one denied connection
// may succeed, before, during or after the gap (the bridge comes back
// fail_mode=secure, empty, until the agent reinstalls its flows); the
// time from the restart until the allowed pod connects again is logged.
func TestAgentVswitchdRestartUnderProbes(t *testing.T) {
	o, s, dir, a := agentScene(t)
	copyFile(t, policyFile, filepath.Join(dir, "policy.yaml"))
	policyEnforced(t, s, func() (string, error) { return o.Ofctl("-O", OpenFlow, "dump-flows", "br-int") })
	frontend, backend, to := s.Workloads["dev/frontend"], s.Workloads["dev/backend"], s.addr("prod/database", 8080)

	var denied, leaked, allowed, allowedOK atomic.Int64
	var mu sync.Mutex
	var okTimes []time.Time
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Attempt i starts at i × 10 ms (late ones catch up), so the rate
		// is 100/s however long a single attempt takes to start.
		first := time.Now()
		for i := 0; ctx.Err() == nil; i++ {
			time.Sleep(time.Until(first.Add(time.Duration(i) * 10 * time.Millisecond)))
			wg.Add(1)
			go func(deny bool) {
				defer wg.Done()
				if deny {
					denied.Add(1)
					if frontend.ProbeTCP(to, 500*time.Millisecond) {
						leaked.Add(1)
					}
					return
				}
				allowed.Add(1)
				if backend.ProbeTCP(to, 500*time.Millisecond) {
					allowedOK.Add(1)
					mu.Lock()
					okTimes = append(okTimes, time.Now())
					mu.Unlock()
				}
			}(i%2 == 0)
		}
	}()
	began := time.Now()
	time.Sleep(time.Second)
	restart := time.Now()
	if err := o.RestartVswitchd(); err != nil {
		cancel()
		wg.Wait()
		t.Fatal(err)
	}
	restarted := time.Since(restart)
	waitFor(t, "the agent to reinstall its flows", 30*time.Second, func() bool {
		return strings.Contains(a.log.String(), "flows lost")
	})
	var back time.Duration
	waitFor(t, "allowed connections to succeed again", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, at := range okTimes {
			if at.After(restart.Add(restarted)) {
				back = at.Sub(restart)
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second) // keep probing enforced traffic after the gap
	cancel()
	rate := float64(denied.Load()+allowed.Load()) / time.Since(began).Seconds()
	wg.Wait()
	t.Logf("ovs-vswitchd restart (%s to restart) under %d denied and %d allowed connection attempts (%.0f/s): %d denied leaked, allowed back %s after the restart began; %d allowed attempts failed",
		restarted.Round(time.Millisecond), denied.Load(), allowed.Load(), rate, leaked.Load(), back.Round(time.Millisecond), allowed.Load()-allowedOK.Load())
	if leaked.Load() != 0 {
		t.Fatalf("%d of %d denied connections succeeded across the ovs-vswitchd restart", leaked.Load(), denied.Load())
	}
	if rate < 80 {
		t.Fatalf("%.0f connection attempts per second: the prober did not keep up", rate)
	}
	if frontend.ProbeTCP(to, 300*time.Millisecond) || !backend.ProbeTCP(to, 2*time.Second) {
		t.Fatal("enforcement wrong after the ovs-vswitchd restart")
	}
}
