package decode

import (
	"reflect"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flowgate/flowgate/translator/policy"
)

// The projectcalico.org/v3 staged kinds: the spec of the policy they stage
// plus stagedAction. Calico validates a Set exactly as the policy it would
// become, and requires a Delete to carry nothing but its name (and, for
// the Calico kinds, the tier).

type calicoStagedPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              calicoStagedPolicySpec `json:"spec"`
}

type calicoStagedPolicySpec struct {
	StagedAction     string `json:"stagedAction,omitempty"`
	calicoPolicySpec `json:",inline"`
}

type kubernetesStagedPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              kubernetesStagedPolicySpec `json:"spec"`
}

type kubernetesStagedPolicySpec struct {
	StagedAction                   string `json:"stagedAction,omitempty"`
	networkingv1.NetworkPolicySpec `json:",inline"`
}

func decodeStagedNetworkPolicy(js []byte, ns string) (any, bool, problems) {
	return decodeStagedCalicoPolicy(js, ns, policy.CalicoNetworkPolicy)
}

func decodeStagedGlobalNetworkPolicy(js []byte, _ string) (any, bool, problems) {
	return decodeStagedCalicoPolicy(js, "", policy.CalicoGlobalNetworkPolicy)
}

func decodeStagedCalicoPolicy(js []byte, ns string, kind policy.Kind) (any, bool, problems) {
	var in calicoStagedPolicy
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	action, ok := stagedAction(&probs, in.Spec.StagedAction)
	if !ok {
		return nil, false, probs
	}
	enforced := calicoNetworkPolicy{TypeMeta: in.TypeMeta, ObjectMeta: in.ObjectMeta, Spec: in.Spec.calicoPolicySpec}
	if action == policy.StagedDelete {
		if !reflect.DeepEqual(in.Spec.calicoPolicySpec, calicoPolicySpec{Tier: in.Spec.Tier}) {
			probs.add("spec", "with stagedAction Delete every spec field but tier must be empty")
		}
		enforced.Spec = calicoPolicySpec{Tier: in.Spec.Tier}
	}
	p, more := calicoPolicy(&enforced, ns, kind)
	probs = append(probs, more...)
	return &policy.StagedPolicy{Action: action, Policy: p}, false, probs
}

func decodeStagedKubernetesNetworkPolicy(js []byte, ns string) (any, bool, problems) {
	var in kubernetesStagedPolicy
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	action, ok := stagedAction(&probs, in.Spec.StagedAction)
	if !ok {
		return nil, false, probs
	}
	if action == policy.StagedDelete && !reflect.DeepEqual(in.Spec.NetworkPolicySpec, networkingv1.NetworkPolicySpec{}) {
		probs.add("spec", "with stagedAction Delete every spec field must be empty")
	}
	enforced := networkingv1.NetworkPolicy{TypeMeta: in.TypeMeta, ObjectMeta: in.ObjectMeta, Spec: in.Spec.NetworkPolicySpec}
	p, more := kubernetesPolicy(&enforced, ns)
	probs = append(probs, more...)
	return &policy.StagedPolicy{Action: action, Policy: p}, false, probs
}

// stagedAction reads spec.stagedAction; omitted means Set, as in Calico.
func stagedAction(probs *problems, s string) (policy.StagedAction, bool) {
	switch s {
	case "", "Set":
		return policy.StagedSet, true
	case "Delete":
		return policy.StagedDelete, true
	}
	probs.add("spec.stagedAction", "unknown staged action %q (want Set or Delete)", s)
	return 0, false
}
