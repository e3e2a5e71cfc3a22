package compiler

import (
	"fmt"
	"sort"

	"github.com/flowgate/flowgate/endpoints"
	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// Compiler holds one host's compiled pipeline and keeps it current as the
// world changes. Flows are owned by the pipeline, by a local endpoint or by
// a policy; an update recompiles only the owners it can affect.
type Compiler struct {
	opts  Options
	world *policy.World

	entities    map[string]*entity
	memberCache map[selector.Selector]*memberSet
	numbers     map[string]uint32
	// selectorUsers maps a selector to the policies whose rules use it.
	selectorUsers map[selector.Selector]map[string]bool
	policyDeps    map[string][]selector.Selector

	policies  map[string]*policy.Policy
	endpoints map[string]*endpoints.Endpoint
	// ordered caches the policies of each tier in evaluation order; nil
	// when policies or tiers changed since.
	ordered []tierPolicies

	owned  map[string][]Flow
	errors map[string]error
}

// tierPolicies is one tier and its policies in evaluation order.
type tierPolicies struct {
	tier     *policy.Tier
	policies []*policy.Policy
}

// Owner keys.
const ownerPipeline = "pipeline"

func ownerEndpoint(id string) string { return "endpoint/" + id }
func ownerPolicy(id string) string   { return "policy/" + id }

// New compiles w for the host described by opts. The world is owned by
// the compiler from now on: change it only through Update. Problems that
// stop one policy or endpoint from compiling are returned; everything
// else is compiled.
func New(w *policy.World, opts Options) (*Compiler, []error) {
	c := &Compiler{
		opts:          opts,
		world:         w,
		entities:      map[string]*entity{},
		memberCache:   map[selector.Selector]*memberSet{},
		selectorUsers: map[selector.Selector]map[string]bool{},
		policyDeps:    map[string][]selector.Selector{},
		policies:      map[string]*policy.Policy{},
		endpoints:     map[string]*endpoints.Endpoint{},
		owned:         map[string][]Flow{},
		errors:        map[string]error{},
	}
	for _, p := range w.Policies {
		c.policies[p.ID()] = p
	}
	for _, e := range w.Endpoints {
		c.endpoints[e.ID()] = e
		c.entities[endpointKey(e.ID())] = c.endpointEntity(e)
	}
	for _, s := range w.NetworkSets {
		c.entities[networkSetKey(s.ID())] = c.networkSetEntity(s)
	}
	c.numbers = numberPolicies(w.Policies)
	c.owned[ownerPipeline] = c.pipelineFlows()
	for _, p := range w.Policies {
		c.recompilePolicy(p.ID())
	}
	for _, e := range w.Endpoints {
		if _, ok := opts.Locals[e.ID()]; ok {
			c.recompileEndpoint(e.ID())
		}
	}
	return c, c.Errors()
}

// Flows returns every flow, sorted.
func (c *Compiler) Flows() []Flow {
	var out []Flow
	for _, fs := range c.owned {
		out = append(out, fs...)
	}
	SortFlows(out)
	return out
}

// Errors returns what currently fails to compile, sorted.
func (c *Compiler) Errors() []error {
	keys := make([]string, 0, len(c.errors))
	for k := range c.errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]error, len(keys))
	for i, k := range keys {
		out[i] = c.errors[k]
	}
	return out
}

// PolicyNumber returns the number the policy's rules are keyed by, so
// that tools can map rule ids in ct_label and cookies back to policies.
func (c *Compiler) PolicyNumber(policyID string) (uint32, bool) {
	n, ok := c.numbers[policyID]
	return n, ok
}

func (c *Compiler) policy(id string) *policy.Policy { return c.policies[id] }

func (c *Compiler) endpoint(id string) *endpoints.Endpoint { return c.endpoints[id] }

// tiers returns the tiers with their policies in evaluation order.
func (c *Compiler) tiers() []tierPolicies {
	if c.ordered != nil {
		return c.ordered
	}
	byTier := map[string][]*policy.Policy{}
	for _, p := range c.policies {
		byTier[p.Tier] = append(byTier[p.Tier], p)
	}
	out := []tierPolicies{}
	for _, t := range c.world.TiersInOrder() {
		ps := byTier[t.Name]
		sort.Slice(ps, func(i, j int) bool { return ps[i].Before(ps[j]) })
		out = append(out, tierPolicies{tier: t, policies: ps})
	}
	c.ordered = out
	return out
}

// recompilePolicy replaces the flows of one policy (removing them when the
// policy is gone) and records which selectors its rules depend on.
func (c *Compiler) recompilePolicy(id string) {
	owner := ownerPolicy(id)
	for _, sel := range c.policyDeps[id] {
		delete(c.selectorUsers[sel], id)
	}
	delete(c.policyDeps, id)
	delete(c.owned, owner)
	delete(c.errors, owner)
	p := c.policy(id)
	if p == nil {
		return
	}
	deps := policySelectors(p)
	c.policyDeps[id] = deps
	for _, sel := range deps {
		if c.selectorUsers[sel] == nil {
			c.selectorUsers[sel] = map[string]bool{}
		}
		c.selectorUsers[sel][id] = true
	}
	fs, err := c.policyFlows(p, c.numbers[id])
	if err != nil {
		c.errors[owner] = err
		return
	}
	c.owned[owner] = fs
}

// policySelectors lists the selectors whose members a policy's flows are
// built from; named ports with no selector depend on every endpoint.
func policySelectors(p *policy.Policy) []selector.Selector {
	seen := map[selector.Selector]bool{}
	var out []selector.Selector
	add := func(s selector.Selector) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, rules := range [][]policy.Rule{p.Ingress, p.Egress} {
		for i := range rules {
			for _, peer := range []*policy.Peer{&rules[i].Source, &rules[i].Destination} {
				if peer.Selector != nil {
					add(*peer.Selector)
				}
				if peer.NotSelector != nil {
					add(*peer.NotSelector)
				}
				if peer.Selector == nil && hasNamedPort(peer) {
					add(selector.All())
				}
			}
		}
	}
	return out
}

func hasNamedPort(p *policy.Peer) bool {
	for _, ms := range [][]policy.PortMatch{p.Ports, p.NotPorts} {
		for _, m := range ms {
			if m.Name != "" {
				return true
			}
		}
	}
	return false
}

// recompileEndpoint replaces the flows of one local endpoint.
func (c *Compiler) recompileEndpoint(id string) {
	owner := ownerEndpoint(id)
	delete(c.owned, owner)
	delete(c.errors, owner)
	e := c.endpoint(id)
	b, local := c.opts.Locals[id]
	if e == nil || !local {
		return
	}
	fs, err := c.endpointFlows(e, b)
	if err != nil {
		c.errors[owner] = fmt.Errorf("endpoint %s: %w", id, err)
		return
	}
	c.owned[owner] = fs
}
