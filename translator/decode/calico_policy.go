package decode

import (
	"fmt"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

func decodeCalicoNetworkPolicy(js []byte, ns string) (any, bool, problems) {
	return decodeCalicoPolicy(js, ns, policy.CalicoNetworkPolicy)
}

func decodeCalicoGlobalNetworkPolicy(js []byte, _ string) (any, bool, problems) {
	return decodeCalicoPolicy(js, "", policy.CalicoGlobalNetworkPolicy)
}

func decodeCalicoPolicy(js []byte, ns string, kind policy.Kind) (any, bool, problems) {
	var in calicoNetworkPolicy
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	p, probs := calicoPolicy(&in, ns, kind)
	return p, false, probs
}

// calicoPolicy validates and converts a strictly decoded Calico policy; the
// staged kinds share it (decodeStagedCalicoPolicy).
func calicoPolicy(in *calicoNetworkPolicy, ns string, kind policy.Kind) (*policy.Policy, problems) {
	var probs problems
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	spec := in.Spec
	p := &policy.Policy{Kind: kind, Namespace: ns, Name: in.Name, Tier: policy.DefaultTier, Order: policy.NoOrder}
	p.LogDenied = logDenied(&probs, in.Annotations)
	if spec.Tier != "" {
		checkName(&probs, "spec.tier", spec.Tier)
		p.Tier = spec.Tier
	}
	if spec.Order != nil {
		p.Order = *spec.Order
	}
	applies := parseSelector(&probs, "spec.selector", spec.Selector)
	if ns != "" {
		applies = selector.And(selector.Equal(policy.LabelNamespace, ns), applies)
	}
	if spec.ServiceAccountSelector != "" {
		sa := parseSelector(&probs, "spec.serviceAccountSelector", spec.ServiceAccountSelector)
		applies = selector.And(applies, sa.PrefixKeys(policy.ServiceAccountPrefix))
	}
	if spec.NamespaceSelector != nil {
		if kind != policy.CalicoGlobalNetworkPolicy {
			probs.add("spec.namespaceSelector", "only a GlobalNetworkPolicy takes a namespaceSelector")
		} else if *spec.NamespaceSelector != "" {
			nsSel := parseSelector(&probs, "spec.namespaceSelector", *spec.NamespaceSelector)
			applies = selector.And(applies, namespaceScope(nsSel))
		}
	}
	if kind != policy.CalicoGlobalNetworkPolicy {
		globalOnly := []struct {
			field string
			set   bool
		}{{"spec.doNotTrack", spec.DoNotTrack != nil}, {"spec.preDNAT", spec.PreDNAT != nil}, {"spec.applyOnForward", spec.ApplyOnForward != nil}}
		for _, g := range globalOnly {
			if g.set {
				probs.add(g.field, "only a GlobalNetworkPolicy takes this field")
			}
		}
	}
	if spec.DoNotTrack != nil && *spec.DoNotTrack {
		probs.add("spec.doNotTrack", "untracked policy is not supported: flowgate enforces policy statefully")
	}
	if spec.PreDNAT != nil && *spec.PreDNAT {
		probs.add("spec.preDNAT", "pre-DNAT policy is not supported")
	}
	for i, h := range spec.PerformanceHints {
		if h != "AssumeNeededOnEveryNode" {
			probs.add(fmt.Sprintf("spec.performanceHints[%d]", i), "unknown hint %q (want AssumeNeededOnEveryNode)", h)
		}
	}
	p.AppliesTo = applies
	p.Types = policyTypes(&probs, spec.Types, len(spec.Ingress) > 0, len(spec.Egress) > 0)
	for i := range spec.Ingress {
		if r, ok := decodeRule(&probs, fmt.Sprintf("spec.ingress[%d]", i), &spec.Ingress[i], ns, i); ok {
			p.Ingress = append(p.Ingress, r)
		}
	}
	for i := range spec.Egress {
		if r, ok := decodeRule(&probs, fmt.Sprintf("spec.egress[%d]", i), &spec.Egress[i], ns, i); ok {
			p.Egress = append(p.Egress, r)
		}
	}
	// Rules of a direction the policy does not apply in are checked (Calico
	// validates them too) but never enforced.
	if p.Types&policy.Ingress == 0 {
		p.Ingress = nil
	}
	if p.Types&policy.Egress == 0 {
		p.Egress = nil
	}
	return p, probs
}

// policyTypes applies Calico's defaulting table: with no types given, a
// policy applies in each direction it has rules for, and to ingress when
// it has none at all.
func policyTypes(probs *problems, types []string, hasIngress, hasEgress bool) policy.Direction {
	if len(types) == 0 {
		var d policy.Direction
		if hasIngress || !hasEgress {
			d |= policy.Ingress
		}
		if hasEgress {
			d |= policy.Egress
		}
		return d
	}
	var d policy.Direction
	for i, t := range types {
		field := fmt.Sprintf("spec.types[%d]", i)
		var v policy.Direction
		switch t {
		case "Ingress":
			v = policy.Ingress
		case "Egress":
			v = policy.Egress
		default:
			probs.add(field, "unknown type %q (want Ingress or Egress)", t)
			continue
		}
		if d&v != 0 {
			probs.add(field, "%s listed twice", t)
		}
		d |= v
	}
	// Calico accepts rules for a direction types leaves out and ignores
	// them; so does flowgate, but says so.
	if hasIngress && d&policy.Ingress == 0 {
		probs.warn("spec.types", "ingress rules are given but types does not include Ingress: they are ignored, as Calico ignores them")
	}
	if hasEgress && d&policy.Egress == 0 {
		probs.warn("spec.types", "egress rules are given but types does not include Egress: they are ignored, as Calico ignores them")
	}
	return d
}

// namespaceScope turns a namespaceSelector into a selector over entities,
// as Calico does: namespace labels are seen under pcns., and all() means
// "any namespaced entity" rather than everything.
func namespaceScope(nsSel selector.Selector) selector.Selector {
	return nsSel.PrefixKeys(policy.NamespacePrefix).ReplaceAll(selector.Has(policy.LabelNamespace))
}

func parseSelector(probs *problems, field, s string) selector.Selector {
	sel, err := selector.Parse(s)
	if err != nil {
		probs.addErr(field, err)
		return selector.All()
	}
	return sel
}
