package kube

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/flowgate/flowgate/endpoints/ovsbind"
	"github.com/flowgate/flowgate/translator/compiler"
)

// CategoryHold is the cookie category of hold flows (ovsbind.CategoryHold).
const CategoryHold = ovsbind.CategoryHold

// HoldFlows returns the flows that hold the traffic of pod ports the agent
// has not realized (ovsbind.HoldFlows): ports whose external_ids:iface-id
// names a pod ("namespace/name", as flowgate-cni and the OVS integration
// convention set it) but that are bound to no local endpoint — the pod is
// unknown yet, or on another node, or has no MAC.
func HoldFlows(ports []ovsbind.Port, locals map[string]compiler.Binding, generation uint8) []compiler.Flow {
	return ovsbind.HoldFlows(ports, locals, generation, IsPodPort)
}

// IsPodPort is the Kubernetes mode's hold rule: the port's iface-id names
// a pod.
func IsPodPort(p ovsbind.Port) bool { return IsPodIfaceID(p.IfaceID) }

// IsPodIfaceID reports whether an iface-id names a pod: "namespace/name"
// with a valid namespace and pod name.
func IsPodIfaceID(id string) bool {
	ns, name, ok := strings.Cut(id, "/")
	return ok && len(validation.IsDNS1123Label(ns)) == 0 && len(validation.IsDNS1123Subdomain(name)) == 0
}
