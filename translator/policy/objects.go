package policy

import "net/netip"

// Namespace is a Kubernetes namespace; its labels reach selectors through
// namespaceSelector (Calico's pcns. prefix).
type Namespace struct {
	// Name is the namespace's name.
	Name string
	// Labels are the namespace's labels.
	Labels map[string]string
}

// ServiceAccount is a Kubernetes service account; its labels reach
// selectors through serviceAccounts.selector (Calico's pcsa. prefix).
type ServiceAccount struct {
	// Namespace is the service account's namespace.
	Namespace string
	// Name is the service account's name.
	Name string
	// Labels are the service account's labels.
	Labels map[string]string
}

// NetworkSet is a labelled set of networks that rule selectors can select
// like endpoints: a GlobalNetworkSet (no namespace) or a NetworkSet.
type NetworkSet struct {
	// Namespace is empty for a GlobalNetworkSet.
	Namespace string
	// Name is the set's name.
	Name string
	// Labels are the set's labels.
	Labels map[string]string
	// Nets are the set's networks.
	Nets []netip.Prefix
}

// ID names the set: "namespace/name" or "name".
func (s *NetworkSet) ID() string {
	if s.Namespace == "" {
		return s.Name
	}
	return s.Namespace + "/" + s.Name
}
