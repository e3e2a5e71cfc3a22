package integration

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestKubernetesGridRealTraffic runs the Kubernetes e2e-style scenarios
// (namespaces x, y, z × pods a, b, c) on real namespaces: each scenario's
// policies are applied as `flowgate apply` applies them (agent.Engine.Replace), and every ordered pod pair is
// probed with real TCP and UDP on ports 80 and 81 against the scenario's
// expected grid. SCTP cannot be probed on this kernel; it is covered by the
// ofproto/trace tests.
func TestKubernetesGridRealTraffic(t *testing.T) {
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "world.yaml"), []byte(evaltest.WorldYAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := StartScene(o, "br-int", dir, []int{80, 81})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for _, w := range s.Workloads {
		for _, p := range []int{80, 81} {
			ln, err := w.ListenUDP(p)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
		}
	}
	scenarios := evaltest.Scenarios()
	step := 4 // every fourth scenario by default; all of them with -long
	if *long || os.Getenv("FLOWGATE_LONG") != "" {
		step = 1
	}
	ran := 0
	for i := 0; i < len(scenarios); i += step {
		sc := scenarios[i]
		if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(sc.Policies), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := applyDir(o, dir); err != nil {
			t.Fatalf("scenario %s: %v", sc.Name, err)
		}
		for _, svc := range evaltest.Services() {
			if svc.Protocol == policy.SCTP {
				continue
			}
			want := sc.Expect(svc)
			got := probeGrid(s, svc, want)
			for _, d := range want.Diff(got) {
				t.Errorf("scenario %s %s: %s", sc.Name, svc, d)
			}
		}
		ran++
		if t.Failed() {
			return
		}
	}
	t.Logf("%d scenarios × TCP/UDP 80/81 × 72 pod pairs agreed with real traffic", ran)
}

// probeGrid observes one service between every ordered pair of pods. A
// probe that disagrees with want is repeated with a longer timeout: the
// first connection after a failed one can wait ~0.3 s for ARP, and slowness
// can only make an allowed pair look denied, never the reverse.
func probeGrid(s *Scene, svc evaltest.Service, want *evaltest.Reachability) *evaltest.Reachability {
	r := evaltest.NewReachability(false)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, from := range evaltest.Pods() {
		for _, to := range evaltest.Pods() {
			if from == to {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(from, to evaltest.Pod) {
				defer wg.Done()
				defer func() { <-sem }()
				src, dst := s.Workloads[from.String()], s.Workloads[to.String()]
				addr := netip.AddrPortFrom(dst.IPs[0].Addr(), svc.Port)
				probe := src.ProbeTCP
				if svc.Protocol == policy.UDP {
					probe = src.ProbeUDP
				}
				ok := probe(addr, 300*time.Millisecond)
				if ok != want.Allowed(from.String(), to.String()) {
					ok = probe(addr, 2*time.Second)
				}
				mu.Lock()
				r.Set(from.String(), to.String(), ok)
				mu.Unlock()
			}(from, to)
		}
	}
	wg.Wait()
	return r
}
