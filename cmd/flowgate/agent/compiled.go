package agent

import (
	"context"
	"maps"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/endpoints/ovsbind"
	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// Compiled is objs compiled for the bridge's ports as they were read,
// before anything on the bridge changes, for ReplaceCompiled to install
// as it is.
type Compiled struct {
	objs   []decode.Object
	world  *policy.World
	comp   *compiler.Compiler
	ports  []ovsbind.Port
	locals map[string]compiler.Binding
}

// CompileForAllLocal compiles objs (valid: decode.Build found no
// problem) for ports, when the ports bind every endpoint of the engine's
// node: then this one compilation activates every policy that can apply
// on the host, exactly what `flowgate apply` checks by compiling with
// every endpoint of the node local (compiler.AllLocal) before it touches
// the bridge, and the check and the compilation Replace would do are one
// (at 50,000 pods each costs 0.3 s). ok is false, and nothing is
// compiled, when some endpoint of the node is not bound or the bridge is
// shared; errs are the policies' problems (the caller refuses then); a
// local endpoint's own (a port without a MAC) is logged and left out, as
// Replace does: the check with every endpoint local never sees those.
func (e *Engine) CompileForAllLocal(objs []decode.Object, ports []ovsbind.Port) (c *Compiled, errs []error, ok bool) {
	if e.Shared != nil {
		return nil, nil, false
	}
	world, berrs := e.BuildWorld(objs) // as Replace: host endpoints get their addresses
	if len(berrs) > 0 {
		return nil, nil, false
	}
	all := compiler.AllLocal(world, e.Node)
	locals := e.Bindings(world, ports)
	if len(locals) != len(all) || !slices.Equal(slices.Sorted(maps.Keys(locals)), slices.Sorted(maps.Keys(all))) {
		return nil, nil, false
	}
	comp, cerrs := compiler.New(world, e.compileOptions(locals))
	for _, err := range cerrs {
		logrus.WithError(err).Warn("not compiled") // as FullSync; the policies' refuse below
	}
	return &Compiled{objs: objs, world: world, comp: comp, ports: ports, locals: locals}, comp.PolicyErrors(), true
}

// ReplaceCompiled is Replace for a compilation CompileForAllLocal made.
func (e *Engine) ReplaceCompiled(ctx context.Context, c *Compiled) (openflow.SyncStats, error) {
	e.objs = c.objs
	e.replacedPorts = c.ports
	stats, err := e.install(ctx, c.world, c.comp, c.ports, c.locals)
	e.track(c.objs, c.world, nil, c.ports)
	return stats, err
}
