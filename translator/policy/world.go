package policy

import (
	"sort"
)

// World is everything flowgate knows at one moment: policies and tiers,
// endpoints, namespaces, service accounts and network sets. The evaluator
// and the compiler both read a World; sources build it.
type World struct {
	// Tiers by name. The default, Admin and Baseline tiers exist even
	// when not listed.
	Tiers map[string]*Tier
	// Policies in no particular order; use PoliciesInOrder to walk them.
	Policies []*Policy
	// Endpoints, local and remote alike.
	Endpoints []*Endpoint
	// Namespaces by name.
	Namespaces map[string]*Namespace
	// ServiceAccounts by "namespace/name".
	ServiceAccounts map[string]*ServiceAccount
	// NetworkSets, global and namespaced.
	NetworkSets []*NetworkSet
	// Staged policies: validated, never enforced (see WithStaged).
	Staged []*StagedPolicy
}

// NewWorld returns an empty world with the default tier.
func NewWorld() *World {
	return &World{
		Tiers:           map[string]*Tier{DefaultTier: NewDefaultTier()},
		Namespaces:      map[string]*Namespace{},
		ServiceAccounts: map[string]*ServiceAccount{},
	}
}

// Tier returns the named tier, or nil when it does not exist.
func (w *World) Tier(name string) *Tier {
	if t, ok := w.Tiers[name]; ok {
		return t
	}
	return builtInTier(name)
}

// TiersInOrder returns the tiers in evaluation order.
func (w *World) TiersInOrder() []*Tier {
	tiers := make([]*Tier, 0, len(w.Tiers)+len(builtInTierNames))
	for _, t := range w.Tiers {
		tiers = append(tiers, t)
	}
	for _, name := range builtInTierNames {
		if _, ok := w.Tiers[name]; !ok {
			tiers = append(tiers, builtInTier(name))
		}
	}
	sort.Slice(tiers, func(i, j int) bool { return tiers[i].Before(tiers[j]) })
	return tiers
}

// PoliciesInOrder returns the policies of one tier in evaluation order.
func (w *World) PoliciesInOrder(tier string) []*Policy {
	var ps []*Policy
	for _, p := range w.Policies {
		if p.Tier == tier {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Before(ps[j]) })
	return ps
}

// DefaultAllowProfile is Calico's built-in profile that allows everything;
// an endpoint listing it is default-allow.
const DefaultAllowProfile = "projectcalico-default-allow"

// DefaultAllow reports what happens to e's traffic in a direction that no
// policy decides: pods are allowed (the Kubernetes rule, which Calico
// implements with a per-namespace profile), VMs and host endpoints are
// denied unless they carry Calico's default-allow profile, or are
// Kubernetes-orchestrated workload endpoints in a namespace that exists.
func (w *World) DefaultAllow(e *Endpoint) bool {
	if e.Kind == PodEndpoint {
		return true
	}
	_, nsExists := w.Namespaces[e.Namespace]
	for _, p := range e.Profiles {
		if p == DefaultAllowProfile || (e.Kind == WorkloadEndpoint && nsExists && p == "kns."+e.Namespace) {
			return true
		}
	}
	return e.Kind == WorkloadEndpoint && e.Orchestrator == OrchestratorKubernetes && nsExists
}
