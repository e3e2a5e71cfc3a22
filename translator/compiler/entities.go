package compiler

import (
	"net/netip"
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

// memberSet caches which entities one selector selects.
type memberSet map[string]*entity

// members returns the entities sel selects, in key order, computing and
// caching the set on first use; later entity changes keep it current.
func (c *Compiler) members(sel selector.Selector) []*entity {
	set, ok := c.memberCache[sel]
	if !ok {
		set = memberSet{}
		for k, e := range c.entities {
			if sel.Matches(e.labels) {
				set[k] = e
			}
		}
		c.memberCache[sel] = set
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*entity, len(keys))
	for i, k := range keys {
		out[i] = set[k]
	}
	return out
}

// memberPrefixes returns the addresses of everything sel selects.
func (c *Compiler) memberPrefixes(sel selector.Selector) []netip.Prefix {
	var ps []netip.Prefix
	for _, e := range c.members(sel) {
		ps = append(ps, e.prefixes...)
	}
	return normalizePrefixes(ps)
}

// setEntity replaces (or, with nil, removes) the entity under key, keeps
// every cached selector's member set current, and returns the selectors
// that selected the entity before or after: the rules using them must be
// recompiled.
func (c *Compiler) setEntity(key string, e *entity) []selector.Selector {
	var touched []selector.Selector
	for sel, set := range c.memberCache {
		_, was := set[key]
		is := e != nil && sel.Matches(e.labels)
		if is {
			set[key] = e
		} else {
			delete(set, key)
		}
		if was || is {
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
