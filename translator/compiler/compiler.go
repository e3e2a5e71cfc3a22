package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// Compiler holds one host's compiled pipeline and keeps it current as the
// world changes. Flows are owned by the pipeline, by a local endpoint or by
// a rule slot of a policy; an update recompiles only what it can affect,
// and a member joining or leaving a selector changes only the flows of its
// addresses in the rules that use the selector.
//
// Only policies that apply to at least one local endpoint are compiled:
// the rules of any other policy are unreachable from this host's dispatch
// flows. Their compile errors are therefore reported only once they apply
// here.
type Compiler struct {
	opts  Options
	world *policy.World

	entities map[string]*entity
	// labels indexes all entities by label, localLabels the local ones.
	labels, localLabels *labelIndex
	// selectors are those compiled slots use, filed in selIdx so that an
	// entity change finds the ones that may select it.
	selectors map[selector.Selector]*selEntry
	selIdx    *selectorIndex

	numbers   map[string]uint32
	numbering *policyNumbers // over numbers, for incremental changes
	// tierNumbers numbers every tier (tierends.go); logDeniedPolicies
	// counts the policies with LogDenied per tier.
	tierNumbers       map[string]uint32
	logDeniedPolicies map[string]int
	policies          map[string]*policy.Policy
	endpoints         map[string]*policy.Endpoint

	// applies files every policy's AppliesTo selector; appliesUsers maps
	// it to the policies using it; active counts the local endpoints each
	// policy applies to (absent: none).
	applies      *selectorIndex
	appliesUsers map[selector.Selector]map[string]struct{}
	active       map[string]int
	// states are the compiled policies: exactly the active ones.
	states map[string]*policyState

	// tierRank is each existing tier's position in evaluation order, and
	// localIDs the bound endpoint IDs sorted; nil when stale.
	tierRank map[string]int
	localIDs []string
	// zones numbers the networks of the local endpoints, and shared
	// finds the addresses several networks use (zones.go).
	zones  map[string]uint16
	shared *policy.SharedAddresses
	// scoping: some address is shared, so rule sides with selectors are
	// split by scope; without, they compile exactly as with no networks.
	scoping bool

	owned  map[string][]Flow
	errors map[string]error
	// pairHolders are the local endpoints with pair MACs other than their
	// own: whether they are recognised by them depends on the other local
	// endpoints (claimedElsewhere).
	pairHolders map[string]bool
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
		opts:         opts,
		world:        w,
		entities:     make(map[string]*entity, len(w.Endpoints)+len(w.NetworkSets)),
		labels:       newLabelIndex(0),
		localLabels:  newLabelIndex(1),
		selectors:    map[selector.Selector]*selEntry{},
		selIdx:       newSelectorIndex(),
		policies:     make(map[string]*policy.Policy, len(w.Policies)),
		endpoints:    make(map[string]*policy.Endpoint, len(w.Endpoints)),
		applies:      newSelectorIndex(),
		appliesUsers: map[selector.Selector]map[string]struct{}{},
		active:       map[string]int{},
		states:       map[string]*policyState{},
		owned:        map[string][]Flow{},
		errors:       map[string]error{},
		pairHolders:  map[string]bool{},
	}
	for _, p := range w.Policies {
		c.policies[p.ID()] = p
	}
	c.shared = policy.NewSharedAddresses(w.Endpoints)
	for _, e := range w.Endpoints {
		c.endpoints[e.ID()] = e
		ent := c.endpointEntity(e)
		c.entities[ent.key] = ent
		c.fileEntity(ent)
	}
	for _, s := range w.NetworkSets {
		ent := c.networkSetEntity(s)
		c.entities[ent.key] = ent
		c.fileEntity(ent)
	}
	c.numbers = numberPolicies(w.Policies)
	c.numbering = newPolicyNumbers(c.numbers)
	c.zones = c.localZones()
	c.scoping = c.shared.Any()
	c.owned[ownerPipeline] = c.pipelineFlows()
	c.tierNumbers = numberTiers(w)
	for _, p := range w.Policies {
		c.countLogDenied(p, 1)
	}
	c.owned[ownerTierEnds] = c.tierEndFlows()
	for _, id := range sortedKeys(c.policies) {
		c.fileApplies(c.policies[id])
	}
	for _, id := range c.locals() {
		if e := c.entities[endpointKey(id)]; e != nil {
			c.countActive(e, 1, nil)
		}
	}
	for _, id := range sortedKeys(c.active) {
		c.compile(id, nil)
	}
	for _, id := range c.locals() {
		c.recompileEndpoint(id, nil)
	}
	return c, c.Errors()
}

// Flows returns every flow, sorted.
func (c *Compiler) Flows() []Flow {
	n := 0
	for _, fs := range c.owned {
		n += len(fs)
	}
	for _, ps := range c.states {
		for _, s := range ps.slots {
			n += len(s.flows)
		}
	}
	out := make([]Flow, 0, n)
	for _, fs := range c.owned {
		out = append(out, fs...)
	}
	for _, ps := range c.states {
		for _, s := range ps.slots {
			for _, f := range s.flows {
				out = append(out, f)
			}
		}
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

// PolicyErrors are Errors' problems of policies only, without those of
// local endpoints' bindings (a port without a MAC): what compiling with
// every endpoint of a node local (AllLocal, whose bindings always have a
// port and a MAC) can report, for `flowgate apply`'s input check.
func (c *Compiler) PolicyErrors() []error {
	var out []error
	keys := make([]string, 0, len(c.errors))
	for k := range c.errors {
		if strings.HasPrefix(k, ownerPolicy("")) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, c.errors[k])
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

func (c *Compiler) endpoint(id string) *policy.Endpoint { return c.endpoints[id] }

// locals returns the bound endpoint IDs, sorted. The slice is shared.
func (c *Compiler) locals() []string {
	if c.localIDs == nil {
		c.localIDs = sortedKeys(c.opts.Locals)
	}
	return c.localIDs
}

// dropPolicy removes a policy's compiled state and flows, logging them.
func (c *Compiler) dropPolicy(id string, log *flowLog) {
	if old := c.states[id]; old != nil {
		for _, s := range old.slots {
			c.dropSlot(s, log)
		}
		delete(c.states, id)
	}
	delete(c.errors, ownerPolicy(id))
}

// compile (re)compiles one policy when it exists and is active, logging
// the flows it had and has.
func (c *Compiler) compile(id string, log *flowLog) {
	c.dropPolicy(id, log)
	p := c.policy(id)
	if p == nil || c.active[id] == 0 {
		return
	}
	ps := c.compilePolicy(p, c.numbers[id])
	c.states[id] = ps
	if ps.err != nil {
		c.errors[ownerPolicy(id)] = ps.err
		return
	}
	for _, s := range ps.slots {
		for _, f := range s.flows {
			log.put(f)
		}
	}
}

// dropSlot removes a slot's flows and dependencies.
func (c *Compiler) dropSlot(s *slotState, log *flowLog) {
	for _, f := range s.flows {
		log.del(f)
	}
	c.unuse(s)
	s.flows = nil
	s.dropped = true
}

// compiled reports whether a policy compiled without error (so that
// dispatch can resubmit into its rules).
func (c *Compiler) compiled(id string) bool {
	ps := c.states[id]
	return ps != nil && ps.err == nil
}

// recompileEndpoint replaces the flows of one local endpoint.
func (c *Compiler) recompileEndpoint(id string, log *flowLog) {
	c.removeEndpointFlows(id, log)
	c.addEndpointFlows(id, log)
}

func (c *Compiler) removeEndpointFlows(id string, log *flowLog) {
	owner := ownerEndpoint(id)
	for _, f := range c.owned[owner] {
		log.del(f)
	}
	delete(c.owned, owner)
	delete(c.errors, owner)
	delete(c.pairHolders, id)
}

func (c *Compiler) addEndpointFlows(id string, log *flowLog) {
	owner := ownerEndpoint(id)
	e := c.endpoint(id)
	b, local := c.opts.Locals[id]
	if e == nil || !local {
		return
	}
	if foreignPairMACs(e, b.MAC) {
		c.pairHolders[id] = true
	}
	fs, err := c.endpointFlows(e, b)
	if err != nil {
		c.errors[owner] = fmt.Errorf("endpoint %s: %w", id, err)
		return
	}
	c.owned[owner] = fs
	for _, f := range fs {
		log.put(f)
	}
}
