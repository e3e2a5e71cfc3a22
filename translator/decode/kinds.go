package decode

import (
	"sort"
	"strings"
)

// kindDecoder decodes and validates one kind of object. skip is true for
// valid objects that carry nothing policy needs (a host-network pod).
type kindDecoder struct {
	kind       string
	namespaced bool
	decode     func(js []byte, namespace string) (value any, skip bool, probs problems)
}

// decoders maps "apiVersion kind" to the decoder for it.
var decoders = map[string]kindDecoder{
	"projectcalico.org/v3 NetworkPolicy":                           {"NetworkPolicy", true, decodeCalicoNetworkPolicy},
	"projectcalico.org/v3 GlobalNetworkPolicy":                     {"GlobalNetworkPolicy", false, decodeCalicoGlobalNetworkPolicy},
	"projectcalico.org/v3 Tier":                                    {"Tier", false, decodeTier},
	"projectcalico.org/v3 GlobalNetworkSet":                        {"GlobalNetworkSet", false, decodeNetworkSet},
	"projectcalico.org/v3 NetworkSet":                              {"NetworkSet", true, decodeNetworkSet},
	"projectcalico.org/v3 HostEndpoint":                            {"HostEndpoint", false, decodeHostEndpoint},
	"projectcalico.org/v3 WorkloadEndpoint":                        {"WorkloadEndpoint", true, decodeWorkloadEndpoint},
	"networking.k8s.io/v1 NetworkPolicy":                           {"NetworkPolicy.networking.k8s.io", true, decodeKubernetesNetworkPolicy},
	"policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy":       {"ClusterNetworkPolicy", false, decodeClusterNetworkPolicy},
	"policy.networking.k8s.io/v1beta1 ClusterNetworkPolicy":        {"ClusterNetworkPolicy", false, decodeClusterNetworkPolicy},
	"policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy":         {"AdminNetworkPolicy", false, decodeAdminNetworkPolicy},
	"policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy": {"BaselineAdminNetworkPolicy", false, decodeBaselineAdminNetworkPolicy},
	// Staged policies are decoded and validated, never enforced.
	"projectcalico.org/v3 StagedNetworkPolicy":           {"StagedNetworkPolicy", true, decodeStagedNetworkPolicy},
	"projectcalico.org/v3 StagedGlobalNetworkPolicy":     {"StagedGlobalNetworkPolicy", false, decodeStagedGlobalNetworkPolicy},
	"projectcalico.org/v3 StagedKubernetesNetworkPolicy": {"StagedKubernetesNetworkPolicy", true, decodeStagedKubernetesNetworkPolicy},
	"v1 Namespace":      {"Namespace", false, decodeNamespace},
	"v1 Pod":            {"Pod", true, decodePod},
	"v1 ServiceAccount": {"ServiceAccount", true, decodeServiceAccount},
}

func supportedKinds() string {
	var ks []string
	for k := range decoders {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
