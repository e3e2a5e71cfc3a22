package compiler

import (
	"fmt"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/translator/policy"
)

// The scale benchmarks measure the targets on worlds from
// genScale (see scalegen_test.go and docs/benchmarks.md):
//
//	go test ./translator/compiler -run '^$' -bench 'Scale' -benchtime 5x
//
// "target" is C=100,000 remote pods, L=200 local ones, P=10,000 policies.

var scaleWorlds = struct {
	sync.Mutex
	m map[string]*scaleWorld
}{m: map[string]*scaleWorld{}}

// sharedScale generates each size once per test binary: generating the
// target world takes seconds and benchmarks run their setup repeatedly.
// The world must not be modified (New only reads it; Update changes it,
// so update benchmarks build their own compiler from a copy).
func sharedScale(b *testing.B, name string, cfg scaleConfig) *scaleWorld {
	scaleWorlds.Lock()
	defer scaleWorlds.Unlock()
	if sw := scaleWorlds.m[name]; sw != nil {
		return sw
	}
	sw := genScale(b, 1, cfg)
	scaleWorlds.m[name] = sw
	return sw
}

var scaleSizes = []struct {
	name string
	cfg  scaleConfig
}{{"small", scaleSmall}, {"target", scaleTarget}}

// BenchmarkCompileScale measures a full compile (New, then Flows) and
// reports the flow count beside the reference counts, and the
// heap: the peak while compiling (the world it reads included), what the
// compiler retains, and the world alone (the test binary's heap before).
func BenchmarkCompileScale(b *testing.B) {
	for _, size := range scaleSizes {
		b.Run(size.name, func(b *testing.B) {
			sw := sharedScale(b, size.name, size.cfg)
			runtime.GC()
			base := heapBytes()
			var peak uint64
			var c *Compiler
			var n int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c = nil
				stop := sampleHeap(&peak)
				var errs []error
				c, errs = New(sw.world, sw.opts)
				n = len(c.Flows())
				stop()
				if len(errs) > 0 {
					b.Fatal(errs[0])
				}
			}
			b.StopTimer()
			runtime.GC()
			retained := heapBytes() - base
			st := c.stats()
			b.ReportMetric(float64(n), "flows")
			b.ReportMetric(float64(st.ruleFlows), "rule-flows")
			b.ReportMetric(float64(st.active), "active-policies")
			b.ReportMetric(float64(st.reference), "ref-sum")
			b.ReportMetric(float64(st.cross), "cross-product")
			b.ReportMetric(float64(n)/float64(st.reference), "flows/ref")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(retained)/(1<<20), "retained-MiB")
			b.ReportMetric(float64(base)/(1<<20), "world-MiB")
			runtime.KeepAlive(c)
		})
	}
}

// BenchmarkUpdateScale measures one incremental change on the target
// world: the time Update takes to compute its delta.
//
// remote-pod-added: a remote pod joins the set of monitoring pods, which
// the platform tier's rules use (rules-using reports how many); the timed
// Update adds it, an untimed one removes it again.
//
// policy-added: a copy of a namespaced policy that applies to a local pod
// is added (timed) and deleted again (untimed).
//
// local-pod-relabelled: a local pod's app label flips between two values
// on every iteration, moving it between the policies and rule sets of
// both apps.
func BenchmarkUpdateScale(b *testing.B) {
	for _, size := range scaleSizes {
		b.Run(size.name+"/remote-pod-added", func(b *testing.B) {
			sw := sharedScale(b, size.name, size.cfg)
			c, _ := New(cloneWorld(sw.world), sw.opts)
			pod := &policy.Endpoint{Kind: policy.PodEndpoint, Orchestrator: policy.OrchestratorKubernetes, Namespace: scaleMonitoring, Name: "prometheus-new",
				Labels: map[string]string{"app": "prometheus", "tier": "ops", "version": "v1"}, IPs: []netip.Addr{sw.nextIP}}
			c.Update(Change{UpsertEndpoint: pod})
			rules := c.rulesSelecting(pod)
			c.Update(Change{DeleteEndpoint: pod.ID()})
			ops := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, _ := c.Update(Change{UpsertEndpoint: pod})
				ops += d.Len()
				b.StopTimer()
				c.Update(Change{DeleteEndpoint: pod.ID()})
				b.StartTimer()
			}
			b.ReportMetric(float64(rules), "rules-using")
			b.ReportMetric(float64(ops)/float64(b.N), "flows/op")
		})
		b.Run(size.name+"/policy-added", func(b *testing.B) {
			sw := sharedScale(b, size.name, size.cfg)
			c, _ := New(cloneWorld(sw.world), sw.opts)
			// A copy of an active policy under a new name: it applies to a
			// local pod, so it is compiled.
			var p *policy.Policy
			for _, id := range sortedKeys(c.states) {
				if q := c.policy(id); q.Namespace != "" && c.compiled(id) {
					p = q
					break
				}
			}
			copied := *p
			copied.Name = p.Name + "-copy"
			ops := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, _ := c.Update(Change{UpsertPolicy: &copied})
				ops += d.Len()
				b.StopTimer()
				c.Update(Change{DeletePolicy: copied.ID()})
				b.StartTimer()
			}
			b.ReportMetric(float64(ops)/float64(b.N), "flows/op")
		})
		b.Run(size.name+"/local-pod-relabelled", func(b *testing.B) {
			sw := sharedScale(b, size.name, size.cfg)
			c, _ := New(cloneWorld(sw.world), sw.opts)
			local := sw.localPods[0]
			var versions [2]*policy.Endpoint
			for i, app := range []string{local.Labels["app"], otherApp(local.Labels["app"])} {
				e := *local
				e.Labels = map[string]string{"app": app, "tier": scaleTiers[app], "version": local.Labels["version"]}
				versions[i] = &e
			}
			ops := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, _ := c.Update(Change{UpsertEndpoint: versions[(i+1)%2]})
				ops += d.Len()
			}
			b.ReportMetric(float64(ops)/float64(b.N), "flows/op")
		})
	}
}

func otherApp(app string) string {
	i := slices.Index(scaleApps, app)
	return scaleApps[(i+1)%len(scaleApps)]
}

// rulesSelecting counts the compiled rule slots that use a selector
// selecting e as a pure address source.
func (c *Compiler) rulesSelecting(e *policy.Endpoint) int {
	labels := c.world.EndpointLabels(e)
	n := 0
	for sel, en := range c.selectors {
		if !sel.Matches(labels) {
			continue
		}
		for s, k := range en.users {
			if k&usePureAddr != 0 && s.live {
				n++
			}
		}
	}
	return n
}

// compileStats are the counts BenchmarkCompileScale reports.
type compileStats struct {
	ruleFlows int
	active    int
	// reference is Σ over compiled rules of (local endpoints the policy
	// applies to + peer addresses + service matches): what a compiler
	// that never multiplies dimensions would need. cross is Σ of their
	// product: what one without conjunctions would need.
	reference, cross int
}

func (c *Compiler) stats() compileStats {
	var st compileStats
	for id, ps := range c.states {
		st.active++
		applied := c.active[id]
		for _, s := range ps.slots {
			st.ruleFlows += len(s.flows)
			if !s.live {
				continue
			}
			live := make([]bool, len(s.rules))
			for i := range s.rules {
				live[i] = s.rules[i].live(currentFamily)
			}
			peers, services := 0, 0
			for side := 0; side < 2; side++ {
				if s.addrClause[side] >= 0 {
					peers += len(s.addrFragments(side, live))
				}
			}
			services = len(s.portsClause) + len(s.serviceClause)
			st.reference += applied + peers + services
			st.cross += applied * max(peers, 1) * max(services, 1)
		}
	}
	return st
}

// heapBytes is the heap's live and not yet swept objects now.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap records the largest heap seen, every millisecond, into peak
// until the returned function is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapBytes(); h > *peak {
				*peak = h
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// TestScaleWorldShape keeps the scale generator honest on its smallest
// size: the world decodes, a local pod is in every sense local, policies of
// every kind compile, and the compiled flows stay within the bound
// of 1.2 × Σ (applied-to + peers + services).
func TestScaleWorldShape(t *testing.T) {
	sw := genScale(t, 1, scaleTiny)
	c, errs := New(sw.world, sw.opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	fs := c.Flows()
	st := c.stats()
	if len(sw.localPods) != scaleTiny.Local || st.active < scaleTiny.Policies/10 {
		t.Fatalf("%d local pods, %d of %d policies active: the world is not shaped as intended", len(sw.localPods), st.active, scaleTiny.Policies)
	}
	kinds := map[policy.Kind]bool{}
	for id := range c.states {
		kinds[c.policy(id).Kind] = true
	}
	if len(kinds) != 3 {
		t.Errorf("active policies of %d kinds, want all 3", len(kinds))
	}
	if float64(len(fs)) > 1.2*float64(st.reference) {
		t.Errorf("%d flows, more than 1.2 × %d (applied-to + peers + services)", len(fs), st.reference)
	}
	if st.cross <= st.reference {
		t.Errorf("cross product %d not above the sum %d: the rules are too small to mean anything", st.cross, st.reference)
	}
	t.Log(fmt.Sprintf("%d flows (%d in rules), %d active policies, Σ %d, cross product %d", len(fs), st.ruleFlows, st.active, st.reference, st.cross))
}
