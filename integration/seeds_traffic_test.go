package integration

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestSeedScenariosRealTraffic brings every seed example to life: its pods
// as network namespaces on a private bridge, its policy applied with
// `flowgate apply` applies it (agent.Engine.Replace), and real TCP (on the ports the seed pages talk about)
// and ICMP echo between every ordered pair, compared with the evaluator,
// whose verdicts translator/evaluator/seeds_test.go asserts against the
// pages.
func TestSeedScenariosRealTraffic(t *testing.T) {
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	filepath.Walk("../examples/seeds", func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == "world.yaml" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	sort.Strings(dirs)
	if len(dirs) < 15 {
		t.Fatalf("found only %d seed scenarios", len(dirs))
	}
	for _, dir := range dirs {
		s, err := StartScene(o, "br-int", dir, []int{80, 6379, 8080})
		if err != nil {
			t.Fatal(err)
		}
		if err := applyDir(o, dir); err != nil {
			s.Stop()
			t.Fatal(err)
		}
		for _, c := range s.Probe(400 * time.Millisecond) {
			if c.Observed != c.Expected {
				t.Errorf("%s: %s -> %s tcp/%d: traffic %v, policy %v (%s)", dir, c.From, c.To, c.Port, c.Observed, c.Expected, c.Reason)
			}
		}
		for _, m := range s.pingMismatches() {
			t.Errorf("%s: %s", dir, m)
		}
		s.Stop()
		if t.Failed() {
			return
		}
	}
}

// pingMismatches pings every ordered pair and reports where the echo's
// fate differs from the evaluator's verdict for an ICMP echo request.
func (s *Scene) pingMismatches() []string {
	ev := evaluator.New(s.world, evaluator.DefaultOptions())
	var ids []string
	for id := range s.Workloads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var mu sync.Mutex
	var out []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, from := range ids {
		for _, to := range ids {
			if from == to {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(from, to string) {
				defer wg.Done()
				defer func() { <-sem }()
				src, dst := ev.Endpoint(from), ev.Endpoint(to)
				pkt := evaluator.Packet{Src: src.IPs[0], Dst: dst.IPs[0], Protocol: policy.ICMP, ICMPType: 8}
				want := ev.Evaluate(src, dst, pkt).Allowed
				addr := s.Workloads[to].IPs[0].Addr()
				got := s.Workloads[from].Ping(addr, 400*time.Millisecond)
				if got != want {
					got = s.Workloads[from].Ping(addr, 2*time.Second)
				}
				if got != want {
					mu.Lock()
					out = append(out, from+" -> "+to+" icmp echo: traffic "+yesNo(got)+", policy "+yesNo(want))
					mu.Unlock()
				}
			}(from, to)
		}
	}
	wg.Wait()
	sort.Strings(out)
	return out
}

func yesNo(b bool) string {
	if b {
		return "allowed"
	}
	return "denied"
}
