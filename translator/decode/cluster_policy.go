package decode

import (
	"fmt"
	"net/netip"
	"regexp"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// clusterLimits are the list limits of one API version's schema.
type clusterLimits struct {
	rules, peers, ports int
}

var (
	v1alpha2Limits = clusterLimits{rules: 25, peers: 25, ports: 25}
	v1alpha1Limits = clusterLimits{rules: 100, peers: 100, ports: 100}
)

// Limits shared by both versions.
const (
	maxRuleName    = 100
	maxNetworks    = 25
	maxDomainNames = 25
	maxCIDRLength  = 43
	maxClusterPrio = 1000
	baselineName   = "default"
)

// domainNamePattern is the API's pattern for domainNames entries.
var domainNamePattern = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`)

// clusterRule is one rule of any cluster-scoped kind, after its version's
// actions and ports are read: what the conversion to Calico rules needs.
type clusterRule struct {
	field  string
	index  int
	name   string
	action policy.Action
	// peers are the from/to list; peersField names it.
	peers      []clusterPeer
	peersField string
	// ports are rule templates (protocol and destination ports); one
	// template with no constraint when the rule has no ports.
	ports []policy.Rule
	// namedPort is set when a ports entry is a named port.
	namedPort bool
}

// decodeClusterNetworkPolicy validates a v1alpha2 ClusterNetworkPolicy
// and converts it as Calico 3.32 does: a policy in the kube-admin or
// kube-baseline tier whose order is the priority, selecting only
// Kubernetes pods.
func decodeClusterNetworkPolicy(js []byte, _ string) (any, bool, problems) {
	var in clusterNetworkPolicy
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	p := &policy.Policy{Kind: policy.ClusterNetworkPolicy, LogDenied: logDenied(&probs, in.Annotations)}
	switch in.Spec.Tier {
	case "Admin":
		p.Tier, p.Name = policy.AdminTier, policy.ClusterAdminPrefix+in.Name
	case "Baseline":
		p.Tier, p.Name = policy.BaselineTier, policy.ClusterBaselinePrefix+in.Name
	case "":
		probs.add("spec.tier", "required (Admin or Baseline)")
	default:
		probs.add("spec.tier", "unknown tier %q (want Admin or Baseline)", in.Spec.Tier)
	}
	p.Order = clusterPriority(&probs, in.Spec.Priority)
	p.AppliesTo = clusterSubjectSelector(&probs, in.Spec.Subject)
	actions := map[string]policy.Action{"Accept": policy.Allow, "Deny": policy.Deny, "Pass": policy.Pass}
	var rules [2][]clusterRule
	for d, list := range [2][]clusterPolicyRule{in.Spec.Ingress, in.Spec.Egress} {
		dir := [2]string{"ingress", "egress"}[d]
		if len(list) > v1alpha2Limits.rules {
			probs.add("spec."+dir, "%d rules: at most %d allowed", len(list), v1alpha2Limits.rules)
		}
		for i, r := range list {
			f := fmt.Sprintf("spec.%s[%d]", dir, i)
			cr := clusterRule{field: f, index: i, name: r.Name}
			cr.action = clusterAction(&probs, f+".action", r.Action, actions)
			cr.peers, cr.peersField = clusterRulePeers(&probs, f, d == 0, r.From, r.To)
			cr.ports, cr.namedPort = clusterProtocols(&probs, f+".protocols", r.Protocols)
			rules[d] = append(rules[d], cr)
		}
	}
	clusterRules(&probs, p, rules, v1alpha2Limits, true)
	return p, false, probs
}

// decodeAdminNetworkPolicy validates a v1alpha1 AdminNetworkPolicy and
// converts it into a policy of the kube-admin tier, as Calico does.
func decodeAdminNetworkPolicy(js []byte, _ string) (any, bool, problems) {
	return decodeAdminKind(js, false)
}

// decodeBaselineAdminNetworkPolicy validates a v1alpha1
// BaselineAdminNetworkPolicy (the singleton named "default") and converts
// it into a policy of the kube-baseline tier, after every Baseline-tier
// ClusterNetworkPolicy.
func decodeBaselineAdminNetworkPolicy(js []byte, _ string) (any, bool, problems) {
	return decodeAdminKind(js, true)
}

func decodeAdminKind(js []byte, baseline bool) (any, bool, problems) {
	var in adminNetworkPolicy
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	actions := map[string]policy.Action{"Allow": policy.Allow, "Deny": policy.Deny, "Pass": policy.Pass}
	p := &policy.Policy{Kind: policy.AdminNetworkPolicy, Tier: policy.AdminTier, Name: policy.AdminPrefix + in.Name}
	p.LogDenied = logDenied(&probs, in.Annotations)
	if baseline {
		delete(actions, "Pass")
		p.Kind, p.Tier, p.Name = policy.BaselineAdminNetworkPolicy, policy.BaselineTier, policy.BaselineAdminPrefix+in.Name
		if in.Name != baselineName {
			probs.add("metadata.name", "a BaselineAdminNetworkPolicy must be named %q (it is a singleton), not %q", baselineName, in.Name)
		}
		if in.Spec.Priority != nil {
			probs.add("spec.priority", "a BaselineAdminNetworkPolicy has no priority")
		}
		// After every Baseline-tier ClusterNetworkPolicy (0–1000): the
		// API orders nothing between the two versions; this is flowgate's
		// choice, documented in the README.
		p.Order = maxClusterPrio + 1
	} else {
		p.Order = clusterPriority(&probs, in.Spec.Priority)
	}
	p.AppliesTo = clusterSubjectSelector(&probs, in.Spec.Subject)
	var rules [2][]clusterRule
	for d, list := range [2][]adminPolicyRule{in.Spec.Ingress, in.Spec.Egress} {
		dir := [2]string{"ingress", "egress"}[d]
		if len(list) > v1alpha1Limits.rules {
			probs.add("spec."+dir, "%d rules: at most %d allowed", len(list), v1alpha1Limits.rules)
		}
		for i, r := range list {
			f := fmt.Sprintf("spec.%s[%d]", dir, i)
			cr := clusterRule{field: f, index: i, name: r.Name}
			cr.action = clusterAction(&probs, f+".action", r.Action, actions)
			cr.peers, cr.peersField = clusterRulePeers(&probs, f, d == 0, r.From, r.To)
			cr.ports, cr.namedPort = adminPorts(&probs, f+".ports", r.Ports)
			rules[d] = append(rules[d], cr)
		}
	}
	clusterRules(&probs, p, rules, v1alpha1Limits, !baseline)
	return p, false, probs
}

// clusterPriority checks the required 0–1000 priority; it becomes the order.
func clusterPriority(probs *problems, prio *int32) float64 {
	if prio == nil {
		probs.add("spec.priority", "required (0–%d)", maxClusterPrio)
		return 0
	}
	if *prio < 0 || *prio > maxClusterPrio {
		probs.add("spec.priority", "%d is out of range 0–%d", *prio, maxClusterPrio)
	}
	return float64(*prio)
}

func clusterAction(probs *problems, field, action string, actions map[string]policy.Action) policy.Action {
	if a, ok := actions[action]; ok {
		return a
	}
	want := "Allow, Deny or Pass"
	switch {
	case actions["Accept"] != 0:
		want = "Accept, Deny or Pass"
	case actions["Pass"] == 0:
		want = "Allow or Deny"
	}
	if action == "" {
		probs.add(field, "required (%s)", want)
	} else {
		probs.add(field, "unknown action %q (want %s)", action, want)
	}
	return policy.Deny
}

// kubernetesPods selects only Kubernetes pods: VMs and host endpoints are
// never subjects or peers of the cluster-scoped kinds.
func kubernetesPods() selector.Selector {
	return selector.Equal(policy.LabelOrchestrator, policy.OrchestratorKubernetes)
}

// clusterSubjectSelector converts the subject, which sets exactly one of
// namespaces and pods, into the pods it selects.
func clusterSubjectSelector(probs *problems, s clusterSubject) selector.Selector {
	switch {
	case s.Namespaces != nil && s.Pods != nil:
		probs.add("spec.subject", "set exactly one of namespaces and pods, not both")
	case s.Namespaces != nil:
		return selector.And(kubernetesPods(), namespaceScope(labelSelector(probs, "spec.subject.namespaces", s.Namespaces)))
	case s.Pods != nil:
		return namespacedPods(probs, "spec.subject.pods", s.Pods)
	default:
		probs.add("spec.subject", "required: set exactly one of namespaces and pods")
	}
	return selector.And(kubernetesPods(), selector.All())
}

func namespacedPods(probs *problems, field string, p *namespacedPod) selector.Selector {
	ns := namespaceScope(labelSelector(probs, field+".namespaceSelector", &p.NamespaceSelector))
	pods := labelSelector(probs, field+".podSelector", &p.PodSelector)
	return selector.And(selector.And(kubernetesPods(), ns), pods)
}

// clusterRulePeers returns a rule's from (ingress) or to (egress) list,
// checking that the other one is absent.
func clusterRulePeers(probs *problems, field string, ingress bool, from, to []clusterPeer) ([]clusterPeer, string) {
	if ingress {
		if to != nil {
			probs.add(field+".to", "ingress rules take from, not to")
		}
		return from, field + ".from"
	}
	if from != nil {
		probs.add(field+".from", "egress rules take to, not from")
	}
	return to, field + ".to"
}

// clusterRules checks each rule's peers and converts the rules of both
// directions into p. domainNames lists whether the kind has that peer.
func clusterRules(probs *problems, p *policy.Policy, rules [2][]clusterRule, lim clusterLimits, domainNames bool) {
	for d, list := range rules {
		dir := [2]policy.Direction{policy.Ingress, policy.Egress}[d]
		if len(list) > 0 {
			p.Types |= dir
		}
		for _, r := range list {
			if len(r.name) > maxRuleName {
				probs.add(r.field+".name", "%d characters: at most %d allowed", len(r.name), maxRuleName)
			}
			if len(r.peers) == 0 {
				probs.add(r.peersField, "required: at least one peer")
			}
			if len(r.peers) > lim.peers {
				probs.add(r.peersField, "%d peers: at most %d allowed", len(r.peers), lim.peers)
			}
			if len(r.ports) > lim.ports {
				probs.add(r.field, "%d ports: at most %d allowed", len(r.ports), lim.ports)
			}
			var peers []policy.Peer
			unmatchable := false
			for i, peer := range r.peers {
				f := fmt.Sprintf("%s[%d]", r.peersField, i)
				cp, exact := clusterPeerOf(probs, f, peer, dir, domainNames, r.namedPort)
				if !exact {
					unmatchable = true
					what := "flowgate cannot match this peer exactly (nodes: no Node addresses; domainNames: no DNS interception), so this Accept/Allow rule matches nothing through it"
					if r.action != policy.Allow {
						what = "flowgate cannot match this peer exactly (nodes: no Node addresses; domainNames: no DNS interception), so this Deny/Pass rule denies everything"
					}
					probs.warn(f, "%s", what)
					continue
				}
				peers = append(peers, cp)
			}
			appendClusterRules(p, dir, r, peers, unmatchable)
		}
	}
}

// appendClusterRules adds one Calico rule per peer and port template. A
// rule with a peer flowgate cannot match exactly (nodes, domainNames) is
// converted by the API's fail-closed rule: an Accept drops that peer (it
// matches nothing), a Deny or Pass becomes a Deny of everything.
func appendClusterRules(p *policy.Policy, dir policy.Direction, r clusterRule, peers []policy.Peer, unmatchable bool) {
	index := r.index
	if unmatchable && r.action != policy.Allow {
		rule := policy.Rule{Action: policy.Deny, Index: index, Name: r.name}
		if dir == policy.Egress {
			p.Egress = append(p.Egress, rule)
		} else {
			p.Ingress = append(p.Ingress, rule)
		}
		return
	}
	for _, svc := range r.ports {
		for _, peer := range peers {
			rule := svc
			rule.Action, rule.Index, rule.Name = r.action, index, r.name
			if dir == policy.Egress {
				ports := rule.Destination.Ports
				rule.Destination = peer
				rule.Destination.Ports = ports
				p.Egress = append(p.Egress, rule)
			} else {
				rule.Source = peer
				p.Ingress = append(p.Ingress, rule)
			}
		}
	}
}

// clusterPeerOf converts one peer, which sets exactly one field. exact is
// false for a valid peer flowgate cannot match exactly (nodes, whose
// addresses flowgate does not know, and domainNames, which need DNS
// interception).
func clusterPeerOf(probs *problems, field string, in clusterPeer, dir policy.Direction, domainNames, namedPort bool) (policy.Peer, bool) {
	set := 0
	for _, ok := range []bool{in.Namespaces != nil, in.Pods != nil, in.Nodes != nil, in.Networks != nil, in.DomainNames != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		probs.add(field, "set exactly one of namespaces, pods, nodes, networks or domainNames (%d set)", set)
		return policy.Peer{}, true
	}
	if dir == policy.Ingress && (in.Nodes != nil || in.Networks != nil || in.DomainNames != nil) {
		probs.add(field, "ingress peers take only namespaces or pods")
		return policy.Peer{}, true
	}
	if namedPort && (in.Nodes != nil || in.Networks != nil || in.DomainNames != nil) {
		probs.add(field, "networks, nodes and domainNames peers cannot be used with a named port: only pods have named ports")
	}
	switch {
	case in.Namespaces != nil:
		sel := selector.And(kubernetesPods(), namespaceScope(labelSelector(probs, field+".namespaces", in.Namespaces)))
		return policy.Peer{Selector: &sel}, true
	case in.Pods != nil:
		sel := namespacedPods(probs, field+".pods", in.Pods)
		return policy.Peer{Selector: &sel}, true
	case in.Nodes != nil:
		labelSelector(probs, field+".nodes", in.Nodes)
		return policy.Peer{}, false
	case in.DomainNames != nil:
		if !domainNames {
			probs.add(field+".domainNames", "not a field of this kind")
		}
		checkListLen(probs, field+".domainNames", len(in.DomainNames), maxDomainNames)
		for i, d := range in.DomainNames {
			if !domainNamePattern.MatchString(d) {
				probs.add(fmt.Sprintf("%s.domainNames[%d]", field, i), "%q is not a domain name (optionally with a leading *.)", d)
			}
		}
		return policy.Peer{}, false
	}
	checkListLen(probs, field+".networks", len(in.Networks), maxNetworks)
	var nets []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for i, n := range in.Networks {
		f := fmt.Sprintf("%s.networks[%d]", field, i)
		if len(n) > maxCIDRLength {
			probs.add(f, "%d characters: at most %d allowed", len(n), maxCIDRLength)
			continue
		}
		cidr, err := netip.ParsePrefix(n)
		if err != nil {
			probs.add(f, "invalid CIDR %q", n)
			continue
		}
		if cidr.Masked() != cidr {
			probs.add(f, "%s has host bits set (want %s)", n, cidr.Masked())
			continue
		}
		if seen[cidr] {
			probs.add(f, "duplicate network %s (networks is a set)", n)
			continue
		}
		seen[cidr] = true
		nets = append(nets, cidr)
	}
	return policy.Peer{Nets: nets}, true
}

func checkListLen(probs *problems, field string, n, max int) {
	if n == 0 {
		probs.add(field, "must not be empty")
	}
	if n > max {
		probs.add(field, "%d items: at most %d allowed", n, max)
	}
}

// clusterProtocols converts v1alpha2 protocols into rule templates, one per
// entry (a named port, which carries no protocol, becomes one per
// protocol: the container port it names decides).
func clusterProtocols(probs *problems, field string, in []clusterProtocol) ([]policy.Rule, bool) {
	if in == nil {
		return []policy.Rule{{}}, false
	}
	if len(in) == 0 {
		probs.add(field, "must not be empty")
	}
	var out []policy.Rule
	named := false
	for i, pr := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		type protoPort struct {
			name  string
			proto policy.Protocol
			port  *clusterProtocolPort
		}
		var set []protoPort
		for _, pp := range []protoPort{{"tcp", policy.TCP, pr.TCP}, {"udp", policy.UDP, pr.UDP}, {"sctp", policy.SCTP, pr.SCTP}} {
			if pp.port != nil {
				set = append(set, pp)
			}
		}
		n := len(set)
		if pr.DestinationNamedPort != "" {
			n++
		}
		if n != 1 {
			probs.add(f, "set exactly one of tcp, udp, sctp or destinationNamedPort (%d set)", n)
			continue
		}
		if pr.DestinationNamedPort != "" {
			if err := policy.ValidPortName(pr.DestinationNamedPort); err != nil {
				probs.addErr(f+".destinationNamedPort", err)
				continue
			}
			named = true
			out = append(out, namedPortRules(pr.DestinationNamedPort)...)
			continue
		}
		pp := set[0]
		pf := f + "." + pp.name + ".destinationPort"
		if pp.port.DestinationPort == nil {
			probs.add(pf, "required")
			continue
		}
		dp := pp.port.DestinationPort
		var m policy.PortMatch
		switch {
		case dp.Number != 0 && dp.Range != nil, dp.Number == 0 && dp.Range == nil:
			probs.add(pf, "set exactly one of number and range")
			continue
		case dp.Number != 0:
			lo, ok := clusterPortNumber(probs, pf+".number", dp.Number)
			if !ok {
				continue
			}
			m = policy.PortMatch{Min: lo, Max: lo}
		default:
			lo, ok1 := clusterPortNumber(probs, pf+".range.start", dp.Range.Start)
			hi, ok2 := clusterPortNumber(probs, pf+".range.end", dp.Range.End)
			if !ok1 || !ok2 {
				continue
			}
			if lo >= hi {
				probs.add(pf+".range", "start %d must be less than end %d", lo, hi)
				continue
			}
			m = policy.PortMatch{Min: lo, Max: hi}
		}
		r := policy.Rule{Protocol: pp.proto}
		r.Destination.Ports = []policy.PortMatch{m}
		out = append(out, r)
	}
	return out, named
}

// adminPorts converts v1alpha1 ports into rule templates, one per entry.
func adminPorts(probs *problems, field string, in *[]adminPolicyPort) ([]policy.Rule, bool) {
	if in == nil {
		return []policy.Rule{{}}, false
	}
	if len(*in) == 0 {
		probs.add(field, "must not be empty")
	}
	var out []policy.Rule
	named := false
	for i, pp := range *in {
		f := fmt.Sprintf("%s[%d]", field, i)
		n := 0
		for _, ok := range []bool{pp.PortNumber != nil, pp.NamedPort != nil, pp.PortRange != nil} {
			if ok {
				n++
			}
		}
		if n != 1 {
			probs.add(f, "set exactly one of portNumber, namedPort or portRange (%d set)", n)
			continue
		}
		switch {
		case pp.NamedPort != nil:
			if err := policy.ValidPortName(*pp.NamedPort); err != nil {
				probs.addErr(f+".namedPort", err)
				continue
			}
			named = true
			out = append(out, namedPortRules(*pp.NamedPort)...)
		case pp.PortNumber != nil:
			// The CRD defaults portNumber.protocol to TCP (as it does
			// portRange.protocol), so kubectl accepts it unset: so must we.
			proto, ok := adminProtocol(probs, f+".portNumber.protocol", pp.PortNumber.Protocol, true)
			port, ok2 := clusterPortNumber(probs, f+".portNumber.port", pp.PortNumber.Port)
			if !ok || !ok2 {
				continue
			}
			r := policy.Rule{Protocol: proto}
			r.Destination.Ports = []policy.PortMatch{{Min: port, Max: port}}
			out = append(out, r)
		default:
			proto, ok := adminProtocol(probs, f+".portRange.protocol", pp.PortRange.Protocol, true)
			lo, ok2 := clusterPortNumber(probs, f+".portRange.start", pp.PortRange.Start)
			hi, ok3 := clusterPortNumber(probs, f+".portRange.end", pp.PortRange.End)
			if !ok || !ok2 || !ok3 {
				continue
			}
			if lo >= hi {
				probs.add(f+".portRange", "start %d must be less than end %d", lo, hi)
				continue
			}
			r := policy.Rule{Protocol: proto}
			r.Destination.Ports = []policy.PortMatch{{Min: lo, Max: hi}}
			out = append(out, r)
		}
	}
	return out, named
}

// namedPortRules matches a named port for every protocol that has ports:
// the destination pod's container port of that name decides which.
func namedPortRules(name string) []policy.Rule {
	var out []policy.Rule
	for _, proto := range []policy.Protocol{policy.TCP, policy.UDP, policy.SCTP} {
		r := policy.Rule{Protocol: proto}
		r.Destination.Ports = []policy.PortMatch{{Name: name}}
		out = append(out, r)
	}
	return out
}

func adminProtocol(probs *problems, field, proto string, defaultTCP bool) (policy.Protocol, bool) {
	switch proto {
	case "TCP":
		return policy.TCP, true
	case "UDP":
		return policy.UDP, true
	case "SCTP":
		return policy.SCTP, true
	case "":
		if defaultTCP {
			return policy.TCP, true
		}
		probs.add(field, "required (TCP, UDP or SCTP)")
	default:
		probs.add(field, "unknown protocol %q (want TCP, UDP or SCTP)", proto)
	}
	return 0, false
}

func clusterPortNumber(probs *problems, field string, n int32) (uint16, bool) {
	if n < 1 || n > 65535 {
		probs.add(field, "%d is out of range 1–65535", n)
		return 0, false
	}
	return uint16(n), true
}
