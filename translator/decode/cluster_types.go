package decode

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The policy.networking.k8s.io wire types of sigs.k8s.io/network-policy-api
// v0.3.0 (v1alpha2 ClusterNetworkPolicy; v1alpha1 AdminNetworkPolicy and
// BaselineAdminNetworkPolicy), declared here rather than imported: that
// module requires Kubernetes libraries newer than the ones flowgate builds
// with. Field names and JSON tags follow the upstream types exactly, so
// strict decoding refuses every field the API does not have.

// clusterNetworkPolicy is v1alpha2 ClusterNetworkPolicy.
type clusterNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              clusterPolicySpec `json:"spec"`
	Status            json.RawMessage   `json:"status,omitempty"`
}

type clusterPolicySpec struct {
	Tier     string              `json:"tier"`
	Priority *int32              `json:"priority"`
	Subject  clusterSubject      `json:"subject"`
	Ingress  []clusterPolicyRule `json:"ingress,omitempty"`
	Egress   []clusterPolicyRule `json:"egress,omitempty"`
}

// clusterPolicyRule is a v1alpha2 rule of either direction: From is set
// for ingress, To for egress.
type clusterPolicyRule struct {
	Name      string            `json:"name,omitempty"`
	Action    string            `json:"action"`
	From      []clusterPeer     `json:"from,omitempty"`
	To        []clusterPeer     `json:"to,omitempty"`
	Protocols []clusterProtocol `json:"protocols,omitempty"`
}

// clusterSubject is the subject of every kind: exactly one field is set.
type clusterSubject struct {
	Namespaces *metav1.LabelSelector `json:"namespaces,omitempty"`
	Pods       *namespacedPod        `json:"pods,omitempty"`
}

// clusterPeer is a peer of every kind and direction; which fields a
// direction allows is checked when converting.
type clusterPeer struct {
	Namespaces  *metav1.LabelSelector `json:"namespaces,omitempty"`
	Pods        *namespacedPod        `json:"pods,omitempty"`
	Nodes       *metav1.LabelSelector `json:"nodes,omitempty"`
	Networks    []string              `json:"networks,omitempty"`
	DomainNames []string              `json:"domainNames,omitempty"`
}

type namespacedPod struct {
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`
	PodSelector       metav1.LabelSelector `json:"podSelector"`
}

// clusterProtocol is one v1alpha2 protocols entry: exactly one field set.
type clusterProtocol struct {
	TCP                  *clusterProtocolPort `json:"tcp,omitempty"`
	UDP                  *clusterProtocolPort `json:"udp,omitempty"`
	SCTP                 *clusterProtocolPort `json:"sctp,omitempty"`
	DestinationNamedPort string               `json:"destinationNamedPort,omitempty"`
}

type clusterProtocolPort struct {
	DestinationPort *clusterPort `json:"destinationPort,omitempty"`
}

type clusterPort struct {
	Number int32             `json:"number,omitempty"`
	Range  *clusterPortRange `json:"range,omitempty"`
}

type clusterPortRange struct {
	Start int32 `json:"start"`
	End   int32 `json:"end"`
}

// adminNetworkPolicy is v1alpha1 AdminNetworkPolicy and, without a
// priority, BaselineAdminNetworkPolicy.
type adminNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              adminPolicySpec `json:"spec"`
	Status            json.RawMessage `json:"status,omitempty"`
}

type adminPolicySpec struct {
	Priority *int32            `json:"priority,omitempty"`
	Subject  clusterSubject    `json:"subject"`
	Ingress  []adminPolicyRule `json:"ingress,omitempty"`
	Egress   []adminPolicyRule `json:"egress,omitempty"`
}

type adminPolicyRule struct {
	Name   string             `json:"name,omitempty"`
	Action string             `json:"action"`
	From   []clusterPeer      `json:"from,omitempty"`
	To     []clusterPeer      `json:"to,omitempty"`
	Ports  *[]adminPolicyPort `json:"ports,omitempty"`
}

// adminPolicyPort is one v1alpha1 ports entry: exactly one field set.
type adminPolicyPort struct {
	PortNumber *adminPortNumber `json:"portNumber,omitempty"`
	NamedPort  *string          `json:"namedPort,omitempty"`
	PortRange  *adminPortRange  `json:"portRange,omitempty"`
}

type adminPortNumber struct {
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
}

type adminPortRange struct {
	Protocol string `json:"protocol,omitempty"`
	Start    int32  `json:"start"`
	End      int32  `json:"end"`
}
