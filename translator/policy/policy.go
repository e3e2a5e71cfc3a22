package policy

import (
	"math"
	"strconv"

	"github.com/flowgate/flowgate/translator/selector"
)

// Kind is the API a policy was written in. It decides how the policy is
// named and which endpoints it may select.
type Kind uint8

const (
	// CalicoNetworkPolicy is a namespaced projectcalico.org/v3 NetworkPolicy.
	CalicoNetworkPolicy Kind = iota + 1
	// CalicoGlobalNetworkPolicy is a projectcalico.org/v3 GlobalNetworkPolicy.
	CalicoGlobalNetworkPolicy
	// KubernetesNetworkPolicy is a networking.k8s.io/v1 NetworkPolicy.
	KubernetesNetworkPolicy
	// ClusterNetworkPolicy is a policy.networking.k8s.io/v1alpha2
	// ClusterNetworkPolicy, of the Admin or the Baseline tier.
	ClusterNetworkPolicy
	// AdminNetworkPolicy is a policy.networking.k8s.io/v1alpha1
	// AdminNetworkPolicy.
	AdminNetworkPolicy
	// BaselineAdminNetworkPolicy is a policy.networking.k8s.io/v1alpha1
	// BaselineAdminNetworkPolicy.
	BaselineAdminNetworkPolicy
)

// String returns the kind as users write it.
func (k Kind) String() string {
	switch k {
	case CalicoNetworkPolicy:
		return "NetworkPolicy"
	case CalicoGlobalNetworkPolicy:
		return "GlobalNetworkPolicy"
	case KubernetesNetworkPolicy:
		return "NetworkPolicy.networking.k8s.io"
	case ClusterNetworkPolicy:
		return "ClusterNetworkPolicy"
	case AdminNetworkPolicy:
		return "AdminNetworkPolicy"
	case BaselineAdminNetworkPolicy:
		return "BaselineAdminNetworkPolicy"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// KubernetesOrder is the order Kubernetes NetworkPolicies take among Calico
// policies of the default tier, as Calico gives them.
const KubernetesOrder = 1000

// KubernetesPrefix is prepended to a Kubernetes NetworkPolicy's name, as
// Calico does, so it never collides with a Calico policy of the same name.
const KubernetesPrefix = "knp.default."

// Prefixes of the cluster-scoped kinds' policy names, one per kind (and,
// for ClusterNetworkPolicy, per tier), so that no two kinds collide.
const (
	// ClusterAdminPrefix names ClusterNetworkPolicies of the Admin tier.
	ClusterAdminPrefix = "kcnp.kube-admin."
	// ClusterBaselinePrefix names ClusterNetworkPolicies of the Baseline tier.
	ClusterBaselinePrefix = "kcnp.kube-baseline."
	// AdminPrefix names AdminNetworkPolicies.
	AdminPrefix = "kanp.adminnetworkpolicy."
	// BaselineAdminPrefix names the BaselineAdminNetworkPolicy.
	BaselineAdminPrefix = "kbanp.baselineadminnetworkpolicy."
)

// Policy is one policy in normalised Calico form.
type Policy struct {
	// Kind is the API the policy came from.
	Kind Kind
	// Namespace is empty for global policies.
	Namespace string
	// Name is the policy's name; Kubernetes policies carry KubernetesPrefix.
	Name string
	// Tier is the tier the policy belongs to ("default" unless set).
	Tier string
	// Order ranks the policy in its tier, lower first; +Inf when absent.
	Order float64
	// AppliesTo selects the endpoints the policy applies to, with
	// namespace, service-account and pods-only scoping folded in.
	AppliesTo selector.Selector
	// Types are the directions the policy applies in.
	Types Direction
	// Ingress rules, in order.
	Ingress []Rule
	// Egress rules, in order.
	Egress []Rule
	// LogDenied asks for the connections this policy denies to be logged
	// (the annotation LogDeniedAnnotation; Antrea's enableLogging): those
	// its Deny rules refuse, and those the end of its tier refuses for an
	// endpoint it selects.
	LogDenied bool
}

// LogDeniedAnnotation, set to "true" on a policy object of any kind, turns
// on LogDenied for it. Off by default.
const LogDeniedAnnotation = "flowgate.io/log-denied"

// ID names the policy uniquely: "namespace/name" or "name".
func (p *Policy) ID() string {
	if p.Namespace == "" {
		return p.Name
	}
	return p.Namespace + "/" + p.Name
}

// Rules returns the rules for one direction.
func (p *Policy) Rules(d Direction) []Rule {
	if d == Egress {
		return p.Egress
	}
	return p.Ingress
}

// CrossProductRules reports whether the policy's rules that share an Index
// are the full cross product (peers × ports) of one rule the user wrote, so
// that their union per dimension is exact and the compiler may match them
// with one conjunction: true of Kubernetes NetworkPolicy, whose rules with
// several peers and ports the decoder expands; Calico rules never share an
// index. A new policy kind answers here, not in the compiler.
func (p *Policy) CrossProductRules() bool { return p.Kind == KubernetesNetworkPolicy }

// HasOrder reports whether the user set an order.
func (p *Policy) HasOrder() bool { return !math.IsInf(p.Order, 1) }

// Before reports whether p is evaluated before q within a tier: lower
// order first (absent last), ties broken by ID.
func (p *Policy) Before(q *Policy) bool {
	if p.Order != q.Order {
		return p.Order < q.Order
	}
	return p.ID() < q.ID()
}

// NoOrder is the order of a policy or tier that has none: it sorts last.
var NoOrder = math.Inf(1)
