package decode

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/flowgate/flowgate/translator/policy"
)

func decodeTier(js []byte, _ string) (any, bool, problems) {
	var in calicoTier
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	checkName(&probs, "metadata.name", in.Name)
	t := &policy.Tier{Name: in.Name, Order: policy.NoOrder, DefaultAction: policy.Deny}
	if in.Spec.Order != nil {
		t.Order = *in.Spec.Order
	} else if in.Name == policy.DefaultTier {
		t.Order = policy.DefaultTierOrder
	}
	switch in.Spec.DefaultAction {
	case "", "Deny":
	case "Pass":
		t.DefaultAction = policy.Pass
	default:
		probs.add("spec.defaultAction", "unknown default action %q (want Deny or Pass)", in.Spec.DefaultAction)
	}
	return t, false, probs
}

func decodeNetworkSet(js []byte, ns string) (any, bool, problems) {
	var in calicoNetworkSet
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	if len(in.Spec.AllowedEgressDomains) > 0 {
		probs.add("spec.allowedEgressDomains", "domain-based sets are not supported")
	}
	s := &policy.NetworkSet{Namespace: ns, Name: in.Name, Labels: in.Labels}
	s.Nets = parseNets(&probs, "spec.nets", in.Spec.Nets, 0)
	return s, false, probs
}

func decodeHostEndpoint(js []byte, _ string) (any, bool, problems) {
	var in calicoHostEndpoint
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	spec := &in.Spec
	if spec.InterfaceName == "" && len(spec.ExpectedIPs) == 0 {
		probs.add("spec", "a host endpoint needs interfaceName or expectedIPs")
	}
	e := &policy.Endpoint{
		Kind:          policy.HostEndpoint,
		Name:          in.Name,
		Labels:        in.Labels,
		Node:          spec.Node,
		InterfaceName: spec.InterfaceName,
		Profiles:      spec.Profiles,
	}
	for i, s := range spec.ExpectedIPs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			probs.add(fmt.Sprintf("spec.expectedIPs[%d]", i), "invalid IP %q", s)
			continue
		}
		e.IPs = append(e.IPs, a.Unmap())
	}
	e.Ports = endpointPorts(&probs, spec.Ports)
	return e, false, probs
}

func decodeWorkloadEndpoint(js []byte, ns string) (any, bool, problems) {
	var in calicoWorkloadEndpoint
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	spec := &in.Spec
	e := &policy.Endpoint{
		Kind:           policy.WorkloadEndpoint,
		Namespace:      ns,
		Name:           in.Name,
		Labels:         in.Labels,
		ServiceAccount: spec.ServiceAccountName,
		Orchestrator:   spec.Orchestrator,
		Node:           spec.Node,
		InterfaceName:  spec.InterfaceName,
		Profiles:       spec.Profiles,
	}
	if len(spec.IPNATs) > 0 {
		probs.add("spec.ipNATs", "1:1 NAT is not supported")
	}
	if len(spec.AllowSpoofedSourcePrefixes) > 0 {
		probs.add("spec.allowSpoofedSourcePrefixes", "not supported; use allowed address pairs")
	}
	for i, s := range spec.IPNetworks {
		f := fmt.Sprintf("spec.ipNetworks[%d]", i)
		p, err := parseCIDROrIP(s)
		if err != nil {
			probs.addErr(f, err)
			continue
		}
		if !p.IsSingleIP() {
			probs.add(f, "%s: a workload's addresses are single IPs (/32 or /128)", s)
			continue
		}
		e.IPs = append(e.IPs, p.Addr())
	}
	if spec.MAC != "" {
		mac, err := net.ParseMAC(spec.MAC)
		if err != nil || len(mac) != 6 {
			probs.add("spec.mac", "invalid MAC %q", spec.MAC)
		}
		e.MAC = mac
	}
	e.Ports = endpointPorts(&probs, spec.Ports)
	e.Guard = portGuard(&probs, in.Labels)
	e.AddressPairs = addressPairs(&probs, in.Annotations)
	return e, false, probs
}

func endpointPorts(probs *problems, in []calicoEndpointPort) []policy.NamedPort {
	var out []policy.NamedPort
	for i, p := range in {
		f := fmt.Sprintf("spec.ports[%d]", i)
		if err := p.Protocol.check(); err != nil {
			probs.addErr(f+".protocol", err)
			continue
		}
		if np, ok := namedPort(probs, f, "port", p.Name, p.Protocol.Text, p.Port); ok {
			out = append(out, np)
		}
	}
	return out
}
