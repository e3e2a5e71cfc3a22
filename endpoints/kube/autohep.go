package kube

import (
	"encoding/json"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/flowgate/flowgate/translator/policy"
)

// Automatic host endpoints, as Calico's kube-controllers makes them when
// its node controller has hostEndpoint.autoCreate: Enabled: one wildcard
// HostEndpoint per Node, so that a GlobalNetworkPolicy selecting nodes by
// their labels protects the nodes themselves. flowgate does not write
// them to the API server (the agent only reads); every agent derives the
// same objects from the Nodes it watches, and they are decoded by the same
// HostEndpoint decoder as a kubectl-applied one.
const (
	// AutoHostEndpointSuffix makes a node's automatic host endpoint name:
	// "<node>-auto-hep", Calico's name for it.
	AutoHostEndpointSuffix = "-auto-hep"
	// AutoHostEndpointInterface is the automatic host endpoint's
	// interfaceName: every interface of the host (on br-int: see
	// ovsbind.Bind for which port that is).
	AutoHostEndpointInterface = "*"
	// CreatedByLabel and CreatedByValue mark an automatic host endpoint the
	// way Calico's kube-controllers marks its own, so selectors written for
	// Calico's automatic host endpoints select these too.
	CreatedByLabel = "projectcalico.org/created-by"
	CreatedByValue = "calico-kube-controllers"
)

// autoHostEndpoint is the HostEndpoint document for a node: named
// "<node>-auto-hep", the node's labels plus CreatedByLabel, interfaceName
// "*", expectedIPs the node's InternalIP addresses (what Calico takes from
// the node; flowgate has no tunnel addresses to add), and the profile
// projectcalico-default-allow, so that a node no policy selects keeps all
// its traffic and only policies that select it restrict it.
func autoHostEndpoint(n *corev1.Node) ([]byte, error) {
	labels := make(map[string]string, len(n.Labels)+1)
	for k, v := range n.Labels {
		labels[k] = v
	}
	labels[CreatedByLabel] = CreatedByValue
	ips := []string{}
	seen := map[netip.Addr]bool{}
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil || seen[ip.Unmap()] {
			continue // not an address policy could match; the rest still count
		}
		seen[ip.Unmap()] = true
		ips = append(ips, ip.Unmap().String())
	}
	doc := map[string]any{
		"apiVersion": CalicoGroupVersion,
		"kind":       "HostEndpoint",
		"metadata":   map[string]any{"name": n.Name + AutoHostEndpointSuffix, "labels": labels},
		"spec": map[string]any{
			"node":          n.Name,
			"interfaceName": AutoHostEndpointInterface,
			"expectedIPs":   ips,
			"profiles":      []string{policy.DefaultAllowProfile},
		},
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("automatic host endpoint of node %s: %w", n.Name, err)
	}
	return js, nil
}
