package kube

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CalicoGroupVersion is the API group and version of the Calico-style kinds
// flowgate serves as CRDs (deploy/kubernetes/crds).
const CalicoGroupVersion = "projectcalico.org/v3"

// resource is one kind the source watches.
type resource struct {
	// name keys the store and logs: the plural, qualified by group for
	// anything outside the core group ("globalnetworkpolicies.projectcalico.org").
	name       string
	gvr        schema.GroupVersionResource
	apiVersion string
	kind       string
	// reason is the Event reason when an object of this kind is invalid.
	reason string
}

const (
	reasonInvalidPolicy = "InvalidPolicy"
	reasonInvalidObject = "InvalidObject"
)

var (
	resPods = resource{name: "pods", gvr: schema.GroupVersionResource{Version: "v1", Resource: "pods"},
		apiVersion: "v1", kind: "Pod", reason: reasonInvalidObject}
	resNamespaces = resource{name: "namespaces", gvr: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"},
		apiVersion: "v1", kind: "Namespace", reason: reasonInvalidObject}
	resServiceAccounts = resource{name: "serviceaccounts", gvr: schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"},
		apiVersion: "v1", kind: "ServiceAccount", reason: reasonInvalidObject}
	// resNodes keys the automatic host endpoints derived from Nodes
	// (Config.AutoHostEndpoints); problems are reported on the Node.
	resNodes = resource{name: "nodes", gvr: schema.GroupVersionResource{Version: "v1", Resource: "nodes"},
		apiVersion: "v1", kind: "Node", reason: reasonInvalidObject}
	resKubePolicies = resource{name: "networkpolicies.networking.k8s.io",
		gvr:        schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
		apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", reason: reasonInvalidPolicy}
)

// calicoResources are the projectcalico.org/v3 kinds, in the order their
// informers start.
var calicoResources = []resource{
	calico("tiers", "Tier", reasonInvalidPolicy),
	calico("globalnetworkpolicies", "GlobalNetworkPolicy", reasonInvalidPolicy),
	calico("networkpolicies", "NetworkPolicy", reasonInvalidPolicy),
	calico("globalnetworksets", "GlobalNetworkSet", reasonInvalidObject),
	calico("networksets", "NetworkSet", reasonInvalidObject),
	calico("hostendpoints", "HostEndpoint", reasonInvalidObject),
	// Staged policies are watched to be validated (an invalid one gets an
	// Event) and to be read back by `flowgate diff --agent`; decode.Build
	// keeps them in World.Staged, which nothing enforces.
	calico("stagednetworkpolicies", "StagedNetworkPolicy", reasonInvalidPolicy),
	calico("stagedglobalnetworkpolicies", "StagedGlobalNetworkPolicy", reasonInvalidPolicy),
	calico("stagedkubernetesnetworkpolicies", "StagedKubernetesNetworkPolicy", reasonInvalidPolicy),
}

// hostEndpointsName is the store name of the HostEndpoint kind.
const hostEndpointsName = "hostendpoints.projectcalico.org"

func calico(plural, kind, reason string) resource {
	return resource{
		name:       plural + ".projectcalico.org",
		gvr:        schema.GroupVersionResource{Group: "projectcalico.org", Version: "v3", Resource: plural},
		apiVersion: CalicoGroupVersion,
		kind:       kind,
		reason:     reason,
	}
}
