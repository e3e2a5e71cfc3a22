package compiler

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// What each owner's flows are built from, which is what Update must track
// (keep this in step with rules.go, slot.go and endpoint_flows.go; the
// random equivalence test in update_test.go finds what is missed):
//
//   - a rule slot of an active policy: the policy, its number, and for
//     every selector it uses (registered with use, kind by kind) the
//     members' addresses, named ports and locality. Named ports without a
//     selector use all().
//   - whether a policy is compiled at all: whether its AppliesTo selects a
//     local endpoint (active counts).
//   - endpoint/<id> (local endpoints only): the endpoint, its binding, and
//     its dispatch: its labels (own, namespace, service account), the
//     policies whose AppliesTo selects it (types, tier, order, number,
//     whether they compiled), those policies' tiers, and its default
//     (World.DefaultAllow: kind, profiles, whether its namespace exists).
//     For pair MACs other than its own, also the other local endpoints'
//     MACs and pairs (claimedElsewhere): every local endpoint that changes
//     recompiles the pairHolders.
//   - pipeline: options only; no change touches it.
//   - tier-ends: the tiers (names, default actions), options, and which
//     tiers have a policy with LogDenied; a tier change rebuilds them
//     (renumberTiers), as does a policy with LogDenied coming or going.
//
// An update works at three levels, cheapest first: a member change of a
// selector a slot reads as it is goes through the fast path (fastpath.go);
// other member changes recompile the slots that read them; a slot whose
// layout changes, and every policy that changed, was renumbered or became
// active or inactive, is recompiled whole.

// Update applies one change to the world and returns the flow delta: the
// difference between the flows before and after, exactly what comparing
// two full compiles would give.
//
// The errors are those of the change itself (no field or several set, a
// missing name, deleting what does not exist), which leave everything as it
// was, and the compile errors of the owners the change recompiled that now
// fail; Errors lists every failing owner.
func (c *Compiler) Update(ch Change) (Delta, []error) {
	if n := ch.count(); n != 1 {
		return Delta{}, []error{fmt.Errorf("update: %s: exactly one change per update, got %d", ch, n)}
	}
	u := &update{
		c:            c,
		policies:     map[string]bool{},
		endpoints:    map[string]bool{},
		sets:         map[*memberSet]*setChange{},
		slots:        map[*slotState]bool{},
		fast:         map[*slotState]bool{},
		activeBefore: map[string]int{},
		log:          newFlowLog(),
	}
	if err := u.apply(ch); err != nil {
		return Delta{}, []error{fmt.Errorf("update: %s: %w", ch, err)}
	}
	return u.finish(ch)
}

// update collects what one change affects, then recompiles it.
type update struct {
	c *Compiler
	// policies to recompile whole, by ID.
	policies map[string]bool
	// endpoints are local endpoints to recompile, by ID.
	endpoints map[string]bool
	// sets are the member sets whose counts changed.
	sets map[*memberSet]*setChange
	// slots to recompile, and slots for the fast path.
	slots, fast map[*slotState]bool
	// activeBefore holds the active count of every policy whose count
	// changed, as it was before the update.
	activeBefore map[string]int
	log          *flowLog
}

func (u *update) apply(ch Change) error {
	switch {
	case ch.UpsertEndpoint != nil:
		return u.upsertEndpoint(ch.UpsertEndpoint)
	case ch.DeleteEndpoint != "":
		return u.deleteEndpoint(ch.DeleteEndpoint)
	case ch.UpsertPolicy != nil:
		return u.upsertPolicy(ch.UpsertPolicy)
	case ch.DeletePolicy != "":
		return u.deletePolicy(ch.DeletePolicy)
	case ch.UpsertNamespace != nil:
		return u.upsertNamespace(ch.UpsertNamespace)
	case ch.DeleteNamespace != "":
		return u.deleteNamespace(ch.DeleteNamespace)
	case ch.UpsertServiceAccount != nil:
		return u.upsertServiceAccount(ch.UpsertServiceAccount)
	case ch.DeleteServiceAccount != "":
		return u.deleteServiceAccount(ch.DeleteServiceAccount)
	case ch.UpsertNetworkSet != nil:
		return u.upsertNetworkSet(ch.UpsertNetworkSet)
	case ch.DeleteNetworkSet != "":
		return u.deleteNetworkSet(ch.DeleteNetworkSet)
	case ch.UpsertTier != nil:
		return u.upsertTier(ch.UpsertTier)
	case ch.DeleteTier != "":
		return u.deleteTier(ch.DeleteTier)
	case ch.Bind != nil:
		return u.bind(ch.Bind)
	default:
		return u.unbind(ch.Unbind)
	}
}

// finish brings every affected owner up to date, cheapest level first,
// and returns the delta the flow log recorded.
func (u *update) finish(ch Change) (Delta, []error) {
	c := u.c
	// A network gaining its first local endpoint or losing its last one
	// changes the scopes every rule's selectors are split by, and maybe
	// zones, as does the first address two networks share or the last one
	// they stop sharing: rare, so everything is recompiled.
	if zones := c.localZones(); !maps.Equal(zones, c.zones) || c.shared.Any() != c.scoping {
		c.zones, c.scoping = zones, c.shared.Any()
		for id := range c.states {
			u.policies[id] = true
		}
		for _, id := range c.locals() {
			u.endpoints[id] = true
		}
	}
	// Member sets: their new prefixes, and the slots reading them.
	deltas := map[*memberSet]*setDelta{}
	for m, sc := range u.sets {
		added, removed := sc.finish(m)
		if len(added)+len(removed) == 0 {
			continue
		}
		deltas[m] = &setDelta{before: sc.before, familyBefore: sc.familyBefore, added: added, removed: removed}
		en := c.selectors[m.sel]
		if en == nil {
			continue // no slot reads the set any more
		}
		for s, k := range en.users {
			switch {
			case k&useAddr != 0:
				u.slots[s] = true
			case k&usePureAddr != 0:
				u.fast[s] = true
			}
		}
	}
	for id, before := range u.activeBefore {
		if (before > 0) != (c.active[id] > 0) {
			u.policies[id] = true
		}
	}
	wasCompiled := map[string]bool{}
	recompile := func(ids []string) {
		// Remove every old flow before adding any new one: a key can move
		// between policies when numbers move.
		for _, id := range ids {
			if _, seen := wasCompiled[id]; !seen {
				wasCompiled[id] = c.compiled(id)
			}
			c.dropPolicy(id, u.log)
		}
		for _, id := range ids {
			c.compile(id, u.log)
		}
	}
	recompile(sortedKeys(u.policies))

	for _, s := range sortedSlots(u.fast) {
		if !s.dropped && !u.slots[s] && !c.fastSlot(s, deltas, u.log) {
			u.slots[s] = true
		}
	}
	escalated := map[string]bool{}
	for _, s := range sortedSlots(u.slots) {
		if !s.dropped && !c.recompileSlot(s, u.log) {
			escalated[s.policyID] = true
		}
	}
	recompile(sortedKeys(escalated))

	// A policy that started or stopped compiling (failing, or becoming
	// active or inactive) changes the dispatch of the endpoints it
	// applies to.
	for id, was := range wasCompiled {
		if p := c.policy(id); p != nil && was != c.compiled(id) {
			u.dispatchMatching(p.AppliesTo)
		}
	}
	ids := sortedKeys(u.endpoints)
	for _, id := range ids {
		c.removeEndpointFlows(id, u.log)
	}
	for _, id := range ids {
		c.addEndpointFlows(id, u.log)
	}

	var owners []string
	for id := range wasCompiled {
		owners = append(owners, ownerPolicy(id))
	}
	for _, id := range ids {
		owners = append(owners, ownerEndpoint(id))
	}
	sort.Strings(owners)
	var errs []error
	for _, owner := range owners {
		if err := c.errors[owner]; err != nil {
			errs = append(errs, fmt.Errorf("update: %s: %w", ch, err))
		}
	}
	return u.log.delta(), errs
}

// sortedSlots orders slots by policy, direction and index, so that an
// update does its work in the same order every time.
func sortedSlots(m map[*slotState]bool) []*slotState {
	out := make([]*slotState, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *slotState) int {
		if c := strings.Compare(a.policyID, b.policyID); c != 0 {
			return c
		}
		if c := cmp.Compare(a.dir, b.dir); c != 0 {
			return c
		}
		return cmp.Compare(a.index, b.index)
	})
	return out
}

// recompileSlot rebuilds one slot from the current members. It returns
// false, changing nothing, when the slot would come alive or die or need
// a guard bit it has not got (or no longer need it): the guard bits of the
// slots after it would move, so the policy must be recompiled.
func (c *Compiler) recompileSlot(s *slotState, log *flowLog) bool {
	ps := c.states[s.policyID]
	if ps.err != nil {
		return false // a failing policy is recompiled whole
	}
	n := c.buildSlot(c.policy(s.policyID), s.dir, s.group, s.index, ps.num)
	if n.live != s.live || (n.live && n.needGuard) != (s.live && s.needGuard) {
		c.unuse(n)
		return false
	}
	n.guard = s.guard
	n.emit()
	// Log only what differs: most of a recompiled slot is unchanged.
	for k, f := range s.flows {
		if g, ok := n.flows[k]; !ok || g != f {
			log.del(f)
		}
	}
	for k, g := range n.flows {
		if f, ok := s.flows[k]; !ok || f != g {
			log.put(g)
		}
	}
	c.unuse(s)
	s.flows, s.dropped = nil, true
	ps.slots[slices.Index(ps.slots, s)] = n
	return true
}

// setEntity replaces (nil: removes) an entity, keeps the indexes, member
// sets and active counts current, and marks what the change affects: the
// member sets whose counts change (their readers are found when the
// update finishes) and the slots matching named ports it publishes.
func (u *update) setEntity(key string, e *entity) {
	c := u.c
	old := c.entities[key]
	if sameEntity(old, e) {
		return
	}
	if old != nil && old.local {
		u.countActive(old, -1)
	}
	if old != nil {
		c.unfileEntity(old)
	}
	if e == nil {
		delete(c.entities, key)
	} else {
		c.entities[key] = e
		c.fileEntity(e)
	}
	if e != nil && e.local {
		u.countActive(e, 1)
	}
	var oldLabels, newLabels selector.Set
	if old != nil {
		oldLabels = old.labels
	}
	if e != nil {
		newLabels = e.labels
	}
	for sel := range c.selIdx.candidates(oldLabels, newLabels) {
		was := old != nil && sel.Matches(old.labels)
		is := e != nil && sel.Matches(e.labels)
		if !was && !is {
			continue
		}
		en := c.selectors[sel]
		if m := en.members; m != nil {
			m.sorted = nil
			if !was || !is || !slices.Equal(old.prefixes, e.prefixes) {
				sc := u.setChange(m)
				if was {
					sc.count(m, old.prefixes, -1)
				}
				if is {
					sc.count(m, e.prefixes, 1)
				}
			}
		}
		if m := en.members; m != nil && !slices.Equal(macsIf(old, was), macsIf(e, is)) {
			m.countMACs(macsIf(old, was), macsIf(e, is))
			// MAC members are rare: the slots reading them are rebuilt
			// rather than patched by the fast path.
			for s, k := range en.users {
				if k&(useAddr|usePureAddr) != 0 {
					u.slots[s] = true
				}
			}
		}
		for s, k := range en.users {
			if (k&usePorts != 0 && portsDiffer(old, e, was, is, false)) || (k&useLocalPorts != 0 && portsDiffer(old, e, was, is, true)) {
				u.slots[s] = true
			}
		}
	}
}

// setChange returns the record of this update's changes to m.
func (u *update) setChange(m *memberSet) *setChange {
	sc := u.sets[m]
	if sc == nil {
		sc = &setChange{before: m.prefixes, familyBefore: m.family, touched: map[netip.Prefix]struct{}{}, hostOnly: true}
		u.sets[m] = sc
	}
	return sc
}

// countActive changes the active counts of the policies applying to a
// local entity, remembering the counts before the update.
func (u *update) countActive(e *entity, n int) {
	u.c.eachApplying(e.labels, func(id string) {
		if _, ok := u.activeBefore[id]; !ok {
			u.activeBefore[id] = u.c.active[id]
		}
	})
	u.c.countActive(e, n, nil)
}

// portsDiffer reports whether the named ports a selector's (local, when
// localOnly) members contribute differ between an entity's two versions.
func portsDiffer(old, e *entity, was, is bool, localOnly bool) bool {
	contrib := func(x *entity, selected bool) *entity {
		if !selected || !x.hasPorts() || (localOnly && !x.local) {
			return nil
		}
		return x
	}
	a, b := contrib(old, was), contrib(e, is)
	if a == nil || b == nil {
		return a != b
	}
	// The network decides the zone the tuples are matched in.
	return !slices.Equal(a.endpoint.IPs, b.endpoint.IPs) || !slices.Equal(a.endpoint.Ports, b.endpoint.Ports) ||
		a.labels[policy.LabelScopedNetwork] != b.labels[policy.LabelScopedNetwork]
}

// refreshEndpoint recomputes an endpoint's entity (its labels depend on
// its namespace and service account, its locality on the bindings) and,
// when it is local, marks it for recompiling.
func (u *update) refreshEndpoint(id string) {
	c := u.c
	var ent *entity
	if e := c.endpoint(id); e != nil {
		ent = c.endpointEntity(e)
	}
	u.setEntity(endpointKey(id), ent)
	if _, local := c.opts.Locals[id]; local {
		u.endpoints[id] = true
	}
	// Which pair MACs the holders are recognised by may change with any
	// local endpoint (claimedElsewhere).
	for h := range c.pairHolders {
		u.endpoints[h] = true
	}
}

// dispatchMatching marks for recompiling every local endpoint sel selects:
// those whose dispatch a policy applying through sel appears in.
func (u *update) dispatchMatching(sel selector.Selector) {
	c := u.c
	for _, id := range c.locals() {
		if e := c.entities[endpointKey(id)]; e != nil && sel.Matches(e.labels) {
			u.endpoints[id] = true
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
