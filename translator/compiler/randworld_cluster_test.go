package compiler

import "github.com/flowgate/flowgate/translator/policy"

// clusterPolicy generates a cluster-scoped policy named n: a v1alpha2
// ClusterNetworkPolicy or a v1alpha1 AdminNetworkPolicy. A
// ClusterNetworkPolicy's tier follows from its name, so that regenerating
// it keeps its ID (the tier is part of the converted name), as replacing
// the object does.
func (g *randWorld) clusterPolicy(n policyName) map[string]any {
	v1alpha2 := n.kind == policy.ClusterNetworkPolicy
	actions := []string{"Allow", "Deny", "Pass"}
	spec := map[string]any{"priority": g.r.IntN(3)}
	doc := map[string]any{"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy", "metadata": map[string]any{"name": n.name}, "spec": spec}
	if v1alpha2 {
		actions[0] = "Accept"
		doc["apiVersion"], doc["kind"] = "policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy"
		spec["tier"] = "Admin"
		if last := n.name[len(n.name)-1]; (last-'0')%2 == 1 {
			spec["tier"] = "Baseline"
		}
	}
	if g.chance(50) {
		spec["subject"] = map[string]any{"namespaces": g.namespaceLabelSelectorDoc()}
	} else {
		spec["subject"] = map[string]any{"pods": map[string]any{"namespaceSelector": g.namespaceLabelSelectorDoc(), "podSelector": g.labelSelectorDoc()}}
	}
	for _, dir := range []string{"ingress", "egress"} {
		if !g.chance(60) {
			continue
		}
		var rules []any
		for i := 1 + g.r.IntN(g.cfg.maxRules); i > 0; i-- {
			var peers []any
			networks := false
			for j := 1 + g.r.IntN(2); j > 0; j-- {
				switch k := g.r.IntN(4); {
				case k == 0 && dir == "egress":
					networks = true
					peers = append(peers, map[string]any{"networks": []string{g.pick("10.0.0.0/16", "0.0.0.0/0", "fd00::/16", "10.0.0.5/32")}})
				case k <= 1:
					peers = append(peers, map[string]any{"namespaces": g.namespaceLabelSelectorDoc()})
				default:
					peers = append(peers, map[string]any{"pods": map[string]any{"namespaceSelector": g.namespaceLabelSelectorDoc(), "podSelector": g.labelSelectorDoc()}})
				}
			}
			key := map[string]string{"ingress": "from", "egress": "to"}[dir]
			r := map[string]any{"action": g.pick(actions...), key: peers, "name": g.pick("", "a-rule", "another")}
			if ports := g.clusterPorts(v1alpha2, !networks); len(ports) > 0 {
				r[map[bool]string{true: "protocols", false: "ports"}[v1alpha2]] = ports
			}
			rules = append(rules, r)
		}
		spec[dir] = rules
	}
	return doc
}

func (g *randWorld) clusterPorts(v1alpha2, named bool) []any {
	if g.chance(50) {
		return nil
	}
	var out []any
	for i := 1 + g.r.IntN(2); i > 0; i-- {
		proto := g.pick("TCP", "UDP", "SCTP")
		switch k := g.r.IntN(3); {
		case k == 0 && named:
			name := g.pick("http", "dns", "metrics")
			if v1alpha2 {
				out = append(out, map[string]any{"destinationNamedPort": name})
			} else {
				out = append(out, map[string]any{"namedPort": name})
			}
		case k == 1:
			if v1alpha2 {
				out = append(out, map[string]any{lower(proto): map[string]any{"destinationPort": map[string]any{"range": map[string]any{"start": 8000, "end": 8100}}}})
			} else {
				out = append(out, map[string]any{"portRange": map[string]any{"protocol": proto, "start": 8000, "end": 8100}})
			}
		default:
			port := g.pick("80", "443", "53")
			n := map[string]int{"80": 80, "443": 443, "53": 53}[port]
			if v1alpha2 {
				out = append(out, map[string]any{lower(proto): map[string]any{"destinationPort": map[string]any{"number": n}}})
			} else {
				out = append(out, map[string]any{"portNumber": map[string]any{"protocol": proto, "port": n}})
			}
		}
	}
	return out
}

func lower(proto string) string {
	return map[string]string{"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}[proto]
}
