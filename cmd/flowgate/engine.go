package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/endpoints/hostif"
	"github.com/flowgate/flowgate/endpoints/ovsbind"
	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/ovsdb"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// engine keeps one bridge's flows equal to what the current policy and
// endpoints compile to. It is the agent's and `flowgate apply`'s core: the
// sources feed it objects, OVSDB tells it which endpoints are local, the
// compiler turns changes into deltas and the programmer installs them.
type engine struct {
	bridge string
	node   string
	db     *ovsdb.Client
	prog   *openflow.Programmer
	opts   compiler.Options

	comp   *compiler.Compiler
	world  *policy.World
	locals map[string]compiler.Binding
	objs   []decode.Object

	// hold says which ports are workload ports, whose traffic is dropped
	// while they are bound to no endpoint (ovsbind.HoldFlows); nil means
	// ovsbind.IsWorkloadPort (every port with an iface-id), the Kubernetes
	// mode holds pod ports (kube.IsPodPort). held is what is installed.
	hold func(ovsbind.Port) bool
	held []compiler.Flow

	// shared, when set, places every flow on a bridge the Neutron OVS
	// agent programs too; entries are the installed entry flows
	// (compiler.Shared.EntryFlows).
	shared  *compiler.Shared
	entries []compiler.Flow
}

// realizeStats says what one realization did.
type realizeStats struct {
	changes, flows, problems int
	full                     bool
	took                     time.Duration
	stages                   stageTimes
}

// stageTimes split an incremental realization's time into its stages, so
// that its latency can be read off the agent's log (docs/benchmarks.md).
type stageTimes struct {
	// build assembles the world from the objects; bind reads the bridge's
	// ports and binds endpoints; diff finds the changed objects and
	// bindings and the hold flows; compile runs the compiler's updates.
	build, bind, diff, compile time.Duration
	// bundle is the ovs-ofctl run committing the delta, purge the
	// datapath purge after it.
	bundle, purge time.Duration
}

// fields are the stages as log fields, in milliseconds.
func (s stageTimes) fields() logrus.Fields {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return logrus.Fields{"buildMs": ms(s.build), "bindMs": ms(s.bind), "diffMs": ms(s.diff),
		"compileMs": ms(s.compile), "bundleMs": ms(s.bundle), "purgeMs": ms(s.purge)}
}

// realize makes the bridge enforce objs. The first call (and any after a
// failure) compiles everything and replaces the bridge's flows in one
// bundle; later calls compile only the changes and apply their composed
// delta in one bundle.
func (e *engine) realize(ctx context.Context, objs []decode.Object) (realizeStats, error) {
	start := time.Now()
	lap := func(d *time.Duration) {
		now := time.Now()
		*d, start = now.Sub(start), now
	}
	begin := start
	e.objs = objs
	w, errs := e.buildWorld(objs)
	st := realizeStats{problems: len(errs)}
	lap(&st.stages.build)
	ports := e.ports()
	locals := e.bindings(w, ports)
	lap(&st.stages.bind)
	if e.comp == nil {
		if _, err := e.fullSync(ctx, w, ports, locals); err != nil {
			return st, err
		}
		st.full, st.flows, st.took = true, len(e.comp.Flows()), time.Since(begin)
		return st, nil
	}
	changes := compiler.Changes(e.world, w, e.locals, locals)
	st.changes = len(changes)
	hold := e.holdFlows(ports, locals)
	holdDelta := compiler.Diff(e.held, hold)
	entries := e.entryFlows(w, ports, locals)
	entryDelta := compiler.Diff(e.entries, entries)
	lap(&st.stages.diff)
	if len(changes) == 0 && holdDelta.Empty() && entryDelta.Empty() {
		st.took = time.Since(begin)
		return st, nil
	}
	deltas := make([]compiler.Delta, 0, len(changes))
	for _, ch := range changes {
		d, errs := e.comp.Update(ch)
		for _, err := range errs {
			logrus.WithError(err).WithField("change", ch.String()).Warn("not compiled")
		}
		deltas = append(deltas, d)
	}
	e.world, e.locals = w, locals
	d := e.place(compiler.Compose(append(deltas, holdDelta)...))
	if !entryDelta.Empty() {
		d = compiler.Compose(d, entryDelta)
	}
	st.flows = d.Len()
	lap(&st.stages.compile)
	err := e.prog.Apply(ctx, d)
	if t := e.prog.LastTimings(); err == nil && !d.Empty() {
		st.stages.bundle, st.stages.purge = t.Bundle, t.Purge
	}
	if err == nil {
		e.held, e.entries = hold, entries
	} else {
		// The cache is only updated after a bundle succeeds; recompile and
		// replace everything so the bridge is certainly right again.
		logrus.WithError(err).Warn("applying the delta failed; replacing all flows")
		if _, err := e.fullSync(ctx, w, ports, locals); err != nil {
			return st, err
		}
		st.full = true
	}
	st.took = time.Since(begin)
	return st, nil
}

// buildWorld assembles decoded objects into a world, logging what is left
// out, and resolves host endpoint addresses.
func (e *engine) buildWorld(objs []decode.Object) (*policy.World, []error) {
	w, errs := decode.Build(objs)
	for _, err := range errs {
		logrus.WithError(err).Warn("object not enforced")
	}
	resolveHostAddresses(w)
	return w, errs
}

// bindings finds the endpoints bound to the bridge's ports.
func (e *engine) bindings(w *policy.World, ports []ovsbind.Port) map[string]compiler.Binding {
	return ovsbind.Bind(w.Endpoints, ports, ovsbind.Options{Node: e.node})
}

// fullSync compiles w from scratch and replaces the bridge's flows.
func (e *engine) fullSync(ctx context.Context, w *policy.World, ports []ovsbind.Port, locals map[string]compiler.Binding) (openflow.SyncStats, error) {
	opts := e.opts
	opts.Locals = locals
	comp, errs := compiler.New(w, opts)
	for _, err := range errs {
		logrus.WithError(err).Warn("not compiled")
	}
	flows, hold := comp.Flows(), e.holdFlows(ports, locals)
	if len(hold) > 0 {
		flows = slices.Concat(flows, hold)
	}
	entries := e.entryFlows(w, ports, locals)
	if e.shared != nil {
		flows = slices.Concat(e.shared.PlaceAll(flows), entries)
	}
	stats, err := e.prog.Sync(ctx, flows)
	if err != nil {
		e.comp = nil
		return stats, fmt.Errorf("install flows on %s: %w", e.bridge, err)
	}
	logrus.WithFields(logrus.Fields{"bridge": e.bridge, "flows": len(comp.Flows()), "held": heldPorts(hold), "added": stats.Added, "removed": stats.Removed, "changed": stats.Changed}).Info("flows replaced")
	e.comp, e.world, e.locals, e.held, e.entries = comp, w, copyBindings(locals), hold, entries
	return stats, nil
}

// place puts a delta where it is installed: as compiled, or relocated for
// a shared bridge.
func (e *engine) place(d compiler.Delta) compiler.Delta {
	if e.shared == nil {
		return d
	}
	return e.shared.PlaceDelta(d)
}

// entryFlows are the flows diverting bound ports' traffic into flowgate on
// a shared bridge; none otherwise. Held ports are diverted too, from the
// port and to its attached-mac, or their hold flows would never see their
// traffic with anything but a bound port: Neutron's NORMAL would switch
// it unfiltered.
func (e *engine) entryFlows(w *policy.World, ports []ovsbind.Port, locals map[string]compiler.Binding) []compiler.Flow {
	if e.shared == nil {
		return nil
	}
	diverted := maps.Clone(locals)
	for _, p := range ovsbind.HeldPorts(ports, locals, e.holdRule()) {
		mac, _ := net.ParseMAC(p.AttachedMAC)
		// Not an endpoint ID (those have no NUL), so w names no pairs.
		diverted["\x00held/"+p.Name] = compiler.Binding{OFPort: uint32(p.OFPort), MAC: mac}
	}
	return e.shared.EntryFlows(w, diverted, e.opts.Generation)
}

// holdFlows are the flows holding the workload ports that are bound to no
// endpoint (see engine.hold).
func (e *engine) holdFlows(ports []ovsbind.Port, locals map[string]compiler.Binding) []compiler.Flow {
	return ovsbind.HoldFlows(ports, locals, e.opts.Generation, e.holdRule())
}

// holdRule says which ports are workload ports (see engine.hold).
func (e *engine) holdRule() func(ovsbind.Port) bool {
	if e.hold == nil {
		return ovsbind.IsWorkloadPort
	}
	return e.hold
}

// heldPorts counts the ports hold flows hold.
func heldPorts(hold []compiler.Flow) int {
	n := 0
	for _, f := range hold {
		if f.Table == compiler.TableClassify.ID {
			n++
		}
	}
	return n
}

// resync recompiles the last objects from scratch and replaces all flows:
// after ovs-vswitchd lost them, or on request.
func (e *engine) resync(ctx context.Context) error {
	e.comp = nil
	_, err := e.realize(ctx, e.objs)
	return err
}

func (e *engine) ports() []ovsbind.Port {
	var out []ovsbind.Port
	for _, i := range e.db.Interfaces(e.bridge) {
		out = append(out, ovsbind.Port{
			Name: i.Name, OFPort: i.OFPort, IfaceID: i.ExternalIDs["iface-id"],
			AttachedMAC: i.ExternalIDs["attached-mac"], MACInUse: i.MACInUse,
		})
	}
	return out
}

// resolveHostAddresses gives host endpoints that name an interface but no
// addresses the interface's addresses, on copies: decoded objects are
// shared with the compiler and must not change under it.
func resolveHostAddresses(w *policy.World) {
	for i, ep := range w.Endpoints {
		if ep.Kind != policy.HostEndpoint || ep.InterfaceName == "" || len(ep.IPs) > 0 {
			continue
		}
		cp := *ep
		for _, err := range hostif.FillAddresses([]*policy.Endpoint{&cp}) {
			logrus.WithError(err).Warn("host endpoint without addresses")
		}
		w.Endpoints[i] = &cp
	}
}

func copyBindings(m map[string]compiler.Binding) map[string]compiler.Binding {
	out := make(map[string]compiler.Binding, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
