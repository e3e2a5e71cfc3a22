// Package evaluator is the reference evaluator: given a world and the first
// packet of a connection, it says whether Calico semantics allow it and which
// tier, policy and rule (or default) decided. It walks tiers, policies and
// rules literally, with no precomputation beyond indexes, because it is the
// oracle the compiled OpenFlow pipeline is tested against.
package evaluator

import (
	"net/netip"
	"sync"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// Options tune defaults that are configuration, not policy.
type Options struct {
	// FailsafeInbound are always allowed into host endpoints.
	FailsafeInbound []policy.Failsafe
	// FailsafeOutbound are always allowed out of host endpoints.
	FailsafeOutbound []policy.Failsafe
}

// DefaultOptions returns Calico's defaults.
func DefaultOptions() Options {
	return Options{FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()}
}

// Evaluator answers policy questions about one world. It is read-only after
// New and safe for concurrent use.
type Evaluator struct {
	world *policy.World
	opts  Options
	tiers []*policy.Tier
	// policies in evaluation order, per tier name.
	policies map[string][]*policy.Policy
	// labels of every endpoint, derived labels included.
	labels map[*policy.Endpoint]selector.Set
	// byAddr lists the endpoints owning each address.
	byAddr map[netip.Addr][]*policy.Endpoint
	byID   map[string]*policy.Endpoint
	// wide lists the endpoints with an address pair of all addresses, by
	// the pair's MAC.
	wide map[string][]*policy.Endpoint
	sets []networkSet
	// applied caches, per endpoint, the policies of each tier (by index
	// in tiers) whose selector matches it, in evaluation order: walking
	// only those decides exactly as walking all, and a diff or matrix
	// decides for one endpoint thousands of times. Filled on first use.
	applied sync.Map // *policy.Endpoint -> [][]*policy.Policy
}

type networkSet struct {
	set    *policy.NetworkSet
	labels selector.Set
}

// New indexes w for evaluation.
func New(w *policy.World, opts Options) *Evaluator {
	ev := &Evaluator{
		world:    w,
		opts:     opts,
		tiers:    w.TiersInOrder(),
		policies: map[string][]*policy.Policy{},
		labels:   make(map[*policy.Endpoint]selector.Set, len(w.Endpoints)),
		byAddr:   make(map[netip.Addr][]*policy.Endpoint, len(w.Endpoints)),
		byID:     make(map[string]*policy.Endpoint, len(w.Endpoints)),
		wide:     map[string][]*policy.Endpoint{},
	}
	for _, t := range ev.tiers {
		ev.policies[t.Name] = w.PoliciesInOrder(t.Name)
	}
	shared := policy.NewSharedAddresses(w.Endpoints)
	for _, e := range w.Endpoints {
		ev.labels[e] = w.EndpointLabels(e)
		shared.Label(ev.labels[e], e)
		ev.byID[e.ID()] = e
		for _, a := range e.IPs {
			ev.byAddr[a] = append(ev.byAddr[a], e)
		}
		for _, p := range e.AddressPairs {
			if mac := pairMAC(e, p); p.Prefix.Bits() == 0 && len(mac) == 6 {
				ev.wide[mac.String()] = append(ev.wide[mac.String()], e)
			}
		}
	}
	for _, s := range w.NetworkSets {
		ev.sets = append(ev.sets, networkSet{set: s, labels: w.NetworkSetLabels(s)})
	}
	return ev
}

// Endpoint finds an endpoint by ID ("namespace/name" or "name").
func (ev *Evaluator) Endpoint(id string) *policy.Endpoint { return ev.byID[id] }

// EndpointAt returns an endpoint owning address a, or nil.
func (ev *Evaluator) EndpointAt(a netip.Addr) *policy.Endpoint {
	if es := ev.byAddr[a]; len(es) > 0 {
		return es[0]
	}
	return nil
}

// Evaluate decides a new connection from src to dst (either may be nil for
// an address that is no endpoint): the source's egress policy and the
// destination's ingress policy must both allow it.
func (ev *Evaluator) Evaluate(src, dst *policy.Endpoint, p Packet) Verdict {
	v := Verdict{Allowed: true}
	network := packetNetwork(src, dst)
	if src != nil {
		d := ev.decide(src, policy.Egress, p, network)
		v.Egress = &d
		v.Allowed = v.Allowed && d.Allowed
	}
	if dst != nil {
		d := ev.decide(dst, policy.Ingress, p, network)
		v.Ingress = &d
		v.Allowed = v.Allowed && d.Allowed
	}
	return v
}

// Decide walks e's policy for one direction: failsafes for host endpoints,
// then tiers in order, policies in order, rules in order; a tier with
// policies for e ends in its default action; when no tier decides, the
// endpoint's default (allow for pods, deny for VMs and hosts) applies.
// The packet is taken to be in e's network (policy.LabelNetwork).
func (ev *Evaluator) Decide(e *policy.Endpoint, dir policy.Direction, p Packet) Decision {
	return ev.decide(e, dir, p, policy.EndpointNetwork(e))
}

// packetNetwork is the network a connection between src and dst (either
// may be nil) is in: the endpoints' when they share it or only one is
// known; none when they are in different networks, which only a bridge
// without L2 isolation carries (Neutron routes between networks).
func packetNetwork(src, dst *policy.Endpoint) string {
	switch {
	case src == nil && dst == nil:
		return ""
	case src == nil:
		return policy.EndpointNetwork(dst)
	case dst == nil, policy.EndpointNetwork(src) == policy.EndpointNetwork(dst):
		return policy.EndpointNetwork(src)
	}
	return ""
}

// decide is Decide for a packet of the given network: a peer's addresses
// that belong to another network's endpoints are not the packet's.
func (ev *Evaluator) decide(e *policy.Endpoint, dir policy.Direction, p Packet, network string) Decision {
	d := Decision{Endpoint: e.ID(), Direction: dir}
	if e.Guard == policy.GuardNone {
		d.Allowed, d.Reason = true, "not filtered (port security off)"
		return d
	}
	if e.Kind == policy.HostEndpoint {
		list := ev.opts.FailsafeInbound
		if dir == policy.Egress {
			list = ev.opts.FailsafeOutbound
		}
		for _, f := range list {
			if f.Protocol == p.Protocol && f.Port == p.DstPort {
				d.Allowed, d.Reason = true, "failsafe "+f.String()
				return d
			}
		}
	}
	perTier := ev.appliedTo(e)
	for ti, tier := range ev.tiers {
		applied, passed := false, false
		for _, pol := range perTier[ti] {
			if pol.Types&dir == 0 {
				continue
			}
			applied = true
			for i := range pol.Rules(dir) {
				r := &pol.Rules(dir)[i]
				if !ev.ruleMatches(r, p, network) {
					continue
				}
				ref := RuleRef{Tier: tier.Name, Policy: pol.ID(), Direction: dir, Index: r.Index, Action: r.Action, Name: r.Name}
				switch r.Action {
				case policy.Log:
					d.Logged = append(d.Logged, ref)
					continue
				case policy.Pass:
					passed = true
				case policy.Allow, policy.Deny:
					d.Allowed, d.Rule, d.Reason = r.Action == policy.Allow, &ref, ref.String()
					return d
				}
				break
			}
			if passed {
				break
			}
		}
		if !applied || passed {
			continue
		}
		if tier.DefaultAction == policy.Pass {
			continue
		}
		d.Allowed, d.Reason = false, "tier "+tier.Name+": no policy decided (end of tier)"
		return d
	}
	d.Allowed = ev.world.DefaultAllow(e)
	if d.Allowed {
		d.Reason = "default allow (no policy decided)"
	} else {
		d.Reason = "default deny (no policy decided)"
	}
	return d
}

// appliedTo returns the policies of each tier whose selector matches e,
// in evaluation order (see Evaluator.applied).
func (ev *Evaluator) appliedTo(e *policy.Endpoint) [][]*policy.Policy {
	if v, ok := ev.applied.Load(e); ok {
		return v.([][]*policy.Policy)
	}
	labels := ev.labels[e]
	perTier := make([][]*policy.Policy, len(ev.tiers))
	for i, tier := range ev.tiers {
		for _, pol := range ev.policies[tier.Name] {
			if pol.AppliesTo.Matches(labels) {
				perTier[i] = append(perTier[i], pol)
			}
		}
	}
	v, _ := ev.applied.LoadOrStore(e, perTier)
	return v.([][]*policy.Policy)
}
