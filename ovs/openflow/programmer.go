// Package openflow installs the compiler's flows on a bridge and keeps them
// there. Deltas (Apply, and Sync's small ones) go as OpenFlow 1.5 bundles
// over one persistent connection to the bridge's management socket
// (native.go, ovs/ofconn); wholesale replacements, reads and any flow
// outside the native encoder's vocabulary go through ovs-ofctl (see
// ofctl.go for why not go-openvswitch).
//
// Every change is one OpenFlow bundle committed atomically (native, or
// `ovs-ofctl --bundle`): ovs-vswitchd stages all of a bundle's flow
// changes in a new version of its classifier and switches lookups to that
// version in one step, so a packet is always processed either entirely by
// the flows before the change or entirely by the flows after it. That is
// what makes a full replacement safe for traffic ("make before break"): a
// restarting agent replaces every flow of the previous run, whatever it
// was, in one bundle, and no packet ever meets a half-written or empty
// table. Established connections are unaffected in any case: conntrack
// state lives in the datapath, not in the flows.
//
// One ovs-ofctl process costs ~12 ms to start, so a change is never one
// process per flow: a Sync or Apply is one process, whatever its size —
// or, natively, no process at all.
package openflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/ovs/ofconn"
	"github.com/flowgate/flowgate/ovs/unixctl"
	"github.com/flowgate/flowgate/translator/compiler"
)

// ErrStale is returned (wrapped) by Apply when the programmer no longer
// knows what the bridge holds — before the first Sync, after a failed
// change, or after Lost found the flows gone — and a delta would be
// applied to the wrong base. Sync repairs it.
var ErrStale = errors.New("installed flows unknown; Sync first")

// SyncStats says what a Sync changed.
type SyncStats struct {
	// Added, Removed and Changed count flows that were new, gone, or kept
	// their table/priority/match but got other actions or another cookie.
	// After a full replacement without a trusted cache (Full and the
	// bridge's previous contents unknown), Added is every desired flow and
	// Removed every flow that was on the bridge.
	Added, Removed, Changed int
	// Full is set when the bridge's tables were replaced wholesale in one
	// bundle rather than changed flow by flow.
	Full bool
}

// Programmer keeps one bridge's flow tables equal to the flow set it is
// given. It remembers what it installed (the cache), so that incremental
// changes cost what they change and never a read of the bridge. It is
// safe for concurrent use; calls are serialised.
type Programmer struct {
	of  ofctl
	log *logrus.Entry

	mu        sync.Mutex
	installed map[compiler.FlowKey]compiler.Flow
	valid     bool // installed is what the bridge holds
	synced    bool // a Sync has succeeded once
	// foreign are the tables only the other controller writes (Share).
	foreign map[uint8]bool
	// version counts changes of the cache, so that Lost, which asks the
	// switch without holding mu, can tell whether its answer still holds.
	version uint64
	// verified is the Digest of the flows the last Sync found installed
	// and equal to the desired set (VerifiedDigest); "" after any change.
	verified string
	// prefetched is a dump for the next Sync's comparison, taken when
	// the cache was at version prefetchedAt (SetPrefetched).
	prefetched   *Prefetched
	prefetchedAt uint64
}

// NewProgrammer returns a programmer for bridge. env is the environment
// ovs-ofctl runs with (OVS_RUNDIR tells it where the bridge's management
// socket is, which is how a private or non-default OVS is reached); nil
// means this process's environment. It does not contact the switch.
func NewProgrammer(bridge string, env []string) *Programmer {
	return &Programmer{
		of: ofctl{bridge: bridge, env: env,
			native: &native{path: ofconn.SocketPath(unixctl.RunDir(env), bridge)}},
		log: logrus.WithField("bridge", bridge),
	}
}

// NativeOpenFlow turns the native OpenFlow connection for Apply's deltas
// (and Sync's small ones) on — the default — or off, when every bundle
// goes through ovs-ofctl as before: for side-by-side measurements, and
// as a way back should a switch refuse what ovs-ofctl would send.
func (p *Programmer) NativeOpenFlow(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && p.of.native == nil:
		p.of.native = &native{path: ofconn.SocketPath(unixctl.RunDir(p.of.env), p.of.bridge)}
	case !on && p.of.native != nil:
		p.of.native.close()
		p.of.native = nil
	}
}

// Close ends the programmer's OpenFlow connection (if one is open). The
// programmer stays usable: the next delta connects again.
func (p *Programmer) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.of.native != nil {
		p.of.native.close()
	}
}

// Share makes the programmer own only the flows whose cookie matches
// cookie/mask (compiler.SharedCookieMark/SharedCookieMask), for a bridge
// another controller programs too (the Neutron OVS agent's br-int): Sync
// counts, compares and empties only those, and Lost counts them. Flows
// with other cookies are never read into the cache, changed or deleted.
// Every flow given to Sync and Apply must carry the mark. foreign are the
// tables only the other controller writes. Call it before the first Sync.
//
// The other controller may draw a cookie that carries the mark by chance
// (Neutron's are random, and its main one always has flows in its tables
// 0 and 23). Before emptying our flows wholesale, Sync therefore dumps the
// marked flows and refuses, with an error naming the flow, if one of them
// is in a foreign table: deleting it would delete the other controller's
// flows. That costs one dump of our flows, on wholesale replacements only.
func (p *Programmer) Share(cookie, mask uint64, foreign []uint8) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.of.own = fmt.Sprintf("cookie=%#x/%#x", cookie, mask)
	p.foreign = map[uint8]bool{}
	for _, t := range foreign {
		p.foreign[t] = true
	}
	p.valid, p.synced = false, false
}

// checkOwnership refuses a wholesale delete of the marked flows when one
// of them is in a foreign table; p.mu is held.
func (p *Programmer) checkOwnership(ctx context.Context) error {
	if p.of.own == "" {
		return nil
	}
	lines, err := p.of.dumpFlows(ctx, p.of.own)
	if err != nil {
		return fmt.Errorf("list flows with our cookie mark: %w", err)
	}
	for _, l := range lines {
		t := 0 // dump-flows omits table=0
		if m := tableRe.FindStringSubmatch(l); m != nil {
			t, _ = strconv.Atoi(m[1])
		}
		if p.foreign[uint8(t)] {
			return fmt.Errorf("flow %q carries flowgate's cookie mark (%s) in table %d, which flowgate never writes: "+
				"another controller's cookie collides with the mark; not deleting its flows (restart that controller to draw another cookie)", l, p.of.own, t)
		}
	}
	return nil
}

// fullThreshold: when a diff touches more than this fraction of the
// desired flows, Sync replaces everything instead. Measured at 100k flows
// (OVS 3.1, quiet machine): overwriting every flow with a new cookie one
// by one took 1.67 s, emptying the tables and adding everything 1.33 s.
const fullThreshold = 0.5

// Sync makes the bridge's flow tables (all of them, 0–253; on a shared
// bridge, the flows with our cookies) hold exactly desired, in one atomic
// bundle, whatever they held before: flows of a previous agent run or
// another generation, foreign flows, or nothing after ovs-vswitchd
// restarted. Flows must have unique keys (table,
// priority, match). After success the cache holds desired; after a
// failure nothing was committed and the next Sync replaces everything.
//
// What it reads: one `ovs-ofctl dump-aggregate` (the bridge's flow count,
// ~7 ms at 10k flows, ~35 ms at 100k). If the cache is trusted and the
// count matches it, only the difference is sent (or everything, when more
// than half the flows change). Otherwise — the first Sync of a process,
// after a failure, or when somebody added or removed flows behind our back
// — Sync neither dumps and diffs the bridge itself (our match text is not
// OVS's print format) nor uses `ovs-ofctl replace-flows` (which dumps and
// compares every flow, so it costs about a full install even when nothing
// changed, and ~1.4× Sync when every cookie changed, as on an agent
// restart; see docs/benchmarks.md), but sends one bundle that empties every
// table and adds all desired flows, at the speed of a raw
// `ovs-ofctl --bundle add-flows`. Counters of unchanged flows restart from
// zero then; traffic does not notice (see the package comment).
func (p *Programmer) Sync(ctx context.Context, desired []compiler.Flow) (SyncStats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.verified = ""
	pre := p.prefetched
	if p.prefetchedAt != p.version {
		pre = nil
	}
	p.prefetched = nil

	// Count while indexing: the ovs-ofctl start overlaps the map build.
	type result struct {
		n   int
		err error
	}
	counted := make(chan result, 1)
	go func() {
		n, err := p.of.flowCount(ctx)
		counted <- result{n, err}
	}()
	want := make(map[compiler.FlowKey]compiler.Flow, len(desired))
	var dup error
	for _, f := range desired {
		if o, ok := want[f.Key()]; ok {
			dup = fmt.Errorf("sync %s: two flows with one key: %q and %q", p.of.bridge, o.String(), f.String())
			break
		}
		want[f.Key()] = f
	}
	res := <-counted
	if dup != nil {
		return SyncStats{}, dup
	}
	count, err := res.n, res.err
	if err != nil {
		p.valid = false
		return SyncStats{}, fmt.Errorf("sync %s: count installed flows: %w", p.of.bridge, err)
	}
	if p.valid && count != len(p.installed) {
		p.log.WithFields(logrus.Fields{"installed": count, "expected": len(p.installed)}).
			Warn("bridge flows differ from what flowgate installed (ovs-vswitchd restarted, or someone else changed them); replacing all")
		p.valid = false
	}
	if p.valid {
		d := diff(p.installed, want)
		st := SyncStats{Added: len(d.Add), Removed: len(d.Delete), Changed: len(d.Modify)}
		if d.Empty() {
			return st, nil
		}
		if float64(d.Len()) <= fullThreshold*float64(len(want)) {
			if err := p.apply(ctx, d); err != nil {
				return SyncStats{}, fmt.Errorf("sync %s: %w", p.of.bridge, err)
			}
			return st, nil
		}
		st.Full = true
		if err := p.replace(ctx, desired, want); err != nil {
			return SyncStats{}, fmt.Errorf("sync %s: %w", p.of.bridge, err)
		}
		return st, nil
	}
	if count == len(want) {
		// Nothing trusted, but the bridge may already hold exactly these
		// flows (a second `flowgate apply`, an agent restarted with the
		// same policy): then adopt them and change nothing at all.
		same, digest, err := p.of.sameFlows(ctx, desired, pre)
		if err != nil {
			p.log.WithError(err).Warn("cannot compare installed flows; replacing all")
		} else if same {
			p.installed, p.valid, p.synced = want, true, true
			p.verified = digest
			p.version++
			return SyncStats{}, nil
		}
	}
	if err := p.replace(ctx, desired, want); err != nil {
		return SyncStats{}, fmt.Errorf("sync %s: %w", p.of.bridge, err)
	}
	return SyncStats{Added: len(desired), Removed: count, Full: true}, nil
}

// replace installs exactly desired in one bundle and makes want the cache.
func (p *Programmer) replace(ctx context.Context, desired []compiler.Flow, want map[compiler.FlowKey]compiler.Flow) error {
	p.valid = false
	if err := p.checkOwnership(ctx); err != nil {
		return err
	}
	if err := p.of.replaceAll(ctx, desired); err != nil {
		return fmt.Errorf("replace all flows (%d) in one bundle: %w", len(desired), err)
	}
	p.installed = want
	p.valid, p.synced = true, true
	p.version++
	return nil
}

// Apply applies a delta computed by the compiler in one atomic bundle,
// however large (one ovs-ofctl process streaming every change): deleted
// flows are removed with strict deletes, new and modified flows are added
// (an add replaces the flow with the same key, actions and cookie at
// once). Apply does not read the bridge: it trusts that the cache is what
// is installed, and returns ErrStale if it cannot (call Sync). The cache
// changes only after the bundle committed; a failed Apply leaves the
// bridge as it was but makes the programmer stale, so the next Sync
// replaces everything.
func (p *Programmer) Apply(ctx context.Context, d compiler.Delta) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.valid {
		return fmt.Errorf("apply to %s: %w", p.of.bridge, ErrStale)
	}
	if d.Empty() {
		return nil
	}
	if err := p.apply(ctx, d); err != nil {
		return fmt.Errorf("apply to %s: %w", p.of.bridge, err)
	}
	return nil
}

// apply sends d and updates the cache; p.mu is held.
func (p *Programmer) apply(ctx context.Context, d compiler.Delta) error {
	p.valid, p.verified = false, ""
	if err := p.of.applyDelta(ctx, d); err != nil {
		return fmt.Errorf("bundle of %d adds, %d modifications, %d deletes: %w", len(d.Add), len(d.Modify), len(d.Delete), err)
	}
	for _, f := range d.Delete {
		delete(p.installed, f.Key())
	}
	for _, fs := range [][]compiler.Flow{d.Add, d.Modify} {
		for _, f := range fs {
			p.installed[f.Key()] = f
		}
	}
	p.valid = true
	p.version++
	return nil
}

// Timings are how long the last bundle took, split into the ovs-ofctl run
// that committed it and the datapath purge after it (see
// purgeDatapathFlows), for the agent's per-stage latency report.
type Timings struct {
	Bundle, Purge time.Duration
	// Native is set when the bundle went over the native OpenFlow
	// connection rather than through ovs-ofctl.
	Native bool
}

// LastTimings reports the last bundle's Timings (zero before the first).
func (p *Programmer) LastTimings() Timings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Timings{Bundle: p.of.lastBundle, Purge: p.of.lastPurge, Native: p.of.lastNative}
}

// Installed is the number of flows the programmer believes are installed
// (0 until the first successful Sync).
func (p *Programmer) Installed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.valid {
		return 0
	}
	return len(p.installed)
}

// Lost reports whether the bridge has lost the flows we installed, as it
// does when ovs-vswitchd restarts (a fail_mode=secure bridge comes back
// empty) or someone runs del-flows, so that the agent can Sync again.
//
// Mechanism: one sentinel flow is looked up with a cookie-filtered
// dump-flows (`table=T,cookie=C/-1`; ovs-vswitchd indexes flows by cookie,
// so the cost does not grow with the table, ~10 ms nearly all process
// start). The sentinel is the pipeline's table-0 priority-0 flow (cookie
// category 1), the first flow every packet can hit; if the flow set has
// none, the first flow in SortFlows order. Missing sentinel, or one with
// another cookie (a previous run's flows restored by someone), means lost.
// It does not notice other flows edited behind our back; Sync's flow
// count check catches flows added or removed. With nothing installed
// there is nothing to lose: false.
//
// On a shared bridge (Share) Lost counts our flows instead (one
// dump-aggregate with our cookie match, as cheap): the other controller
// deletes flows it does not own cookie by cookie — the Neutron OVS agent
// does on its first loop after a restart, and its cleanup only visits its
// own tables, so it may take our entry flows and leave the rest — and
// any flow missing, not only the sentinel, means lost.
//
// When Lost reports true the programmer also becomes stale, so a
// following Apply fails with ErrStale and Sync replaces everything. A
// stale programmer (an earlier Lost, a failed Sync or Apply) reports true
// without asking the switch until a Sync succeeds, so that an agent whose
// resync failed (ovs-vswitchd still starting) tries again on its next
// check.
func (p *Programmer) Lost(ctx context.Context) (bool, error) {
	p.mu.Lock()
	switch {
	case !p.synced:
		p.mu.Unlock()
		return false, nil
	case !p.valid:
		p.mu.Unlock()
		return true, nil
	case len(p.installed) == 0:
		p.mu.Unlock()
		return false, nil
	}
	if p.of.own != "" {
		expected, version := len(p.installed), p.version
		// Counted without the lock, as the sentinel below is looked up.
		p.mu.Unlock()
		n, err := p.of.flowCount(ctx)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			return false, fmt.Errorf("check for lost flows on %s: %w", p.of.bridge, err)
		}
		if !p.valid {
			return true, nil
		}
		if p.version != version {
			return false, nil // changed while we counted: the next check counts again
		}
		if n != expected {
			p.log.WithFields(logrus.Fields{"installed": n, "expected": expected}).
				Warn("flowgate's flows on the shared bridge differ from what it installed (deleted by its other controller, or ovs-vswitchd restarted)")
			p.valid = false
			return true, nil
		}
		return false, nil
	}
	s, version := p.sentinel(), p.version
	// The dump runs without the lock: a change being realized must not
	// wait for a check (one ovs-ofctl process, 10 ms or far more on a
	// loaded host).
	p.mu.Unlock()
	lines, err := p.of.dumpFlows(ctx, fmt.Sprintf("table=%d,cookie=%#x/-1", s.Table, uint64(s.Cookie)))
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("check for lost flows on %s: %w", p.of.bridge, err)
	}
	if !p.valid {
		return true, nil // a change failed while we looked
	}
	if p.version != version {
		// Flows changed while we looked: the answer may be about the old
		// ones. The next check looks again.
		return false, nil
	}
	prio := fmt.Sprintf("priority=%d", s.Priority)
	found := slices.ContainsFunc(lines, func(l string) bool {
		i := strings.Index(l, prio)
		if i < 0 {
			return false
		}
		rest := l[i+len(prio):]
		return strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, ",")
	})
	if !found {
		p.log.WithField("sentinel", s.String()).Warn("flowgate's flows are gone from the bridge (ovs-vswitchd restarted?)")
		p.valid = false
		return true, nil
	}
	return false, nil
}

// sentinel is the flow Lost looks for; p.mu is held and the cache is not
// empty.
func (p *Programmer) sentinel() compiler.Flow {
	if f, ok := p.installed[compiler.FlowKey{}]; ok {
		return f // table 0, priority 0, empty match
	}
	var best compiler.Flow
	first := true
	for _, f := range p.installed {
		if first || f.Table < best.Table ||
			f.Table == best.Table && (f.Priority > best.Priority || f.Priority == best.Priority && f.Match < best.Match) {
			best, first = f, false
		}
	}
	return best
}

// diff is compiler.Diff between the cache and a desired set, both indexed
// by key, without building slices of the unchanged majority.
func diff(have, want map[compiler.FlowKey]compiler.Flow) compiler.Delta {
	var d compiler.Delta
	kept := 0
	for k, f := range want {
		o, ok := have[k]
		switch {
		case !ok:
			d.Add = append(d.Add, f)
			continue
		case o.Actions != f.Actions || o.Cookie != f.Cookie:
			d.Modify = append(d.Modify, f)
		}
		kept++
	}
	if kept < len(have) { // keys are unique: otherwise nothing is gone
		for k, f := range have {
			if _, ok := want[k]; !ok {
				d.Delete = append(d.Delete, f)
			}
		}
	}
	compiler.SortFlows(d.Add)
	compiler.SortFlows(d.Modify)
	compiler.SortFlows(d.Delete)
	return d
}
