package decode

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// decodeRule validates one Calico rule and normalises it. ns is the
// policy's namespace ("" for global policy), which scopes the rule's
// selectors as Calico scopes them.
func decodeRule(probs *problems, field string, in *calicoRule, ns string, index int) (policy.Rule, bool) {
	before := len(*probs)
	r := policy.Rule{Index: index}
	if in.Action == "" {
		probs.add(field+".action", "required (Allow, Deny, Log or Pass)")
	} else if a, err := policy.ParseAction(in.Action); err != nil {
		probs.addErr(field+".action", err)
	} else {
		r.Action = a
	}
	if in.IPVersion != nil {
		if *in.IPVersion != 4 && *in.IPVersion != 6 {
			probs.add(field+".ipVersion", "must be 4 or 6, not %d", *in.IPVersion)
		} else {
			r.IPVersion = uint8(*in.IPVersion)
		}
	}
	if in.Protocol != nil {
		r.Protocol = parseProtocol(probs, field+".protocol", *in.Protocol)
	}
	if in.NotProtocol != nil {
		r.NotProtocol = parseProtocol(probs, field+".notProtocol", *in.NotProtocol)
	}
	r.ICMP = icmpMatch(probs, field+".icmp", in.ICMP, r.Protocol, r.IPVersion)
	r.NotICMP = icmpMatch(probs, field+".notICMP", in.NotICMP, r.Protocol, r.IPVersion)
	if in.HTTP != nil {
		probs.add(field+".http", "HTTP matches need an application-layer proxy; flowgate enforces L3/L4 only")
	}
	r.Source = decodeEntityRule(probs, field+".source", &in.Source, ns, r.Protocol, r.IPVersion)
	r.Destination = decodeEntityRule(probs, field+".destination", &in.Destination, ns, r.Protocol, r.IPVersion)
	return r, len(*probs) == before
}

func parseProtocol(probs *problems, field string, v numOrString) policy.Protocol {
	if err := v.check(); err != nil {
		probs.addErr(field, err)
		return 0
	}
	p, err := policy.ParseProtocol(v.Text)
	if err != nil {
		probs.addErr(field, err)
	}
	return p
}

func icmpMatch(probs *problems, field string, in *calicoICMP, proto policy.Protocol, ipVersion uint8) *policy.ICMPMatch {
	if in == nil {
		return nil
	}
	if !proto.IsICMP() {
		probs.add(field, "needs protocol ICMP or ICMPv6")
		return nil
	}
	if proto == policy.ICMP && ipVersion == 6 || proto == policy.ICMPv6 && ipVersion == 4 {
		probs.add(field, "protocol %s does not exist in IPv%d", proto, ipVersion)
	}
	if in.Type == nil {
		if in.Code != nil {
			probs.add(field+".code", "an ICMP code needs a type")
		} else {
			probs.add(field+".type", "required")
		}
		return nil
	}
	if *in.Type < 0 || *in.Type > 254 {
		probs.add(field+".type", "must be 0-254, not %d", *in.Type)
		return nil
	}
	m := &policy.ICMPMatch{Type: uint8(*in.Type)}
	if in.Code != nil {
		if *in.Code < 0 || *in.Code > 255 {
			probs.add(field+".code", "must be 0-255, not %d", *in.Code)
			return nil
		}
		c := uint8(*in.Code)
		m.Code = &c
	}
	return m
}

// decodeEntityRule validates one side of a rule and computes its effective
// selector the way Calico does: a namespaceSelector (or, in a namespaced
// policy, the policy's own namespace) scopes the selector and service
// accounts; notSelector is never scoped.
func decodeEntityRule(probs *problems, field string, in *calicoEntityRule, ns string, proto policy.Protocol, ipVersion uint8) policy.Peer {
	var p policy.Peer
	p.Nets = parseNets(probs, field+".nets", in.Nets, ipVersion)
	p.NotNets = parseNets(probs, field+".notNets", in.NotNets, ipVersion)
	if in.Services != nil {
		probs.add(field+".services", "Kubernetes Service matches are not supported")
	}
	var scope *selector.Selector
	if in.NamespaceSelector != "" {
		s := namespaceScope(parseSelector(probs, field+".namespaceSelector", in.NamespaceSelector))
		scope = &s
	} else if ns != "" {
		s := selector.Equal(policy.LabelNamespace, ns)
		scope = &s
	}
	var sel *selector.Selector
	if in.ServiceAccounts != nil && (in.ServiceAccounts.Selector != "" || len(in.ServiceAccounts.Names) > 0) {
		s := serviceAccountSelector(probs, field+".serviceAccounts", in.ServiceAccounts)
		sel = &s
	}
	if in.Selector != "" {
		s := parseSelector(probs, field+".selector", in.Selector)
		if sel != nil {
			s = selector.And(*sel, s)
		}
		sel = &s
	}
	if scope != nil && (sel != nil || in.NotSelector != "" || in.NamespaceSelector != "") {
		s := *scope
		if sel != nil {
			s = selector.And(s, *sel)
		}
		sel = &s
	}
	p.Selector = sel
	if in.NotSelector != "" {
		s := parseSelector(probs, field+".notSelector", in.NotSelector)
		p.NotSelector = &s
	}
	p.Ports = parsePorts(probs, field+".ports", in.Ports, proto)
	p.NotPorts = parsePorts(probs, field+".notPorts", in.NotPorts, proto)
	return p
}

func serviceAccountSelector(probs *problems, field string, in *calicoServiceAccounts) selector.Selector {
	s := selector.All()
	if in.Selector != "" {
		s = parseSelector(probs, field+".selector", in.Selector).PrefixKeys(policy.ServiceAccountPrefix)
	}
	if len(in.Names) > 0 {
		for i, n := range in.Names {
			if err := validDNSSubdomain(n); err != nil {
				probs.addErr(fmt.Sprintf("%s.names[%d]", field, i), err)
			}
		}
		s = selector.And(s, selector.In(policy.LabelServiceAccount, in.Names...))
	}
	return s
}

func parseNets(probs *problems, field string, in []string, ipVersion uint8) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		p, err := parseCIDROrIP(s)
		if err != nil {
			probs.addErr(f, err)
			continue
		}
		if ipVersion == 4 && !p.Addr().Is4() || ipVersion == 6 && !p.Addr().Is6() {
			probs.add(f, "%s is not an IPv%d network but the rule has ipVersion %d", s, ipVersion, ipVersion)
			continue
		}
		out = append(out, p)
	}
	return out
}

// parseCIDROrIP reads "10.0.0.0/8" or a bare address (a host route), and
// masks host bits away as Calico does.
func parseCIDROrIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return unmapPrefix(p).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid IP or CIDR %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

func parsePorts(probs *problems, field string, in []numOrString, proto policy.Protocol) []policy.PortMatch {
	if len(in) == 0 {
		return nil
	}
	if !proto.HasPorts() {
		probs.add(field, "ports need protocol TCP, UDP or SCTP")
		return nil
	}
	out := make([]policy.PortMatch, 0, len(in))
	for i, v := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		var m policy.PortMatch
		err := v.check()
		switch {
		case err != nil:
		case v.IsNumber:
			var n uint16
			n, err = policy.PortNumber(v.Number)
			m = policy.PortMatch{Min: n, Max: n}
		default:
			m, err = policy.ParsePort(v.Text)
		}
		if err != nil {
			probs.addErr(f, err)
			continue
		}
		out = append(out, m)
	}
	return out
}
