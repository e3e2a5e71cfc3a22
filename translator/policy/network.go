package policy

import "github.com/flowgate/flowgate/endpoints"

// Labels that give an endpoint network semantics. They are plain labels so
// that they survive the YAML an import writes (Calico's WorkloadEndpoint
// has no field for them) and selectors can use them like any other.
const (
	// LabelNetwork holds the ID of the network an endpoint is attached to
	// (a Neutron network). Networks may reuse each other's addresses: an
	// endpoint's addresses are matched only in packets of its own network,
	// and each network has a conntrack zone of its own. An endpoint
	// without it is in no network: its addresses match everywhere.
	LabelNetwork = "neutron.openstack.org/network"
	// LabelStateful set to "false" marks an untracked endpoint (a port of
	// Neutron's stateless security groups): every packet to or from it,
	// replies included, must be allowed by a rule, and none is committed
	// to conntrack.
	LabelStateful = "neutron.openstack.org/stateful"
)

// EndpointNetwork returns the network e is attached to, "" for none.
func EndpointNetwork(e *endpoints.Endpoint) string { return e.Labels[LabelNetwork] }

// Untracked reports whether e's traffic is filtered packet by packet,
// without conntrack.
func Untracked(e *endpoints.Endpoint) bool { return e.Labels[LabelStateful] == "false" }
