package neutron

import (
	"net/netip"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// Selector texts shared by the model and the YAML, so both say the same.

func groupKey(id string) string        { return GroupLabelPrefix + id }
func addressGroupKey(id string) string { return AddressGroupLabelPrefix + id }

// memberSelector selects the members of security group id: its ports and
// the network sets of their allowed address pairs.
func memberSelector(id string) string { return "has(" + groupKey(id) + ")" }

func addressGroupSelector(id string) string { return "has(" + addressGroupKey(id) + ")" }

// filteredSelector selects the filtered ports: a group's policy applies to
// them only, so unfiltered ports can stay members of their groups.
const filteredSelector = PortSecurityLabel + " == '" + PortSecurityOn + "'"

func appliesSelector(id string) string { return memberSelector(id) + " && " + filteredSelector }

func groupPolicyName(id string) string     { return "sg-" + id }
func addressGroupSetName(id string) string { return "ag-" + id }
func pairSetName(portID string) string     { return "aap-" + portID }

// syntheticOrigin marks objects the import adds itself (the baseline).
var syntheticOrigin = decode.Origin{File: "(neutron baseline)"}

// Objects returns the import as the objects flowgate's decoders produce —
// NetworkPolicies, NetworkSets and WorkloadEndpoints in namespace
// "openstack" — ready for decode.Build together with any other policy.
func (im *Import) Objects() []decode.Object {
	var out []decode.Object
	add := func(o decode.Origin, kind, name string, v any) {
		out = append(out, decode.NewObject(decode.ObjectInfo{Origin: o, Kind: kind, Namespace: Namespace, Name: name, Value: v}))
	}
	add(syntheticOrigin, "NetworkPolicy", BaselinePolicy, baselinePolicy())
	for _, g := range im.groups {
		add(g.origin, "NetworkPolicy", groupPolicyName(g.id), g.policy())
	}
	for _, ag := range im.addressGroups {
		add(ag.origin, "NetworkSet", addressGroupSetName(ag.id), &policy.NetworkSet{
			Namespace: Namespace, Name: addressGroupSetName(ag.id),
			Labels: map[string]string{addressGroupKey(ag.id): ""}, Nets: ag.nets,
		})
	}
	for _, p := range im.ports {
		if s := p.pairSet(); s != nil {
			add(p.origin, "NetworkSet", s.Name, s)
		}
	}
	for _, p := range im.ports {
		add(p.origin, "WorkloadEndpoint", p.id, p.endpoint())
	}
	return out
}

// scoped confines a rule or policy selector to the namespace, exactly as
// the decoder does for a namespaced NetworkPolicy.
func scoped(text string) selector.Selector {
	return selector.And(selector.Equal(policy.LabelNamespace, Namespace), selector.MustParse(text))
}

func newPolicy(name, applies string, order float64) *policy.Policy {
	return &policy.Policy{
		Kind: policy.CalicoNetworkPolicy, Namespace: Namespace, Name: name,
		Tier: policy.DefaultTier, Order: order, AppliesTo: scoped(applies),
		Types: policy.Ingress | policy.Egress,
	}
}

func (g *group) policy() *policy.Policy {
	p := newPolicy(groupPolicyName(g.id), appliesSelector(g.id), GroupOrder)
	for i, a := range g.ingress {
		p.Ingress = append(p.Ingress, a.rule(policy.Ingress, i))
	}
	for i, a := range g.egress {
		p.Egress = append(p.Egress, a.rule(policy.Egress, i))
	}
	return p
}

// rule is the Calico rule for one Neutron allow: the peer on the remote
// side, the port range always on the destination.
func (a allow) rule(dir policy.Direction, index int) policy.Rule {
	r := policy.Rule{Action: policy.Allow, IPVersion: a.ipVersion, Protocol: a.proto, ICMP: a.icmp, Index: index}
	var remote policy.Peer
	switch {
	case a.net.IsValid():
		remote.Nets = []netip.Prefix{a.net}
	case a.remoteGroup != "":
		s := scoped(memberSelector(a.remoteGroup))
		remote.Selector = &s
	case a.addressGroup != "":
		s := scoped(addressGroupSelector(a.addressGroup))
		remote.Selector = &s
	}
	var ports []policy.PortMatch
	if a.ports != nil {
		ports = []policy.PortMatch{*a.ports}
	}
	if dir == policy.Ingress {
		r.Source = remote
		r.Destination = policy.Peer{Ports: ports}
	} else {
		r.Destination = remote
		r.Destination.Ports = ports
	}
	return r
}

// baselineRule is one rule of Neutron's fixed per-port behaviour.
type baselineRule struct {
	action     policy.Action
	ipVersion  uint8
	proto      policy.Protocol
	srcPort    uint16
	dstPort    uint16
	icmpType   uint8
	comment    string
	hasICMPTyp bool
}

// baselineEgress and baselineIngress are what Neutron's OVS firewall does
// for every filtered port whatever its groups say
// (neutron/agent/linux/openvswitch_firewall/firewall.py): DHCP client in
// and out, no DHCP server, ICMPv6 neighbour discovery and MLD, no router
// advertisements from a VM.
var baselineEgress = []baselineRule{
	{action: policy.Deny, ipVersion: 4, proto: policy.UDP, srcPort: 67, dstPort: 68, comment: "a VM may not be a DHCP server"},
	{action: policy.Deny, ipVersion: 6, proto: policy.UDP, srcPort: 547, dstPort: 546, comment: "a VM may not be a DHCPv6 server"},
	{action: policy.Deny, ipVersion: 6, proto: policy.ICMPv6, icmpType: 134, hasICMPTyp: true, comment: "a VM may not send router advertisements"},
	{action: policy.Allow, ipVersion: 4, proto: policy.UDP, srcPort: 68, dstPort: 67, comment: "DHCP client"},
	{action: policy.Allow, ipVersion: 6, proto: policy.UDP, srcPort: 546, dstPort: 547, comment: "DHCPv6 client"},
	{action: policy.Allow, ipVersion: 6, proto: policy.ICMPv6, icmpType: 130, hasICMPTyp: true, comment: "MLD query"},
	{action: policy.Allow, ipVersion: 6, proto: policy.ICMPv6, icmpType: 133, hasICMPTyp: true, comment: "router solicitation"},
	{action: policy.Allow, ipVersion: 6, proto: policy.ICMPv6, icmpType: 135, hasICMPTyp: true, comment: "neighbour solicitation"},
	{action: policy.Allow, ipVersion: 6, proto: policy.ICMPv6, icmpType: 136, hasICMPTyp: true, comment: "neighbour advertisement"},
}

var baselineIngress = []baselineRule{
	{action: policy.Allow, ipVersion: 4, proto: policy.UDP, srcPort: 67, dstPort: 68, comment: "DHCP offers and acks"},
	{action: policy.Allow, ipVersion: 6, proto: policy.UDP, srcPort: 547, dstPort: 546, comment: "DHCPv6 replies"},
	{action: policy.Allow, ipVersion: 6, proto: policy.ICMPv6, icmpType: 130, hasICMPTyp: true, comment: "MLD query"},
	{action: policy.Allow, ipVersion: 6, proto: policy.ICMPv6, icmpType: 134, hasICMPTyp: true, comment: "router advertisement"},
	{action: policy.Allow, ipVersion: 6, proto: policy.ICMPv6, icmpType: 135, hasICMPTyp: true, comment: "neighbour solicitation"},
	{action: policy.Allow, ipVersion: 6, proto: policy.ICMPv6, icmpType: 136, hasICMPTyp: true, comment: "neighbour advertisement"},
}

func (b baselineRule) rule(index int) policy.Rule {
	r := policy.Rule{Action: b.action, IPVersion: b.ipVersion, Protocol: b.proto, Index: index}
	if b.hasICMPTyp {
		r.ICMP = &policy.ICMPMatch{Type: b.icmpType}
	}
	if b.srcPort != 0 {
		r.Source.Ports = []policy.PortMatch{{Min: b.srcPort, Max: b.srcPort}}
	}
	if b.dstPort != 0 {
		r.Destination.Ports = []policy.PortMatch{{Min: b.dstPort, Max: b.dstPort}}
	}
	return r
}

func baselinePolicy() *policy.Policy {
	p := newPolicy(BaselinePolicy, filteredSelector, BaselineOrder)
	for i, b := range baselineIngress {
		p.Ingress = append(p.Ingress, b.rule(i))
	}
	for i, b := range baselineEgress {
		p.Egress = append(p.Egress, b.rule(i))
	}
	return p
}

func (p *vmPort) labels() map[string]string {
	l := map[string]string{PortSecurityLabel: p.security}
	for _, g := range p.groups {
		l[groupKey(g)] = ""
	}
	if p.network != "" {
		l[NetworkLabel] = p.network
	}
	if p.stateless && p.security == PortSecurityOn {
		l[StatefulLabel] = "false"
	}
	if p.project != "" {
		l[ProjectLabel] = p.project
	}
	return l
}

func (p *vmPort) profiles() []string {
	if p.security == PortSecurityOn {
		return nil
	}
	return []string{policy.DefaultAllowProfile}
}

func (p *vmPort) endpoint() *policy.Endpoint {
	return &policy.Endpoint{
		Kind: policy.WorkloadEndpoint, Namespace: Namespace, Name: p.id, Labels: p.labels(),
		IPs: p.ips, Orchestrator: Orchestrator, Node: p.host, MAC: p.mac, Profiles: p.profiles(),
		AddressPairs: p.pairs, Guard: p.guard(),
	}
}

// guard is the port-level protection decode.LabelPortSecurity gives the
// port's YAML.
func (p *vmPort) guard() policy.Guard {
	if p.security == PortSecurityOn {
		return policy.GuardNeutron
	}
	return policy.GuardNone
}

// pairSet is the network set of a port's prefix pairs, labelled with the
// port's groups so remote-group rules match addresses in them, as Neutron
// does; nil when there is nothing to add.
func (p *vmPort) pairSet() *policy.NetworkSet {
	if len(p.pairPrefixes) == 0 || len(p.groups) == 0 {
		return nil
	}
	l := map[string]string{PortLabel: p.id}
	for _, g := range p.groups {
		l[groupKey(g)] = ""
	}
	return &policy.NetworkSet{Namespace: Namespace, Name: pairSetName(p.id), Labels: l, Nets: p.pairPrefixes}
}
