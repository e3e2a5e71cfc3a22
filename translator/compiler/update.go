package compiler

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/flowgate/flowgate/endpoints"
	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// What each owner's flows are built from, which is what Update must track
// (keep this in step with rules.go and endpoint_flows.go; the random
// equivalence test in update_test.go finds what is missed):
//
//   - policy/<id>: the policy, its number, and for every selector its rules
//     use (policySelectors, kept in selectorUsers) the members' addresses,
//     named ports and locality. Named ports without a selector use all(),
//     so they depend on every endpoint.
//   - endpoint/<id> (local endpoints only): the endpoint, its binding, and
//     its dispatch: its labels (own, namespace, service account), the
//     policies whose AppliesTo selects it (types, tier, order, number,
//     whether they compiled), those policies' tiers, and its default
//     (World.DefaultAllow: kind, profiles, whether its namespace exists).
//   - pipeline: options only; no change touches it.

// Change is one update to the world. Exactly one field is set.
//
// Upserts add an object or replace the one with the same ID; deletes name
// the object by ID. Objects handed in are owned by the compiler from then
// on, like the world given to New: do not modify them afterwards.
type Change struct {
	// UpsertEndpoint adds an endpoint or replaces the one with its ID.
	UpsertEndpoint *endpoints.Endpoint
	// DeleteEndpoint removes the endpoint with this ID ("namespace/name").
	DeleteEndpoint string

	// UpsertPolicy adds a policy or replaces the one with its ID.
	UpsertPolicy *policy.Policy
	// DeletePolicy removes the policy with this ID.
	DeletePolicy string

	// UpsertNamespace adds a namespace or replaces the one with its name;
	// every endpoint and network set in it sees the new labels.
	UpsertNamespace *policy.Namespace
	// DeleteNamespace removes the namespace with this name.
	DeleteNamespace string

	// UpsertServiceAccount adds a service account or replaces the one with
	// its namespace and name.
	UpsertServiceAccount *policy.ServiceAccount
	// DeleteServiceAccount removes the service account "namespace/name".
	DeleteServiceAccount string

	// UpsertNetworkSet adds a network set or replaces the one with its ID.
	UpsertNetworkSet *policy.NetworkSet
	// DeleteNetworkSet removes the network set with this ID.
	DeleteNetworkSet string

	// UpsertTier adds a tier or replaces the one with its name.
	UpsertTier *policy.Tier
	// DeleteTier removes the tier with this name. Policies in it stay but
	// apply to no endpoint until the tier exists again.
	DeleteTier string

	// Bind makes an endpoint local (or moves it to another port). The
	// endpoint need not exist yet: the binding waits for it.
	Bind *LocalBinding
	// Unbind makes the endpoint with this ID remote.
	Unbind string
}

// LocalBinding binds one endpoint, by ID, to its port on the bridge.
type LocalBinding struct {
	// EndpointID is the endpoint's ID ("namespace/name").
	EndpointID string
	// Binding is the port, MAC and zone the endpoint gets.
	Binding Binding
}

// String describes the change the way errors name it, e.g.
// "upsert endpoint ns/web-1" or "unbind ns/web-1".
func (ch Change) String() string {
	var parts []string
	add := func(verb, kind, id string) { parts = append(parts, verb+" "+kind+" "+id) }
	if e := ch.UpsertEndpoint; e != nil {
		add("upsert", "endpoint", e.ID())
	}
	if ch.DeleteEndpoint != "" {
		add("delete", "endpoint", ch.DeleteEndpoint)
	}
	if p := ch.UpsertPolicy; p != nil {
		add("upsert", "policy", p.ID())
	}
	if ch.DeletePolicy != "" {
		add("delete", "policy", ch.DeletePolicy)
	}
	if ns := ch.UpsertNamespace; ns != nil {
		add("upsert", "namespace", ns.Name)
	}
	if ch.DeleteNamespace != "" {
		add("delete", "namespace", ch.DeleteNamespace)
	}
	if sa := ch.UpsertServiceAccount; sa != nil {
		add("upsert", "service account", sa.Namespace+"/"+sa.Name)
	}
	if ch.DeleteServiceAccount != "" {
		add("delete", "service account", ch.DeleteServiceAccount)
	}
	if s := ch.UpsertNetworkSet; s != nil {
		add("upsert", "network set", s.ID())
	}
	if ch.DeleteNetworkSet != "" {
		add("delete", "network set", ch.DeleteNetworkSet)
	}
	if t := ch.UpsertTier; t != nil {
		add("upsert", "tier", t.Name)
	}
	if ch.DeleteTier != "" {
		add("delete", "tier", ch.DeleteTier)
	}
	if b := ch.Bind; b != nil {
		parts = append(parts, "bind "+b.EndpointID)
	}
	if ch.Unbind != "" {
		parts = append(parts, "unbind "+ch.Unbind)
	}
	switch len(parts) {
	case 0:
		return "empty change"
	case 1:
		return parts[0]
	}
	return fmt.Sprintf("%d changes at once (%s, ...)", len(parts), parts[0])
}

// count is the number of fields set.
func (ch Change) count() int {
	n := 0
	for _, set := range []bool{
		ch.UpsertEndpoint != nil, ch.DeleteEndpoint != "",
		ch.UpsertPolicy != nil, ch.DeletePolicy != "",
		ch.UpsertNamespace != nil, ch.DeleteNamespace != "",
		ch.UpsertServiceAccount != nil, ch.DeleteServiceAccount != "",
		ch.UpsertNetworkSet != nil, ch.DeleteNetworkSet != "",
		ch.UpsertTier != nil, ch.DeleteTier != "",
		ch.Bind != nil, ch.Unbind != "",
	} {
		if set {
			n++
		}
	}
	return n
}

// errNotFound is returned (wrapped) when a change deletes or unbinds
// something that does not exist.
var errNotFound = errors.New("not found")

// Update applies one change to the world and returns the flow delta: the
// difference between the flows before and after, exactly what comparing
// two full compiles would give. Only the owners the change can affect are
// recompiled: the policies whose rule selectors select a changed endpoint
// or network set (before or after), the changed policy and policies whose
// numbers moved, and the local endpoints whose dispatch can differ.
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
		c:         c,
		policies:  map[string]bool{},
		endpoints: map[string]bool{},
		old:       map[string][]Flow{},
	}
	if err := u.apply(ch); err != nil {
		return Delta{}, []error{fmt.Errorf("update: %s: %w", ch, err)}
	}
	return u.finish(ch)
}

// update collects what one change affects, then recompiles it.
type update struct {
	c *Compiler
	// policies to recompile, by ID.
	policies map[string]bool
	// endpoints are local endpoints to recompile, by ID.
	endpoints map[string]bool
	// old holds the flows of every recompiled owner before the change.
	old map[string][]Flow
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

// finish recompiles the affected owners, policies first (the dispatch of
// endpoints reads their numbers and whether they compiled), and diffs the
// flows of every owner it recompiled.
func (u *update) finish(ch Change) (Delta, []error) {
	c := u.c
	for _, id := range sortedKeys(u.policies) {
		owner := ownerPolicy(id)
		flows, was := c.owned[owner]
		u.old[owner] = flows
		deps := c.policyDeps[id]
		c.recompilePolicy(id)
		if _, is := c.owned[owner]; is != was {
			// The policy started or stopped failing: its dispatch entry
			// changes for every endpoint it applies to.
			if p := c.policy(id); p != nil {
				u.dispatchMatching(p.AppliesTo)
			}
		}
		// Forget member sets no policy uses any more, so that later
		// entity changes do not keep them current for nothing.
		for _, sel := range deps {
			if len(c.selectorUsers[sel]) == 0 {
				delete(c.selectorUsers, sel)
				delete(c.memberCache, sel)
			}
		}
	}
	for _, id := range sortedKeys(u.endpoints) {
		owner := ownerEndpoint(id)
		u.old[owner] = c.owned[owner]
		c.recompileEndpoint(id)
	}
	// Diff all owners at once: a key can move between owners (a policy
	// taking over another's number). Flows an owner has in the same place
	// before and after add the same keys to both sides, and keys are
	// unique on each side, so they can be left out: compiling is
	// deterministic, so a small change leaves long equal runs at both ends.
	var before, after []Flow
	var errs []error
	for _, owner := range sortedKeys(u.old) {
		if err := c.errors[owner]; err != nil {
			errs = append(errs, fmt.Errorf("update: %s: %w", ch, err))
		}
		old, now := trimCommon(u.old[owner], c.owned[owner])
		before = append(before, old...)
		after = append(after, now...)
	}
	return Diff(before, after), errs
}

// trimCommon strips the longest common prefix and suffix of a and b.
func trimCommon(a, b []Flow) ([]Flow, []Flow) {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	a, b = a[i:], b[i:]
	j := 0
	for j < n-i && a[len(a)-1-j] == b[len(b)-1-j] {
		j++
	}
	return a[:len(a)-j], b[:len(b)-j]
}

// replaceOrAppend replaces old (when present) with v in s, keeping the
// order of the rest, or appends v. The compiler sorts whatever it reads
// from the world, so the order only has to be deterministic.
func replaceOrAppend[T comparable](s []T, old, v T) []T {
	var zero T
	if old != zero {
		if i := slices.Index(s, old); i >= 0 {
			s[i] = v
			return s
		}
	}
	return append(s, v)
}

// remove deletes v from s, keeping the order of the rest.
func remove[T comparable](s []T, v T) []T {
	if i := slices.Index(s, v); i >= 0 {
		return slices.Delete(s, i, i+1)
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// setEntity replaces (nil: removes) an entity and marks for recompiling the
// policies whose rule selectors it joins or leaves. When what rules read
// of a member (addresses, named ports, locality) changed too, the
// selectors it stays in count as well; when only labels changed, a
// selector it stays in has the same members as before, so its rules do.
func (u *update) setEntity(key string, e *entity) {
	c := u.c
	old := c.entities[key]
	touched := c.setEntity(key, e)
	if sameEntity(old, e) {
		return
	}
	sameMember := sameMemberContent(old, e)
	for _, sel := range touched {
		if sameMember && sel.Matches(old.labels) && sel.Matches(e.labels) {
			continue
		}
		for id := range c.selectorUsers[sel] {
			u.policies[id] = true
		}
	}
}

// sameEntity reports whether two versions of an entity look the same to
// every rule: labels (for selectors) and member content.
func sameEntity(a, b *entity) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.Equal(a.labels, b.labels) && sameMemberContent(a, b)
}

// sameMemberContent reports whether two versions of an entity, both
// present, give a rule that selects them the same flows: the same
// addresses, and for endpoints the same named ports and locality.
func sameMemberContent(a, b *entity) bool {
	if a == nil || b == nil || a.local != b.local || !slices.Equal(a.prefixes, b.prefixes) {
		return false
	}
	if a.endpoint == nil || b.endpoint == nil {
		return a.endpoint == b.endpoint
	}
	return slices.Equal(a.endpoint.IPs, b.endpoint.IPs) && slices.Equal(a.endpoint.Ports, b.endpoint.Ports)
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
}

// dispatchMatching marks for recompiling every local endpoint sel selects:
// those whose dispatch a policy applying through sel appears in.
func (u *update) dispatchMatching(sel selector.Selector) {
	c := u.c
	for id := range c.opts.Locals {
		if e := c.entities[endpointKey(id)]; e != nil && sel.Matches(e.labels) {
			u.endpoints[id] = true
		}
	}
}

func (u *update) upsertEndpoint(e *endpoints.Endpoint) error {
	c := u.c
	id := e.ID()
	if e.Name == "" {
		return fmt.Errorf("endpoint has no name")
	}
	c.world.Endpoints = replaceOrAppend(c.world.Endpoints, c.endpoints[id], e)
	c.endpoints[id] = e
	u.refreshEndpoint(id)
	return nil
}

func (u *update) deleteEndpoint(id string) error {
	c := u.c
	old := c.endpoints[id]
	if old == nil {
		return errNotFound
	}
	c.world.Endpoints = remove(c.world.Endpoints, old)
	delete(c.endpoints, id)
	u.refreshEndpoint(id)
	return nil
}

func (u *update) upsertPolicy(p *policy.Policy) error {
	c := u.c
	id := p.ID()
	if p.Name == "" {
		return fmt.Errorf("policy has no name")
	}
	old := c.policies[id]
	c.world.Policies = replaceOrAppend(c.world.Policies, old, p)
	if old != nil {
		u.dispatchMatching(old.AppliesTo)
	}
	c.policies[id] = p
	c.ordered = nil
	u.policies[id] = true
	u.dispatchMatching(p.AppliesTo)
	if old == nil {
		u.renumber()
	}
	return nil
}

func (u *update) deletePolicy(id string) error {
	c := u.c
	old := c.policies[id]
	if old == nil {
		return errNotFound
	}
	c.world.Policies = remove(c.world.Policies, old)
	delete(c.policies, id)
	c.ordered = nil
	u.policies[id] = true
	u.dispatchMatching(old.AppliesTo)
	u.renumber()
	return nil
}

// renumber numbers the policies afresh after one came or went. Numbers are
// hashes, so usually only that policy's changes; a collision can move
// others, whose rules and dispatch entries must then follow.
func (u *update) renumber() {
	c := u.c
	nums := numberPolicies(c.world.Policies)
	for id, n := range nums {
		if old, ok := c.numbers[id]; !ok || old != n {
			u.policies[id] = true
			u.dispatchMatching(c.policies[id].AppliesTo)
		}
	}
	for id := range c.numbers {
		if _, ok := nums[id]; !ok {
			u.policies[id] = true
		}
	}
	c.numbers = nums
}

// namespaceChanged refreshes everything whose labels or default include
// the namespace: its endpoints (pcns. labels; a workload endpoint's default
// depends on the namespace existing) and its network sets.
func (u *update) namespaceChanged(name string) {
	c := u.c
	for _, e := range c.world.Endpoints {
		if e.Namespace == name {
			u.refreshEndpoint(e.ID())
		}
	}
	for _, s := range c.world.NetworkSets {
		if s.Namespace == name {
			u.setEntity(networkSetKey(s.ID()), c.networkSetEntity(s))
		}
	}
}

func (u *update) upsertNamespace(ns *policy.Namespace) error {
	c := u.c
	if ns.Name == "" {
		return fmt.Errorf("namespace has no name")
	}
	old := c.world.Namespaces[ns.Name]
	if c.world.Namespaces == nil {
		c.world.Namespaces = map[string]*policy.Namespace{}
	}
	c.world.Namespaces[ns.Name] = ns
	if old != nil && maps.Equal(old.Labels, ns.Labels) {
		return nil // nothing derived from the namespace changes
	}
	u.namespaceChanged(ns.Name)
	return nil
}

func (u *update) deleteNamespace(name string) error {
	c := u.c
	if _, ok := c.world.Namespaces[name]; !ok {
		return errNotFound
	}
	delete(c.world.Namespaces, name)
	u.namespaceChanged(name)
	return nil
}

// serviceAccountChanged refreshes the endpoints that run as the account.
func (u *update) serviceAccountChanged(namespace, name string) {
	c := u.c
	for _, e := range c.world.Endpoints {
		if e.Namespace == namespace && e.ServiceAccount == name {
			u.refreshEndpoint(e.ID())
		}
	}
}

func (u *update) upsertServiceAccount(sa *policy.ServiceAccount) error {
	c := u.c
	if sa.Name == "" || sa.Namespace == "" {
		return fmt.Errorf("service account needs a namespace and a name")
	}
	key := sa.Namespace + "/" + sa.Name
	old := c.world.ServiceAccounts[key]
	if c.world.ServiceAccounts == nil {
		c.world.ServiceAccounts = map[string]*policy.ServiceAccount{}
	}
	c.world.ServiceAccounts[key] = sa
	if old != nil && maps.Equal(old.Labels, sa.Labels) {
		return nil
	}
	u.serviceAccountChanged(sa.Namespace, sa.Name)
	return nil
}

func (u *update) deleteServiceAccount(key string) error {
	c := u.c
	sa := c.world.ServiceAccounts[key]
	if sa == nil {
		return errNotFound
	}
	delete(c.world.ServiceAccounts, key)
	u.serviceAccountChanged(sa.Namespace, sa.Name)
	return nil
}

func (u *update) networkSetIndex(id string) int {
	return slices.IndexFunc(u.c.world.NetworkSets, func(s *policy.NetworkSet) bool { return s.ID() == id })
}

func (u *update) upsertNetworkSet(s *policy.NetworkSet) error {
	c := u.c
	if s.Name == "" {
		return fmt.Errorf("network set has no name")
	}
	id := s.ID()
	if i := u.networkSetIndex(id); i >= 0 {
		c.world.NetworkSets[i] = s
	} else {
		c.world.NetworkSets = append(c.world.NetworkSets, s)
	}
	u.setEntity(networkSetKey(id), c.networkSetEntity(s))
	return nil
}

func (u *update) deleteNetworkSet(id string) error {
	c := u.c
	i := u.networkSetIndex(id)
	if i < 0 {
		return errNotFound
	}
	c.world.NetworkSets = slices.Delete(c.world.NetworkSets, i, i+1)
	u.setEntity(networkSetKey(id), nil)
	return nil
}

// tierChanged recompiles the dispatch of every local endpoint a policy of
// the tier applies to, when the tier as evaluated (order, default action,
// existence) differs: a tier with no policy for an endpoint plays no part
// in its dispatch.
func (u *update) tierChanged(name string, before *policy.Tier) {
	c := u.c
	c.ordered = nil
	after := c.world.Tier(name)
	if before != nil && after != nil && *before == *after {
		return
	}
	for _, p := range c.world.Policies {
		if p.Tier == name {
			u.dispatchMatching(p.AppliesTo)
		}
	}
}

func (u *update) upsertTier(t *policy.Tier) error {
	c := u.c
	if t.Name == "" {
		return fmt.Errorf("tier has no name")
	}
	before := c.world.Tier(t.Name)
	if c.world.Tiers == nil {
		c.world.Tiers = map[string]*policy.Tier{}
	}
	c.world.Tiers[t.Name] = t
	u.tierChanged(t.Name, before)
	return nil
}

func (u *update) deleteTier(name string) error {
	c := u.c
	if _, ok := c.world.Tiers[name]; !ok {
		return errNotFound
	}
	before := c.world.Tier(name)
	delete(c.world.Tiers, name)
	u.tierChanged(name, before)
	return nil
}

// setLocals replaces the bindings with a copy, so that the map the caller
// passed to New is never written.
func (u *update) setLocals(id string, b *Binding) {
	c := u.c
	locals := maps.Clone(c.opts.Locals)
	if locals == nil {
		locals = map[string]Binding{}
	}
	if b != nil {
		locals[id] = *b
	} else {
		delete(locals, id)
	}
	c.opts.Locals = locals
}

func (u *update) bind(lb *LocalBinding) error {
	if lb.EndpointID == "" {
		return fmt.Errorf("binding names no endpoint")
	}
	u.setLocals(lb.EndpointID, &lb.Binding)
	// The entity's locality decides which named ports count on the local
	// side of rules; refreshEndpoint marks the endpoint itself.
	u.refreshEndpoint(lb.EndpointID)
	return nil
}

func (u *update) unbind(id string) error {
	if _, ok := u.c.opts.Locals[id]; !ok {
		return errNotFound
	}
	u.setLocals(id, nil)
	u.refreshEndpoint(id)
	u.endpoints[id] = true // remove its flows
	return nil
}
