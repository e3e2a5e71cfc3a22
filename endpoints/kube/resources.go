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

// ClusterPolicyGroup is the API group of SIG Network's cluster-scoped
// policy kinds (deploy/kubernetes/crds/network-policy-api).
const ClusterPolicyGroup = "policy.networking.k8s.io"

// calicoResources are the kinds served as CRDs that the agent watches when
// the API server serves them — the projectcalico.org/v3 kinds and SIG
// Network's cluster-scoped policy — in the order their informers start.
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
	clusterPolicy("v1alpha2", "clusternetworkpolicies", "ClusterNetworkPolicy"),
	clusterPolicy("v1alpha1", "adminnetworkpolicies", "AdminNetworkPolicy"),
	clusterPolicy("v1alpha1", "baselineadminnetworkpolicies", "BaselineAdminNetworkPolicy"),
}

// clusterPolicy describes a policy.networking.k8s.io kind; the decoders
// read it at the version watched.
func clusterPolicy(version, plural, kind string) resource {
	return resource{
		name:       plural + "." + ClusterPolicyGroup,
		gvr:        schema.GroupVersionResource{Group: ClusterPolicyGroup, Version: version, Resource: plural},
		apiVersion: ClusterPolicyGroup + "/" + version,
		kind:       kind,
		reason:     reasonInvalidPolicy,
	}
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
