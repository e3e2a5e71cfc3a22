package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// Engine keeps one bridge's flows equal to what the current policy and
// endpoints compile to. It is the agent's and `flowgate apply`'s core: the
// sources feed it objects, OVSDB tells it which endpoints are local, the
// compiler turns changes into deltas and the programmer installs them.
type Engine struct {
	// Bridge is the bridge whose flows the engine owns (or, with Shared,
	// the flows with flowgate's cookie mark on it).
	Bridge string
	// Node, when set, makes only endpoints on this node local.
	Node string
	// DB reports the bridge's ports; Prog installs flows on it.
	DB   *ovsdb.Client
	Prog *openflow.Programmer
	// Opts are the compiler's options (failsafes, established connections,
	// generation); Locals and Shared are filled in by the engine from the
	// bridge's bindings and Shared below.
	Opts compiler.Options
	// Hold says which ports are workload ports, whose traffic is dropped
	// while they are bound to no endpoint (compiler.HoldFlows); nil means
	// ovsbind.IsWorkloadPort (every port with an iface-id), the Kubernetes
	// mode holds pod ports (kube.IsPodPort).
	Hold func(ovsbind.Port) bool
	// Shared, when set, places every flow on a bridge the Neutron OVS
	// agent programs too.
	Shared *compiler.Shared

	comp   *compiler.Compiler
	world  *policy.World
	locals map[string]compiler.Binding
	objs   []decode.Object

	// tracker turns one changed object into its changes without
	// building or diffing the world (compiler.ObjectTracker); nil when
	// the last world had problems or the bridge is shared. candidates
	// are the endpoints the bridge's ports (ports, as last read) may
	// bind (ovsbind.Candidates). After a tracked change world is nil:
	// it is built from the tracker's objects when a change needs it.
	tracker    *compiler.ObjectTracker
	candidates map[string]*policy.Endpoint
	ports      []ovsbind.Port

	// held are the installed hold flows; entries the installed entry
	// flows of a shared bridge (compiler.Shared.EntryFlows).
	held    []compiler.Flow
	entries []compiler.Flow

	// BeforeSync, when set, is given every flow a full replacement is
	// about to install, before the Sync (`flowgate apply` digests them
	// meanwhile, openflow.Programmer.DesiredDigest). It must not keep
	// or change the slice after returning.
	BeforeSync func(flows []compiler.Flow)

	// replacedPorts are the ports the last Replace bound (ReplacedPorts).
	replacedPorts []ovsbind.Port
}

// RealizeStats says what one realization did.
type RealizeStats struct {
	// Changes are the world and binding changes compiled; Flows the flow
	// operations applied (all flows on a full realization); Problems the
	// objects left out.
	Changes, Flows, Problems int
	// Full says everything was compiled and replaced.
	Full bool
	// Took is the realization's time; Stages split an incremental one.
	Took   time.Duration
	Stages StageTimes
}

// StageTimes split an incremental realization's time into its stages, so
// that its latency can be read off the agent's log (docs/benchmarks.md).
type StageTimes struct {
	// Build assembles the world from the objects; Bind reads the bridge's
	// ports and binds endpoints; Diff finds the changed objects and
	// bindings and the hold flows; Compile runs the compiler's updates.
	Build, Bind, Diff, Compile time.Duration
	// Bundle is the ovs-ofctl run committing the delta, Purge the
	// datapath purge after it.
	Bundle, Purge time.Duration
}

// fields are the stages as log fields, in milliseconds.
func (s StageTimes) fields() logrus.Fields {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return logrus.Fields{"buildMs": ms(s.Build), "bindMs": ms(s.Bind), "diffMs": ms(s.Diff),
		"compileMs": ms(s.Compile), "bundleMs": ms(s.Bundle), "purgeMs": ms(s.Purge)}
}

// Realize makes the bridge enforce objs. The first call (and any after a
// failure) compiles everything and replaces the bridge's flows in one
// bundle; later calls compile only the changes and apply their composed
// delta in one bundle.
func (e *Engine) Realize(ctx context.Context, objs []decode.Object) (RealizeStats, error) {
	start := time.Now()
	lap := func(d *time.Duration) {
		now := time.Now()
		*d, start = now.Sub(start), now
	}
	begin := start
	e.objs = objs
	if st, ok, err := e.realizeTracked(ctx, objs, begin); ok {
		return st, err
	}
	start = time.Now()
	if e.comp == nil && e.Prog != nil && e.Prog.Installed() == 0 {
		// A full realization compares the bridge's flows with what it
		// compiles when it cannot trust its cache (an agent starting
		// onto a programmed bridge): dump them while it builds and
		// compiles.
		e.Prog.SetPrefetched(e.Prog.Prefetch(ctx))
	}
	if e.comp != nil && e.world == nil {
		// The last changes were tracked: the world they made.
		if e.tracker == nil {
			e.comp = nil // cannot happen; recompile rather than guess
		} else {
			e.world, _ = e.BuildWorld(e.tracker.Objects())
		}
	}
	w, errs := e.BuildWorld(objs)
	st := RealizeStats{Problems: len(errs)}
	lap(&st.Stages.Build)
	ports := e.Ports()
	locals := e.Bindings(w, ports)
	lap(&st.Stages.Bind)
	defer e.track(objs, w, errs, ports)
	if e.comp == nil {
		if _, err := e.FullSync(ctx, w, ports, locals); err != nil {
			return st, err
		}
		st.Full, st.Flows, st.Took = true, len(e.comp.Flows()), time.Since(begin)
		return st, nil
	}
	changes := compiler.Changes(e.world, w, e.locals, locals)
	return e.compileAndApply(ctx, st, changes, w, ports, locals, start, begin)
}

// realizeTracked realizes objs as changes the tracker found, when it can
// (ok): the bridge's ports are as they were, and the changed objects are
// plain ones (compiler.ObjectTracker). It costs what the changed objects
// affect, not what the world holds.
func (e *Engine) realizeTracked(ctx context.Context, objs []decode.Object, begin time.Time) (RealizeStats, bool, error) {
	var st RealizeStats
	if e.comp == nil || e.tracker == nil || e.Shared != nil {
		return st, false, nil
	}
	ports := e.Ports()
	if !slices.Equal(ports, e.ports) {
		return st, false, nil
	}
	// The stages as in a world's realization: finding the changed objects
	// is its build, reading the ports part of binding.
	read := time.Now()
	up, down, ok := e.tracker.Changes(objs)
	if !ok {
		return st, false, nil
	}
	start := time.Now()
	st.Stages.Build = start.Sub(read)
	start = start.Add(-read.Sub(begin))
	opts := ovsbind.Options{Node: e.Node}
	for _, ch := range append(up, down...) {
		switch {
		case ch.UpsertEndpoint != nil:
			id := ch.UpsertEndpoint.ID()
			delete(e.candidates, id)
			if len(ovsbind.Candidates([]*policy.Endpoint{ch.UpsertEndpoint}, ports, opts)) > 0 {
				e.candidates[id] = ch.UpsertEndpoint
			}
		case ch.DeleteEndpoint != "":
			delete(e.candidates, ch.DeleteEndpoint)
		}
	}
	eps := make([]*policy.Endpoint, 0, len(e.candidates))
	for _, ep := range e.candidates {
		eps = append(eps, ep)
	}
	locals := ovsbind.Bind(eps, ports, opts)
	now := time.Now()
	st.Stages.Bind, start = now.Sub(start), now
	changes := append(append(up, compiler.BindingChanges(e.locals, locals)...), down...)
	e.world = nil
	st, err := e.compileAndApply(ctx, st, changes, nil, ports, locals, start, begin)
	return st, true, err
}

// track starts the tracker at objs after a realization from the world w
// they were built into (with errs), or stops it where it cannot follow.
func (e *Engine) track(objs []decode.Object, w *policy.World, errs []error, ports []ovsbind.Port) {
	if e.comp == nil || len(errs) > 0 || e.Shared != nil {
		e.tracker, e.candidates = nil, nil
		return
	}
	e.tracker = compiler.NewObjectTracker(objs, w)
	e.ports = ports
	e.candidates = map[string]*policy.Endpoint{}
	for _, ep := range ovsbind.Candidates(w.Endpoints, ports, ovsbind.Options{Node: e.Node}) {
		e.candidates[ep.ID()] = ep
	}
}

// compileAndApply compiles changes (to world w, nil when it was not
// built: only on an unshared bridge), adds the hold and entry flows'
// changes and applies the composed delta in one bundle; when that fails,
// it replaces every flow.
func (e *Engine) compileAndApply(ctx context.Context, st RealizeStats, changes []compiler.Change, w *policy.World,
	ports []ovsbind.Port, locals map[string]compiler.Binding, start, begin time.Time) (RealizeStats, error) {
	lap := func(d *time.Duration) {
		now := time.Now()
		*d, start = now.Sub(start), now
	}
	st.Changes = len(changes)
	held := e.heldPorts(ports, locals)
	opts := e.Opts
	opts.Locals, opts.Shared = locals, e.Shared
	hold := compiler.HoldFlows(held, opts)
	holdDelta := compiler.Diff(e.held, hold)
	entries := e.entryFlows(w, locals, held)
	entryDelta := compiler.Diff(e.entries, entries)
	lap(&st.Stages.Diff)
	if len(changes) == 0 && holdDelta.Empty() && entryDelta.Empty() {
		st.Took = time.Since(begin)
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
	d := compiler.Compose(append(deltas, holdDelta)...)
	if !entryDelta.Empty() {
		d = compiler.Compose(d, entryDelta)
	}
	st.Flows = d.Len()
	lap(&st.Stages.Compile)
	err := e.Prog.Apply(ctx, d)
	if t := e.Prog.LastTimings(); err == nil && !d.Empty() {
		st.Stages.Bundle, st.Stages.Purge = t.Bundle, t.Purge
	}
	if err == nil {
		e.held, e.entries = hold, entries
	} else {
		// The cache is only updated after a bundle succeeds; recompile and
		// replace everything so the bridge is certainly right again.
		logrus.WithError(err).Warn("applying the delta failed; replacing all flows")
		objs := e.objs
		w, errs := e.BuildWorld(objs)
		if _, err := e.FullSync(ctx, w, ports, e.Bindings(w, ports)); err != nil {
			return st, err
		}
		e.track(objs, w, errs, ports)
		st.Full = true
	}
	st.Took = time.Since(begin)
	return st, nil
}

// Replace compiles objs from scratch and replaces the bridge's flows in
// one bundle — `flowgate apply`, and the first realization of the agent.
// It returns the bundle's stats and the objects that could not be built.
// With any such problem it changes nothing on the bridge (a left-out
// object may be a Deny) and returns them with no error.
func (e *Engine) Replace(ctx context.Context, objs []decode.Object) (openflow.SyncStats, []error, error) {
	w, problems := e.BuildWorld(objs)
	if len(problems) > 0 {
		return openflow.SyncStats{}, problems, nil
	}
	e.objs = objs
	ports := e.Ports()
	e.replacedPorts = ports
	stats, err := e.FullSync(ctx, w, ports, e.Bindings(w, ports))
	e.track(objs, w, problems, ports)
	return stats, problems, err
}

// ReplacedPorts are the bridge's ports as the last Replace read and bound
// them: what its flows were compiled for (`flowgate apply` fingerprints
// them).
func (e *Engine) ReplacedPorts() []ovsbind.Port { return e.replacedPorts }

// BuildWorld assembles decoded objects into a world, logging what is left
// out, and resolves host endpoint addresses.
func (e *Engine) BuildWorld(objs []decode.Object) (*policy.World, []error) {
	w, errs := decode.Build(objs)
	for _, err := range errs {
		logrus.WithError(err).Warn("object not enforced")
	}
	resolveHostAddresses(w)
	return w, errs
}

// Bindings finds the endpoints bound to the bridge's ports.
func (e *Engine) Bindings(w *policy.World, ports []ovsbind.Port) map[string]compiler.Binding {
	return ovsbind.Bind(w.Endpoints, ports, ovsbind.Options{Node: e.Node})
}

// FullSync compiles w from scratch and replaces the bridge's flows.
func (e *Engine) FullSync(ctx context.Context, w *policy.World, ports []ovsbind.Port, locals map[string]compiler.Binding) (openflow.SyncStats, error) {
	comp, errs := compiler.New(w, e.compileOptions(locals))
	for _, err := range errs {
		logrus.WithError(err).Warn("not compiled")
	}
	return e.install(ctx, w, comp, ports, locals)
}

// compileOptions are the engine's compiler options for these bindings.
func (e *Engine) compileOptions(locals map[string]compiler.Binding) compiler.Options {
	opts := e.Opts
	opts.Locals, opts.Shared = locals, e.Shared
	return opts
}

// install replaces the bridge's flows with comp's (compiled from w for
// ports and locals) and the hold and entry flows.
func (e *Engine) install(ctx context.Context, w *policy.World, comp *compiler.Compiler, ports []ovsbind.Port, locals map[string]compiler.Binding) (openflow.SyncStats, error) {
	opts := e.compileOptions(locals)
	held := e.heldPorts(ports, locals)
	flows := comp.BridgeFlows(held)
	hold := compiler.HoldFlows(held, opts)
	entries := e.entryFlows(w, locals, held)
	if e.BeforeSync != nil {
		e.BeforeSync(flows)
	}
	stats, err := e.Prog.Sync(ctx, flows)
	if err != nil {
		e.comp = nil
		return stats, fmt.Errorf("install flows on %s: %w", e.Bridge, err)
	}
	logrus.WithFields(logrus.Fields{"bridge": e.Bridge, "flows": len(comp.Flows()), "held": heldPorts(hold), "added": stats.Added, "removed": stats.Removed, "changed": stats.Changed}).Info("flows replaced")
	e.comp, e.world, e.locals, e.held, e.entries = comp, w, copyBindings(locals), hold, entries
	return stats, nil
}

// entryFlows are the flows diverting bound and held ports' traffic into
// flowgate on a shared bridge (compiler.Shared.EntryFlows); none otherwise.
func (e *Engine) entryFlows(w *policy.World, locals map[string]compiler.Binding, held []compiler.HeldPort) []compiler.Flow {
	if e.Shared == nil {
		return nil
	}
	return e.Shared.EntryFlows(w, locals, held, e.Opts.Generation)
}

// heldPorts are the workload ports bound to no endpoint (see Engine.Hold).
func (e *Engine) heldPorts(ports []ovsbind.Port, locals map[string]compiler.Binding) []compiler.HeldPort {
	return ovsbind.Held(ports, locals, e.holdRule())
}

// holdRule says which ports are workload ports (see Engine.Hold).
func (e *Engine) holdRule() func(ovsbind.Port) bool {
	if e.Hold == nil {
		return ovsbind.IsWorkloadPort
	}
	return e.Hold
}

// heldPorts counts the ports hold flows hold.
func heldPorts(hold []compiler.Flow) int {
	n := 0
	for _, f := range hold {
		if strings.HasPrefix(f.Match, "in_port=") { // one per port, in classify
			n++
		}
	}
	return n
}

// Resync recompiles the last objects from scratch and replaces all flows:
// after ovs-vswitchd lost them, or on request.
func (e *Engine) Resync(ctx context.Context) error {
	e.comp = nil
	_, err := e.Realize(ctx, e.objs)
	return err
}

func (e *Engine) Ports() []ovsbind.Port {
	var out []ovsbind.Port
	for _, i := range e.DB.Interfaces(e.Bridge) {
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

// Counts are the policy flows compiled and the endpoints bound to the
// bridge at the last realization, as `flowgate apply` reports them.
func (e *Engine) Counts() (flows, bound int) {
	if e.comp != nil {
		flows = len(e.comp.Flows())
	}
	return flows, len(e.locals)
}
