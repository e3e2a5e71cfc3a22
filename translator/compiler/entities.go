package compiler

import (
	"net/netip"
	"slices"
	"sort"

	"github.com/flowgate/flowgate/endpoints"
	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// entity is anything a rule selector can select: an endpoint (local or
// remote) or a network set, with the labels selectors see.
type entity struct {
	key      string
	labels   selector.Set
	prefixes []netip.Prefix
	endpoint *endpoints.Endpoint // nil for network sets
	local    bool
}

func endpointKey(id string) string   { return "ep/" + id }
func networkSetKey(id string) string { return "ns/" + id }

func (c *Compiler) endpointEntity(e *endpoints.Endpoint) *entity {
	ps := make([]netip.Prefix, 0, len(e.IPs))
	for _, a := range e.IPs {
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	_, local := c.opts.Locals[e.ID()]
	return &entity{key: endpointKey(e.ID()), labels: c.world.EndpointLabels(e), prefixes: ps, endpoint: e, local: local}
}

func (c *Compiler) networkSetEntity(s *policy.NetworkSet) *entity {
	return &entity{key: networkSetKey(s.ID()), labels: c.world.NetworkSetLabels(s), prefixes: normalizePrefixes(s.Nets)}
}

// memberSet caches which entities one selector selects and, computed on
// first use after every change to the set, those members in key order and
// their addresses: rules of many policies share one selector.
type memberSet struct {
	entities map[string]*entity
	sorted   []*entity      // nil until computed
	prefixes []netip.Prefix // nil until computed
}

// memberSetOf returns sel's member set, computing and caching it on first
// use; later entity changes keep it current.
func (c *Compiler) memberSetOf(sel selector.Selector) *memberSet {
	set, ok := c.memberCache[sel]
	if !ok {
		set = &memberSet{entities: map[string]*entity{}}
		for k, e := range c.entities {
			if sel.Matches(e.labels) {
				set.entities[k] = e
			}
		}
		c.memberCache[sel] = set
	}
	return set
}

// members returns the entities sel selects, in key order. The slice is
// shared: callers must not modify it.
func (c *Compiler) members(sel selector.Selector) []*entity {
	set := c.memberSetOf(sel)
	if set.sorted == nil {
		keys := make([]string, 0, len(set.entities))
		for k := range set.entities {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]*entity, len(keys))
		for i, k := range keys {
			out[i] = set.entities[k]
		}
		set.sorted = out
	}
	return set.sorted
}

// memberPrefixes returns the addresses of everything sel selects. The
// slice is shared: callers must not modify it.
func (c *Compiler) memberPrefixes(sel selector.Selector) []netip.Prefix {
	set := c.memberSetOf(sel)
	if set.prefixes == nil {
		var ps []netip.Prefix
		for _, e := range c.members(sel) {
			ps = append(ps, e.prefixes...)
		}
		set.prefixes = slices.Clip(normalizePrefixes(ps))
	}
	return set.prefixes
}

// setEntity replaces (or, with nil, removes) the entity under key, keeps
// every cached selector's member set current, and returns the selectors
// that selected the entity before or after: the rules using them must be
// recompiled.
func (c *Compiler) setEntity(key string, e *entity) []selector.Selector {
	var touched []selector.Selector
	for sel, set := range c.memberCache {
		_, was := set.entities[key]
		is := e != nil && sel.Matches(e.labels)
		if is {
			set.entities[key] = e
		} else {
			delete(set.entities, key)
		}
		if was || is {
			set.sorted, set.prefixes = nil, nil
			touched = append(touched, sel)
		}
	}
	if e == nil {
		delete(c.entities, key)
	} else {
		c.entities[key] = e
	}
	return touched
}
