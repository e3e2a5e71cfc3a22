package policy

import (
	"fmt"
	"net"
	"net/netip"
)

// EndpointKind says what sort of workload an endpoint is. It decides which policies
// may select it and what happens when none does.
type EndpointKind uint8

const (
	// PodEndpoint is a Kubernetes pod. Kubernetes NetworkPolicy selects only pods,
	// and a pod that no policy selects is allowed everything.
	PodEndpoint EndpointKind = iota + 1
	// WorkloadEndpoint is a non-Kubernetes workload endpoint (an OpenStack VM, a
	// bare container): default-deny even with no policy.
	WorkloadEndpoint
	// HostEndpoint is a host endpoint (an interface of the host itself):
	// default-deny, with failsafe ports so an operator is never locked out.
	HostEndpoint
)

// String returns the kind's name as users write it.
func (k EndpointKind) String() string {
	switch k {
	case PodEndpoint:
		return "Pod"
	case WorkloadEndpoint:
		return "WorkloadEndpoint"
	case HostEndpoint:
		return "HostEndpoint"
	}
	return fmt.Sprintf("EndpointKind(%d)", uint8(k))
}

// NamedPort is a port an endpoint publishes under a name, so that rules can
// say "http" and mean 80 on one endpoint and 8080 on another.
type NamedPort struct {
	// Name is the port's name (an IANA_SVC_NAME for pods).
	Name string
	// Protocol is the IP protocol number (6 TCP, 17 UDP, 132 SCTP).
	Protocol uint8
	// Port is the port number, 1–65535.
	Port uint16
}

// Endpoint is one pod, VM or host interface: who it is (labels, namespace,
// service account), where it is (addresses, node, interface) and what it
// offers (named ports).
type Endpoint struct {
	// Kind decides default behaviour and which policies may select it.
	Kind EndpointKind
	// Namespace is empty for host endpoints, which are global.
	Namespace string
	// Name is unique within the namespace (and kind).
	Name string
	// Labels are the user's labels; derived labels (namespace,
	// orchestrator, service account) are added by the translator.
	Labels map[string]string
	// IPs are the endpoint's addresses. An endpoint without addresses can
	// still have policy applied at its port, but no rule can match it as
	// a peer.
	IPs []netip.Addr
	// Ports are the endpoint's named ports.
	Ports []NamedPort
	// ServiceAccount is the Kubernetes service account name, if any.
	ServiceAccount string
	// Orchestrator is "k8s" for pods and e.g. "openstack" for VMs; it
	// becomes the projectcalico.org/orchestrator label.
	Orchestrator string
	// Node is the host the endpoint runs on, as its source reports it.
	Node string
	// InterfaceName binds the endpoint to a local interface by name
	// (Calico WorkloadEndpoint/HostEndpoint interfaceName).
	InterfaceName string
	// MAC is the endpoint's MAC address when known.
	MAC net.HardwareAddr
	// Profiles are Calico profile names the endpoint references.
	Profiles []string
	// AddressPairs are further (MAC, prefix) pairs the endpoint may send
	// from: Neutron's allowed address pairs.
	AddressPairs []AddressPair
	// Guard is how the endpoint's port is protected.
	Guard Guard
}

// AddressPair lets an endpoint send from the addresses of Prefix with MAC
// as the source MAC (ARP included), and be reached at MAC: a Neutron
// allowed address pair. A pair of all addresses (0.0.0.0/0, ::/0) also
// makes the endpoint a member, of every selector that selects it, for
// packets of that family from MAC (to MAC, on a rule's destination side)
// whatever their address — never by address alone, which would make the
// whole Internet a member (the Neutron wide-pair bypass).
type AddressPair struct {
	// Prefix is the addresses the pair admits.
	Prefix netip.Prefix
	// MAC is the source MAC they come with; nil means the endpoint's.
	MAC net.HardwareAddr
}

// Guard says which port-level protection an endpoint gets before policy.
type Guard uint8

const (
	// GuardDefault: the spoof guard admits only the endpoint's own MAC and
	// addresses (and its address pairs), traffic is tracked, policy decides.
	GuardDefault Guard = iota
	// GuardNeutron is GuardDefault plus Neutron's fixed per-port rules: a
	// DHCP client may send from 0.0.0.0 (and DHCPv6 from link-local)
	// without conntrack, and the port may never answer as a DHCP server.
	GuardNeutron
	// GuardNone: the port is not filtered at all — no spoof guard, no
	// conntrack, no policy of its own (Neutron port_security_enabled=false
	// and Neutron's own ports). What it sends to a filtered endpoint still
	// meets that endpoint's ingress policy, and what a filtered endpoint
	// sends to it that endpoint's egress policy.
	GuardNone
)

// ID is the endpoint's name as tools print it: "namespace/name" for
// namespaced endpoints, "name" for host endpoints.
func (e *Endpoint) ID() string {
	if e.Namespace == "" {
		return e.Name
	}
	return e.Namespace + "/" + e.Name
}

// IsPod reports whether Kubernetes NetworkPolicy may select the endpoint
// and whether it is default-allow when unselected: true for pods and for
// workload endpoints whose orchestrator is Kubernetes.
func (e *Endpoint) IsPod() bool {
	return e.Kind == PodEndpoint || (e.Kind == WorkloadEndpoint && e.Orchestrator == OrchestratorKubernetes)
}

// HasAddr reports whether a is one of the endpoint's addresses.
func (e *Endpoint) HasAddr(a netip.Addr) bool {
	for _, ip := range e.IPs {
		if ip == a {
			return true
		}
	}
	return false
}

// OrchestratorKubernetes is the orchestrator Calico records for pods.
const OrchestratorKubernetes = "k8s"
