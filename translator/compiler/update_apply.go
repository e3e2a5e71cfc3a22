package compiler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/flowgate/flowgate/translator/policy"
)

// How each kind of change is applied to the world and the compiler's
// state; update.go then recompiles what it marked.

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

func (u *update) upsertEndpoint(e *policy.Endpoint) error {
	c := u.c
	id := e.ID()
	if e.Name == "" {
		return fmt.Errorf("endpoint has no name")
	}
	old := c.endpoints[id]
	c.world.Endpoints = replaceOrAppend(c.world.Endpoints, old, e)
	c.endpoints[id] = e
	u.reindexAddresses(old, e)
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
	u.reindexAddresses(old, nil)
	u.refreshEndpoint(id)
	return nil
}

// reindexAddresses moves an endpoint's addresses in the shared-address
// index from old to e (either may be nil) and refreshes the other
// endpoints of every address that starts or stops being shared: whether
// their addresses are confined to their network changes.
func (u *update) reindexAddresses(old, e *policy.Endpoint) {
	c := u.c
	var addrs []netip.Addr
	for _, x := range []*policy.Endpoint{old, e} {
		if x != nil {
			addrs = append(addrs, x.IPs...)
		}
	}
	before := make([]bool, len(addrs))
	for i, a := range addrs {
		before[i] = c.shared.Shared(a)
	}
	if old != nil {
		c.shared.Remove(old)
	}
	if e != nil {
		c.shared.Add(e)
	}
	for i, a := range addrs {
		if c.shared.Shared(a) == before[i] {
			continue
		}
		for _, id := range c.shared.Users(a) {
			if c.endpoints[id] != nil {
				u.refreshEndpoint(id)
			}
		}
	}
}

func (u *update) upsertPolicy(p *policy.Policy) error {
	c := u.c
	id := p.ID()
	if p.Name == "" {
		return fmt.Errorf("policy has no name")
	}
	old := c.policies[id]
	u.policyLogDenied(old, p)
	c.world.Policies = replaceOrAppend(c.world.Policies, old, p)
	if old != nil {
		u.dispatchMatching(old.AppliesTo)
		c.unfileApplies(old)
	}
	c.policies[id] = p
	c.fileApplies(p)
	u.setActive(id, c.activeCount(p))
	u.policies[id] = true
	u.dispatchMatching(p.AppliesTo)
	if old == nil {
		u.renumber(id, true)
	}
	return nil
}

func (u *update) deletePolicy(id string) error {
	c := u.c
	old := c.policies[id]
	if old == nil {
		return errNotFound
	}
	u.policyLogDenied(old, nil)
	c.world.Policies = remove(c.world.Policies, old)
	delete(c.policies, id)
	c.unfileApplies(old)
	u.setActive(id, 0)
	u.policies[id] = true
	u.dispatchMatching(old.AppliesTo)
	u.renumber(id, false)
	return nil
}

// setActive sets a policy's active count, remembering the old one.
func (u *update) setActive(id string, n int) {
	c := u.c
	if _, ok := u.activeBefore[id]; !ok {
		u.activeBefore[id] = c.active[id]
	}
	if n == 0 {
		delete(c.active, id)
	} else {
		c.active[id] = n
	}
}

// renumber numbers the policies after one came or went. Numbers are
// hashes, so usually only that policy's changes, which policyNumbers does
// without looking at the others; a collision can move others, whose rules
// and dispatch entries must then follow: then all are numbered afresh.
func (u *update) renumber(id string, added bool) {
	c := u.c
	if added && c.numbering.add(id) || !added && c.numbering.remove(id) {
		return
	}
	nums := numberPolicies(c.world.Policies)
	for other, n := range nums {
		if old, ok := c.numbers[other]; !ok || old != n {
			u.policies[other] = true
			u.dispatchMatching(c.policies[other].AppliesTo)
		}
	}
	for other := range c.numbers {
		if _, ok := nums[other]; !ok {
			u.policies[other] = true
		}
	}
	c.numbers = nums
	c.numbering = newPolicyNumbers(nums)
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
	c.tierRank = nil
	after := c.world.Tier(name)
	if before != nil && after != nil && *before == *after {
		return
	}
	for _, p := range c.world.Policies {
		if p.Tier == name {
			u.dispatchMatching(p.AppliesTo)
		}
	}
	u.renumberTiers()
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
	c.localIDs = nil
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
