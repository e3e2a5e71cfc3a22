package evaluator_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// benchWorld is the benchmark world's YAML: 10,000 pods in 100 namespaces
// and 200 policies, generated once and shared by the benchmarks.
var benchWorld = sync.OnceValue(func() evaltest.Generated { return evaltest.Generate(1, 10000, 200) })

type benchProbe struct {
	src, dst *policy.Endpoint
	pkt      evaluator.Packet
}

func benchSetup(b *testing.B) (*evaluator.Evaluator, []benchProbe) {
	b.Helper()
	g := benchWorld()
	w, err := evaltest.BuildWorld("generated.yaml", g.YAML)
	if err != nil {
		b.Fatal(err)
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	r := rand.New(rand.NewPCG(1, 2))
	services := []evaluator.Packet{
		{Protocol: policy.TCP, DstPort: 80}, {Protocol: policy.TCP, DstPort: 8080}, {Protocol: policy.TCP, DstPort: 5432},
		{Protocol: policy.UDP, DstPort: 53}, {Protocol: policy.TCP, DstPort: 9050}, {Protocol: policy.ICMP, ICMPType: 8},
	}
	probes := make([]benchProbe, 4096)
	allowed := 0
	for i := range probes {
		s, d := g.Pods[r.IntN(len(g.Pods))], g.Pods[r.IntN(len(g.Pods))]
		pkt := services[r.IntN(len(services))]
		pkt.Src, pkt.Dst = s.IP, d.IP
		if pkt.Protocol.HasPorts() {
			pkt.SrcPort = evaluator.SourcePort
		}
		probes[i] = benchProbe{src: ev.Endpoint(s.String()), dst: ev.Endpoint(d.String()), pkt: pkt}
		if ev.Evaluate(probes[i].src, probes[i].dst, pkt).Allowed {
			allowed++
		}
	}
	// A world where everything, or nothing, is allowed measures little.
	if allowed < len(probes)/20 || allowed > len(probes)*19/20 {
		b.Fatalf("%d of %d probes allowed: the generated policy is not a realistic mix", allowed, len(probes))
	}
	return ev, probes
}

// BenchmarkEvaluate measures one new-connection verdict (egress of the
// source and ingress of the destination) in a 10k-pod, 200-policy world.
func BenchmarkEvaluate(b *testing.B) {
	ev, probes := benchSetup(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := &probes[i%len(probes)]
		ev.Evaluate(p.src, p.dst, p.pkt)
	}
}

// BenchmarkNew measures indexing the 10k-pod world for evaluation.
func BenchmarkNew(b *testing.B) {
	g := benchWorld()
	w, err := evaltest.BuildWorld("generated.yaml", g.YAML)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		evaluator.New(w, evaluator.DefaultOptions())
	}
}
