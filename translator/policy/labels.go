package policy

import (
	"unique"

	"github.com/flowgate/flowgate/translator/selector"
)

// Labels Calico derives on every entity, and the prefixes under which
// namespace and service-account labels become visible to selectors.
const (
	// LabelNamespace holds a namespaced entity's namespace.
	LabelNamespace = selector.NamespaceLabel
	// LabelOrchestrator holds "k8s" for pods, e.g. "openstack" for VMs.
	LabelOrchestrator = "projectcalico.org/orchestrator"
	// LabelServiceAccount holds a pod's service account name.
	LabelServiceAccount = "projectcalico.org/serviceaccount"
	// LabelName holds the name of a namespace or service account, under
	// the matching prefix.
	LabelName = "projectcalico.org/name"
	// NamespacePrefix puts namespace labels beside an entity's own.
	NamespacePrefix = "pcns."
	// ServiceAccountPrefix puts service-account labels beside an entity's own.
	ServiceAccountPrefix = "pcsa."
)

// EndpointLabels returns every label a selector can see on e: its own, the
// derived projectcalico.org ones, and its namespace's and service account's
// under their prefixes. Derived labels win over the endpoint's own, as in
// Calico, so a pod cannot claim another namespace.
func (w *World) EndpointLabels(e *Endpoint) selector.Set {
	// The map is sized exactly: the compiler keeps one per endpoint, and
	// a hint of 8 spare entries doubled its size (31 of the agent's 187
	// MB live heap at 50,000 pods).
	var sa *ServiceAccount
	n := len(e.Labels) + 3
	if e.Namespace != "" {
		if ns := w.Namespaces[e.Namespace]; ns != nil {
			n += len(ns.Labels) + 1
		}
	}
	if e.ServiceAccount != "" {
		sa = w.ServiceAccounts[e.Namespace+"/"+e.ServiceAccount]
		n++
		if sa != nil {
			n += len(sa.Labels)
		}
	}
	l := make(selector.Set, n)
	if e.Namespace != "" {
		w.addNamespaceLabels(l, e.Namespace)
	}
	if e.ServiceAccount != "" {
		if sa != nil {
			for k, v := range sa.Labels {
				l[ServiceAccountPrefix+k] = v
			}
		}
		l[ServiceAccountPrefix+LabelName] = e.ServiceAccount
	}
	for k, v := range e.Labels {
		l[k] = v
	}
	if e.Namespace != "" {
		l[LabelNamespace] = e.Namespace
	}
	if e.Orchestrator != "" {
		l[LabelOrchestrator] = e.Orchestrator
	}
	if e.ServiceAccount != "" {
		l[LabelServiceAccount] = e.ServiceAccount
	}
	return l
}

// NetworkSetLabels returns every label a selector can see on s: its own,
// and for a namespaced set its namespace and the namespace's labels.
func (w *World) NetworkSetLabels(s *NetworkSet) selector.Set {
	l := make(selector.Set, len(s.Labels)+4)
	if s.Namespace != "" {
		w.addNamespaceLabels(l, s.Namespace)
	}
	for k, v := range s.Labels {
		l[k] = v
	}
	if s.Namespace != "" {
		l[LabelNamespace] = s.Namespace
	}
	return l
}

func (w *World) addNamespaceLabels(l selector.Set, name string) {
	ns := w.Namespaces[name]
	if ns == nil {
		return
	}
	for k, v := range ns.Labels {
		// One string per distinct key, not one per endpoint: every
		// endpoint of a namespace carries its labels.
		l[unique.Make(NamespacePrefix+k).Value()] = v
	}
	l[NamespacePrefix+LabelName] = name
}
