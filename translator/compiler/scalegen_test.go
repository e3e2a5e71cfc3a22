package compiler

import (
	"net"
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/translator/compiler/scalegen"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// The scale world's sizes and shape (translator/compiler/scalegen).
type scaleConfig = scalegen.Config

var (
	scaleTarget = scalegen.Target
	scaleSmall  = scalegen.Small
	scaleTiny   = scalegen.Tiny
	scaleApps   = scalegen.Apps
	scaleTiers  = scalegen.Tiers
)

const scaleMonitoring = scalegen.Monitoring

// scaleWorld is a generated world with what benchmarks need to find in it.
type scaleWorld struct {
	world *policy.World
	opts  Options
	// namespaces are the application namespaces (not the infra ones).
	namespaces []string
	// localPods are the bound pods, in binding order.
	localPods []*policy.Endpoint
	// nextIP is the first address no pod has.
	nextIP netip.Addr
}

// genScale builds the deterministic scale world of cfg's size
// (scalegen.Generate), its policy decoded from YAML, and binds its local
// pods to ports 1 on.
func genScale(tb testing.TB, seed uint64, cfg scaleConfig) *scaleWorld {
	tb.Helper()
	g := scalegen.Generate(seed, cfg)
	objs, errs := decode.Decode("scale.yaml", []byte(g.YAML))
	w, berrs := decode.Build(objs)
	if errs = append(errs, berrs...); len(errs) > 0 {
		tb.Fatalf("scale world does not decode: %v", errs[0])
	}
	w.Endpoints = append(w.Endpoints, g.Pods...)
	sw := &scaleWorld{world: w, namespaces: g.Namespaces, nextIP: g.NextIP}
	sw.opts = Options{Locals: map[string]Binding{}, FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound(), DefaultZone: 1}
	for _, e := range g.Local {
		port := uint32(len(sw.opts.Locals) + 1)
		sw.opts.Locals[e.ID()] = Binding{OFPort: port, MAC: net.HardwareAddr{0x02, 0, 0, 0, byte(port >> 8), byte(port)}}
		sw.localPods = append(sw.localPods, e)
	}
	return sw
}
