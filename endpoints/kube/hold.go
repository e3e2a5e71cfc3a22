package kube

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/flowgate/flowgate/endpoints/ovsbind"
)

// IsPodPort is the Kubernetes mode's hold rule: the port's iface-id names
// a pod.
func IsPodPort(p ovsbind.Port) bool { return IsPodIfaceID(p.IfaceID) }

// IsPodIfaceID reports whether an iface-id names a pod: "namespace/name"
// with a valid namespace and pod name.
func IsPodIfaceID(id string) bool {
	ns, name, ok := strings.Cut(id, "/")
	return ok && len(validation.IsDNS1123Label(ns)) == 0 && len(validation.IsDNS1123Subdomain(name)) == 0
}
