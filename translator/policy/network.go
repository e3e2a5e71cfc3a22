package policy

import (
	"net/netip"
	"sort"

	"github.com/flowgate/flowgate/translator/selector"
)

// Labels that give an endpoint network semantics. They are plain labels so
// that they survive the YAML an import writes (Calico's WorkloadEndpoint
// has no field for them) and selectors can use them like any other.
const (
	// LabelNetwork holds the ID of the network an endpoint is attached to
	// (a Neutron network). Networks may reuse each other's addresses:
	// each network has a conntrack zone of its own, and an address that
	// several networks use is matched only in packets of the network of
	// the endpoint it belongs to (LabelScopedNetwork). An endpoint without
	// it is in no network: its addresses match everywhere.
	LabelNetwork = "neutron.openstack.org/network"
	// LabelStateful set to "false" marks an untracked endpoint (a port of
	// Neutron's stateless security groups): every packet to or from it,
	// replies included, must be allowed by a rule, and none is committed
	// to conntrack.
	LabelStateful = "neutron.openstack.org/stateful"
)

// EndpointNetwork returns the network e is attached to, "" for none.
func EndpointNetwork(e *Endpoint) string { return e.Labels[LabelNetwork] }

// Untracked reports whether e's traffic is filtered packet by packet,
// without conntrack.
func Untracked(e *Endpoint) bool { return e.Labels[LabelStateful] == "false" }

// LabelScopedNetwork is derived, like the projectcalico.org labels: an
// endpoint carries it, valued with its network, when an endpoint of another
// network has one of its addresses. Only such an endpoint's addresses are
// confined to its network's packets; an address no other network uses
// stays a member everywhere, as in Neutron, where a remote group's member
// counts for traffic routed in from its network (a router cannot join
// networks whose addresses overlap). Policies should not select on it.
const LabelScopedNetwork = "flowgate.io/scoped-network"

// SharedAddresses indexes the networks using each endpoint address, so
// that the addresses several networks share can be told apart.
type SharedAddresses struct {
	// m holds, per address, per network, the endpoint IDs using it.
	m map[netip.Addr]map[string]map[string]struct{}
	// shared counts the addresses several networks use.
	shared int
}

// NewSharedAddresses indexes eps.
func NewSharedAddresses(eps []*Endpoint) *SharedAddresses {
	s := &SharedAddresses{m: map[netip.Addr]map[string]map[string]struct{}{}}
	for _, e := range eps {
		s.Add(e)
	}
	return s
}

// Add indexes e's addresses under its network (none: not indexed).
func (s *SharedAddresses) Add(e *Endpoint) {
	n := EndpointNetwork(e)
	if n == "" {
		return
	}
	for _, a := range e.IPs {
		byNet := s.m[a]
		if byNet == nil {
			byNet = map[string]map[string]struct{}{}
			s.m[a] = byNet
		}
		if byNet[n] == nil {
			byNet[n] = map[string]struct{}{}
			if len(byNet) == 2 {
				s.shared++
			}
		}
		byNet[n][e.ID()] = struct{}{}
	}
}

// Remove forgets what Add indexed for e.
func (s *SharedAddresses) Remove(e *Endpoint) {
	n := EndpointNetwork(e)
	for _, a := range e.IPs {
		if ids := s.m[a][n]; ids != nil {
			delete(ids, e.ID())
			if len(ids) == 0 {
				delete(s.m[a], n)
				if len(s.m[a]) == 1 {
					s.shared--
				}
			}
			if len(s.m[a]) == 0 {
				delete(s.m, a)
			}
		}
	}
}

// Any reports whether several networks use some address.
func (s *SharedAddresses) Any() bool { return s.shared > 0 }

// Shared reports whether several networks use address a.
func (s *SharedAddresses) Shared(a netip.Addr) bool { return len(s.m[a]) > 1 }

// Users returns the IDs of the endpoints (with a network) using a.
func (s *SharedAddresses) Users(a netip.Addr) []string {
	var out []string
	for _, ids := range s.m[a] {
		for id := range ids {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Label adds LabelScopedNetwork to l, e's labels, when another network
// shares one of e's addresses.
func (s *SharedAddresses) Label(l selector.Set, e *Endpoint) {
	n := EndpointNetwork(e)
	if n == "" {
		return
	}
	for _, a := range e.IPs {
		if s.Shared(a) {
			l[LabelScopedNetwork] = n
			return
		}
	}
}
