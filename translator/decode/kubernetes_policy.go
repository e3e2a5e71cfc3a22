package decode

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// kubernetesNetworkPolicy is networking.k8s.io/v1 NetworkPolicy as every
// Kubernetes version still run serves it: 1.24–1.27 had a status (with
// conditions, for the alpha NetworkPolicyStatus feature) that
// `kubectl get -o yaml` prints as `status: {}`; later k8s.io/api versions
// dropped the field, so it is declared here and ignored.
type kubernetesNetworkPolicy struct {
	networkingv1.NetworkPolicy `json:",inline"`
	Status                     *struct {
		Conditions []metav1.Condition `json:"conditions,omitempty"`
	} `json:"status,omitempty"`
}

// decodeKubernetesNetworkPolicy validates a networking.k8s.io/v1
// NetworkPolicy and converts it as Calico does: a policy of order 1000 in
// the default tier named knp.default.<name>, whose pod selectors select
// only Kubernetes pods, with one Allow rule per peer and protocol.
func decodeKubernetesNetworkPolicy(js []byte, ns string) (any, bool, problems) {
	var in kubernetesNetworkPolicy
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	p, probs := kubernetesPolicy(&in.NetworkPolicy, ns)
	return p, false, probs
}

// kubernetesPolicy validates and converts a strictly decoded Kubernetes
// NetworkPolicy; StagedKubernetesNetworkPolicy shares it.
func kubernetesPolicy(in *networkingv1.NetworkPolicy, ns string) (*policy.Policy, problems) {
	var probs problems
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	pods := selector.Equal(policy.LabelOrchestrator, policy.OrchestratorKubernetes)
	podSel := labelSelector(&probs, "spec.podSelector", &in.Spec.PodSelector)
	p := &policy.Policy{
		Kind:      policy.KubernetesNetworkPolicy,
		Namespace: ns,
		Name:      policy.KubernetesPrefix + in.Name,
		Tier:      policy.DefaultTier,
		Order:     policy.KubernetesOrder,
		AppliesTo: selector.And(selector.And(selector.Equal(policy.LabelNamespace, ns), pods), podSel),
		LogDenied: logDenied(&probs, in.Annotations),
	}
	if len(in.Spec.PolicyTypes) == 0 {
		p.Types = policy.Ingress
		if len(in.Spec.Egress) > 0 {
			p.Types |= policy.Egress
		}
	}
	for i, t := range in.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.Types |= policy.Ingress
		case networkingv1.PolicyTypeEgress:
			p.Types |= policy.Egress
		default:
			probs.add(fmt.Sprintf("spec.policyTypes[%d]", i), "unknown policy type %q (want Ingress or Egress)", t)
		}
	}
	// Kubernetes accepts rules for a direction policyTypes leaves out and
	// ignores them (so does the compiler, by Types); say so.
	if len(in.Spec.PolicyTypes) > 0 && len(in.Spec.Ingress) > 0 && p.Types&policy.Ingress == 0 {
		probs.warn("spec.policyTypes", "ingress rules are given but policyTypes does not include Ingress: they are ignored, as Kubernetes ignores them")
	}
	if len(in.Spec.PolicyTypes) > 0 && len(in.Spec.Egress) > 0 && p.Types&policy.Egress == 0 {
		probs.warn("spec.policyTypes", "egress rules are given but policyTypes does not include Egress: they are ignored, as Kubernetes ignores them")
	}
	for i, r := range in.Spec.Ingress {
		field := fmt.Sprintf("spec.ingress[%d]", i)
		peers := kubernetesPeers(&probs, field+".from", r.From, ns)
		for _, svc := range kubernetesPorts(&probs, field+".ports", r.Ports) {
			for _, peer := range peers {
				rule := svc
				rule.Index = i
				rule.Source = peer
				p.Ingress = append(p.Ingress, rule)
			}
		}
	}
	for i, r := range in.Spec.Egress {
		field := fmt.Sprintf("spec.egress[%d]", i)
		peers := kubernetesPeers(&probs, field+".to", r.To, ns)
		for _, svc := range kubernetesPorts(&probs, field+".ports", r.Ports) {
			for _, peer := range peers {
				rule := svc
				rule.Index = i
				ports := rule.Destination.Ports
				rule.Destination = peer
				rule.Destination.Ports = ports
				p.Egress = append(p.Egress, rule)
			}
		}
	}
	return p, probs
}

// kubernetesPeers converts a from/to list: selectors inside one item are
// ANDed, items are ORed (one peer each), and no items means any address.
func kubernetesPeers(probs *problems, field string, in []networkingv1.NetworkPolicyPeer, ns string) []policy.Peer {
	if len(in) == 0 {
		return []policy.Peer{{}}
	}
	pods := selector.Equal(policy.LabelOrchestrator, policy.OrchestratorKubernetes)
	var out []policy.Peer
	for i, peer := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		if peer.IPBlock != nil {
			if peer.PodSelector != nil || peer.NamespaceSelector != nil {
				probs.add(f, "ipBlock cannot be combined with podSelector or namespaceSelector in one peer")
				continue
			}
			if p, ok := ipBlock(probs, f+".ipBlock", peer.IPBlock); ok {
				out = append(out, p)
			}
			continue
		}
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			probs.add(f, "a peer needs podSelector, namespaceSelector or ipBlock")
			continue
		}
		sel := pods
		if peer.PodSelector != nil {
			sel = selector.And(sel, labelSelector(probs, f+".podSelector", peer.PodSelector))
		}
		if peer.NamespaceSelector != nil {
			sel = selector.And(sel, namespaceScope(labelSelector(probs, f+".namespaceSelector", peer.NamespaceSelector)))
		} else {
			sel = selector.And(selector.Equal(policy.LabelNamespace, ns), sel)
		}
		out = append(out, policy.Peer{Selector: &sel})
	}
	return out
}

func ipBlock(probs *problems, field string, in *networkingv1.IPBlock) (policy.Peer, bool) {
	cidr, err := parseStrictCIDR(in.CIDR)
	if err != nil {
		probs.addErr(field+".cidr", err)
		return policy.Peer{}, false
	}
	p := policy.Peer{Nets: []netip.Prefix{cidr}}
	for i, e := range in.Except {
		f := fmt.Sprintf("%s.except[%d]", field, i)
		ex, err := parseStrictCIDR(e)
		if err != nil {
			probs.addErr(f, err)
			continue
		}
		if ex.Addr().Is4() != cidr.Addr().Is4() || ex.Bits() <= cidr.Bits() || !cidr.Contains(ex.Addr()) {
			probs.add(f, "%s must be strictly inside cidr %s", e, in.CIDR)
			continue
		}
		p.NotNets = append(p.NotNets, ex)
	}
	return p, true
}

func parseStrictCIDR(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("required")
	}
	p, err := parseCIDROrIP(s)
	if err != nil {
		return p, err
	}
	if !strings.Contains(s, "/") {
		return p, fmt.Errorf("invalid CIDR %q: a prefix length is required", s)
	}
	return p, nil
}

// kubernetesPorts converts a ports list into rule templates, one per
// protocol, each carrying that protocol's ports (none means all ports of
// the protocol). No ports at all means every protocol and port.
func kubernetesPorts(probs *problems, field string, in []networkingv1.NetworkPolicyPort) []policy.Rule {
	if len(in) == 0 {
		return []policy.Rule{{Action: policy.Allow}}
	}
	var order []policy.Protocol
	byProto := map[policy.Protocol][]policy.PortMatch{}
	allPorts := map[policy.Protocol]bool{}
	for i, pp := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		proto := policy.TCP
		if pp.Protocol != nil {
			switch *pp.Protocol {
			case corev1.ProtocolTCP:
			case corev1.ProtocolUDP:
				proto = policy.UDP
			case corev1.ProtocolSCTP:
				proto = policy.SCTP
			default:
				probs.add(f+".protocol", "unknown protocol %q (want TCP, UDP or SCTP)", *pp.Protocol)
				continue
			}
		}
		if _, seen := byProto[proto]; !seen && !allPorts[proto] {
			order = append(order, proto)
		}
		m, ok := kubernetesPort(probs, f, pp)
		if !ok {
			continue
		}
		if m == nil {
			allPorts[proto] = true
			continue
		}
		byProto[proto] = append(byProto[proto], *m)
	}
	var out []policy.Rule
	for _, proto := range order {
		r := policy.Rule{Action: policy.Allow, Protocol: proto}
		if !allPorts[proto] {
			r.Destination.Ports = byProto[proto]
		}
		out = append(out, r)
	}
	return out
}

// kubernetesPort validates one port entry; nil means "all ports".
func kubernetesPort(probs *problems, f string, pp networkingv1.NetworkPolicyPort) (*policy.PortMatch, bool) {
	if pp.Port == nil {
		if pp.EndPort != nil {
			probs.add(f+".endPort", "endPort needs port")
			return nil, false
		}
		return nil, true
	}
	if pp.Port.Type == intstr.String {
		if pp.EndPort != nil {
			probs.add(f+".endPort", "endPort cannot be used with a named port")
			return nil, false
		}
		if err := policy.ValidPortName(pp.Port.StrVal); err != nil {
			probs.addErr(f+".port", err)
			return nil, false
		}
		return &policy.PortMatch{Name: pp.Port.StrVal}, true
	}
	lo, err := policy.PortNumber(int(pp.Port.IntVal))
	if err != nil {
		probs.addErr(f+".port", err)
		return nil, false
	}
	hi := lo
	if pp.EndPort != nil {
		if hi, err = policy.PortNumber(int(*pp.EndPort)); err != nil {
			probs.addErr(f+".endPort", err)
			return nil, false
		}
		if hi < lo {
			probs.add(f+".endPort", "endPort %d is below port %d", hi, lo)
			return nil, false
		}
	}
	return &policy.PortMatch{Min: lo, Max: hi}, true
}

// labelSelector converts a Kubernetes label selector, reporting problems
// under field.
func labelSelector(probs *problems, field string, in *metav1.LabelSelector) selector.Selector {
	if in == nil {
		return selector.All()
	}
	reqs := make([]selector.Requirement, len(in.MatchExpressions))
	for i, e := range in.MatchExpressions {
		reqs[i] = selector.Requirement{Key: e.Key, Operator: string(e.Operator), Values: e.Values}
	}
	sel, err := selector.FromKubernetes(in.MatchLabels, reqs)
	if err != nil {
		probs.addErr(field, err)
		return selector.All()
	}
	return sel
}
