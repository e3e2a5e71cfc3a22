package neutron

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// Names and labels the import gives Neutron's objects. Operators may
// select on them in their own policy (for example a GlobalNetworkPolicy
// in a tier before "default" that isolates one network).
const (
	// Namespace holds every imported object, so that the security-group
	// policies' selectors are confined to Neutron ports and network sets.
	Namespace = "openstack"
	// Orchestrator is the ports' projectcalico.org/orchestrator.
	Orchestrator = "openstack"
	// GroupLabelPrefix + group ID marks a member of a security group.
	GroupLabelPrefix = "sg.openstack.org/"
	// AddressGroupLabelPrefix + group ID marks an address group's network set.
	AddressGroupLabelPrefix = "ag.openstack.org/"
	// NetworkLabel holds a port's network ID: the compiler gives each
	// network its own conntrack zone, and matches the port's addresses that
	// another network also uses only in packets of its own network.
	NetworkLabel = policy.LabelNetwork
	// StatefulLabel is "false" on a filtered port whose groups are
	// stateless: the compiler filters its packets without conntrack.
	StatefulLabel = policy.LabelStateful
	// ProjectLabel holds a port's project ID.
	ProjectLabel = "neutron.openstack.org/project"
	// PortLabel marks the network set of one port's allowed address pairs.
	PortLabel = "neutron.openstack.org/port"
	// PortSecurityLabel says whether a port is filtered: PortSecurityOn,
	// PortSecurityOff (port_security_enabled=false) or PortTrusted (a port
	// Neutron owns: DHCP, router).
	PortSecurityLabel = decode.LabelPortSecurity
	// PortSecurityOn marks a filtered port.
	PortSecurityOn = "enabled"
	// PortSecurityOff marks a port with port_security_enabled=false.
	PortSecurityOff = "disabled"
	// PortTrusted marks a port whose device_owner starts with "network:".
	PortTrusted = "trusted"
	// BaselinePolicy is the policy holding Neutron's rules that no
	// security group shows (DHCP, ICMPv6 neighbour discovery).
	BaselinePolicy = "neutron-baseline"
	// BaselineOrder puts the baseline before every security group.
	BaselineOrder = 0
	// GroupOrder is the order of every security group's policy.
	GroupOrder = 100
)

// Annotations carried into the YAML so operators can see where each
// object came from.
const (
	annName        = "openstack.org/name"
	annDescription = "openstack.org/description"
	annProject     = "openstack.org/project-id"
	annOwner       = "neutron.openstack.org/device-owner"
	annPairs       = decode.AnnotationAddressPairs
	annRuleID      = "neutron.openstack.org/rule-id"
	annGroupID     = "neutron.openstack.org/security-group-id"
)

// Import is Neutron's security configuration checked and put in flowgate's
// terms, ready to become model objects (Objects) or Calico YAML (WriteYAML).
type Import struct {
	// Warnings are things the operator should know that do not make the
	// input invalid: defaults assumed for missing fields, stateless groups
	// enforced statefully, groups referenced but absent.
	Warnings []error
	// Files are the inputs, in the order read.
	Files []string

	groups        []*group
	addressGroups []*addressGroup
	ports         []*vmPort
}

// group is one security group in normalised form.
type group struct {
	id, name, description, project string
	origin                         decode.Origin
	ingress, egress                []allow
}

// allow is one Neutron rule: an allow for one direction and IP family.
type allow struct {
	id        string
	ipVersion uint8
	proto     policy.Protocol
	ports     *policy.PortMatch
	icmp      *policy.ICMPMatch
	// Exactly one of net, remoteGroup and addressGroup is set, or none
	// (any peer of the family).
	net          netip.Prefix
	remoteGroup  string
	addressGroup string
}

type addressGroup struct {
	id, name, project string
	origin            decode.Origin
	nets              []netip.Prefix
}

// vmPort is one port in normalised form.
type vmPort struct {
	id, name, network, owner, device, project, host string
	mac                                             net.HardwareAddr
	origin                                          decode.Origin
	ips                                             []netip.Addr
	groups                                          []string
	security                                        string
	stateless                                       bool
	pairPrefixes                                    []netip.Prefix
	pairs                                           []policy.AddressPair
}

// Convert checks in against Neutron's rules and puts it in flowgate's
// terms. Every invalid rule, group, port or address group is reported (file,
// object, field) and left out — a rule left out allows nothing, so a bad
// rule never opens anything — and everything valid is kept.
func Convert(in *Input) (*Import, []error) {
	c := &converter{im: &Import{Files: in.Files}}
	c.addressGroups(in.AddressGroups)
	c.groups(in)
	c.ports(in.Ports)
	c.remotes()
	return c.im, c.errs
}

type converter struct {
	im   *Import
	errs []error
	// known groups (even those left out), to tell "absent" from "invalid".
	groupIDs map[string]bool
	agIDs    map[string]bool
	// stateless are the groups with stateful=false.
	stateless map[string]bool
}

func (c *converter) fail(err error)   { c.errs = append(c.errs, err) }
func (c *converter) warn(err error)   { c.im.Warnings = append(c.im.Warnings, err) }
func origin(l location) decode.Origin { return decode.Origin{File: l.file, Line: l.line} }

// labelID checks that an ID can be part of a label key and a policy name
// (Neutron IDs are lower-case UUIDs; anything else is refused rather than
// mangled, so two objects can never collide).
func labelID(id string) error {
	if msgs := validation.IsQualifiedName(GroupLabelPrefix + id); len(msgs) > 0 {
		return fmt.Errorf("%q cannot be used in a label key: %s", id, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1123Subdomain("sg-" + id); len(msgs) > 0 {
		return fmt.Errorf("%q cannot be used in an object name: %s", id, strings.Join(msgs, "; "))
	}
	return nil
}

func labelValue(v string) error {
	if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
		return fmt.Errorf("%q cannot be a label value: %s", v, strings.Join(msgs, "; "))
	}
	return nil
}

func (c *converter) addressGroups(in []*AddressGroup) {
	c.agIDs = map[string]bool{}
	seen := map[string]*AddressGroup{}
	for _, g := range in {
		if first, dup := seen[g.ID]; dup {
			if first.raw != g.raw {
				c.fail(g.loc.errorf("id", "address group given twice with different contents (first at %s:%d); the first is used", first.loc.file, first.loc.line))
			}
			continue
		}
		seen[g.ID] = g
		c.agIDs[g.ID] = true
		if err := labelID(g.ID); err != nil {
			c.fail(g.loc.err("id", err))
			continue
		}
		ag := &addressGroup{id: g.ID, name: g.Name, project: g.ProjectID, origin: origin(g.loc)}
		for i, a := range g.Addresses {
			p, err := parsePrefix(a)
			if err != nil {
				c.fail(g.loc.err(fmt.Sprintf("addresses[%d]", i), err))
				continue
			}
			ag.nets = append(ag.nets, p)
		}
		c.im.addressGroups = append(c.im.addressGroups, ag)
	}
	sort.Slice(c.im.addressGroups, func(i, j int) bool { return c.im.addressGroups[i].id < c.im.addressGroups[j].id })
}

func (c *converter) groups(in *Input) {
	c.groupIDs = map[string]bool{}
	byID := map[string]*SecurityGroup{}
	var order []*SecurityGroup
	for _, g := range in.SecurityGroups {
		first, dup := byID[g.ID]
		switch {
		case !dup:
			byID[g.ID] = g
			order = append(order, g)
		case !first.RulesKnown && g.RulesKnown:
			// A list row first, the full group later: the full one counts.
			*first = *g
		case first.RulesKnown && g.RulesKnown && first.raw != g.raw:
			c.fail(g.loc.errorf("id", "security group given twice with different contents (first at %s:%d); the first is used", first.loc.file, first.loc.line))
		}
	}
	// Rules read on their own join their group.
	for _, r := range in.Rules {
		g := byID[r.SecurityGroupID]
		if g == nil {
			c.fail(r.loc.errorf("security_group_id", "security group %s is not in the input", r.SecurityGroupID))
			continue
		}
		if !hasRule(g.Rules, r.ID) {
			g.Rules = append(g.Rules, r)
		}
	}
	for _, g := range order {
		c.groupIDs[g.ID] = true
		if !g.RulesKnown && !in.RuleList {
			c.fail(g.loc.errorf("", "its rules are not in the input (`openstack security group list` prints none); add `openstack security group show -f json %s` or GET /v2.0/security-groups. Until then the group allows nothing", g.ID))
			continue
		}
		if err := labelID(g.ID); err != nil {
			c.fail(g.loc.err("id", err))
			continue
		}
		if g.Stateful != nil && !*g.Stateful {
			if c.stateless == nil {
				c.stateless = map[string]bool{}
			}
			c.stateless[g.ID] = true
		}
		ng := &group{id: g.ID, name: g.Name, description: g.Description, project: g.ProjectID, origin: origin(g.loc)}
		for _, r := range g.Rules {
			a, dir, err := normalise(r)
			if err != nil {
				c.fail(err)
				continue
			}
			if dir == policy.Ingress {
				ng.ingress = append(ng.ingress, a)
			} else {
				ng.egress = append(ng.egress, a)
			}
		}
		sortAllows(ng.ingress)
		sortAllows(ng.egress)
		c.im.groups = append(c.im.groups, ng)
	}
	// Readers find a project's groups together, by name.
	sort.Slice(c.im.groups, func(i, j int) bool {
		a, b := c.im.groups[i], c.im.groups[j]
		if a.project != b.project {
			return a.project < b.project
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.id < b.id
	})
}

func hasRule(rs []*Rule, id string) bool {
	if id == "" {
		return false
	}
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

// protocolNumbers are Neutron's protocol names (neutron_lib.constants
// IP_PROTOCOL_MAP, plus "any"). Number 0 ("any", "ip", "hopopt") means
// every protocol, as in the Neutron API.
var protocolNumbers = map[string]int{
	"any": 0, "ip": 0, "hopopt": 0,
	"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "igmp": 2, "ipip": 4,
	"ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59,
	"ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132,
	"tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}

// ipv6Only are the protocols Neutron refuses in an IPv4 rule.
var ipv6Only = map[int]bool{41: true, 43: true, 44: true, 58: true, 59: true, 60: true}

// normalise applies Neutron's rules for one security group rule.
func normalise(r *Rule) (allow, policy.Direction, error) {
	a := allow{id: r.ID}
	var dir policy.Direction
	switch r.Direction {
	case "ingress":
		dir = policy.Ingress
	case "egress":
		dir = policy.Egress
	case "":
		return a, 0, r.loc.errorf("direction", "required (ingress or egress)")
	default:
		return a, 0, r.loc.errorf("direction", "unknown direction %q (want ingress or egress)", r.Direction)
	}
	switch r.Ethertype {
	case "IPv4":
		a.ipVersion = 4
	case "IPv6":
		a.ipVersion = 6
	case "":
		return a, 0, r.loc.errorf("ethertype", "required (IPv4 or IPv6)")
	default:
		return a, 0, r.loc.errorf("ethertype", "unknown ethertype %q (want IPv4 or IPv6)", r.Ethertype)
	}
	proto := 0
	if r.Protocol != nil {
		text := strings.ToLower(strings.TrimSpace(*r.Protocol))
		if n, ok := protocolNumbers[text]; ok {
			proto = n
		} else if n, err := strconv.Atoi(text); err == nil && n >= 0 && n <= 255 {
			proto = n
		} else if text != "" {
			return a, 0, r.loc.errorf("protocol", "unknown protocol %q (want a Neutron protocol name or a number 0-255)", *r.Protocol)
		}
		// Neutron: "icmp" or 1 in an IPv6 rule means ICMPv6.
		if a.ipVersion == 6 && proto == 1 {
			proto = 58
		}
		if a.ipVersion == 4 && ipv6Only[proto] {
			return a, 0, r.loc.errorf("protocol", "protocol %q exists only in IPv6 but ethertype is IPv4", *r.Protocol)
		}
	}
	a.proto = policy.Protocol(proto)
	if err := a.setPorts(r); err != nil {
		return a, 0, err
	}
	remotes := 0
	if r.RemoteIPPrefix != "" {
		remotes++
		p, err := parsePrefix(r.RemoteIPPrefix)
		if err != nil {
			return a, 0, r.loc.err("remote_ip_prefix", err)
		}
		if p.Addr().Is4() != (a.ipVersion == 4) {
			return a, 0, r.loc.errorf("remote_ip_prefix", "%s is not an IPv%d prefix but ethertype is %s", r.RemoteIPPrefix, a.ipVersion, r.Ethertype)
		}
		if p.Bits() > 0 { // 0.0.0.0/0 and ::/0 mean any peer of the family
			a.net = p
		}
	}
	if r.RemoteGroupID != "" {
		remotes++
		if err := labelID(r.RemoteGroupID); err != nil {
			return a, 0, r.loc.err("remote_group_id", err)
		}
		a.remoteGroup = r.RemoteGroupID
	}
	if r.RemoteAddressGroupID != "" {
		remotes++
		if err := labelID(r.RemoteAddressGroupID); err != nil {
			return a, 0, r.loc.err("remote_address_group_id", err)
		}
		a.addressGroup = r.RemoteAddressGroupID
	}
	if remotes > 1 {
		return a, 0, r.loc.errorf("", "remote_ip_prefix, remote_group_id and remote_address_group_id are mutually exclusive (Neutron refuses such a rule)")
	}
	return a, dir, nil
}

// setPorts reads port_range_min/max: destination ports for TCP, UDP and
// SCTP, ICMP type and code for ICMP and ICMPv6; Neutron refuses them for
// any other protocol.
func (a *allow) setPorts(r *Rule) error {
	lo, hi := r.PortRangeMin, r.PortRangeMax
	if lo == nil && hi == nil {
		return nil
	}
	switch {
	case a.proto == 0:
		return r.loc.errorf("port_range_min", "a port range needs a protocol")
	case a.proto == policy.ICMP || a.proto == policy.ICMPv6:
		if lo == nil {
			return r.loc.errorf("port_range_min", "an ICMP code (port_range_max) needs an ICMP type (port_range_min)")
		}
		if *lo < 0 || *lo > 255 {
			return r.loc.errorf("port_range_min", "ICMP type %d out of range 0-255", *lo)
		}
		if *lo == 255 {
			return r.loc.errorf("port_range_min", "ICMP type 255 cannot be matched (Calico matches types 0-254)")
		}
		a.icmp = &policy.ICMPMatch{Type: uint8(*lo)}
		if hi != nil {
			if *hi < 0 || *hi > 255 {
				return r.loc.errorf("port_range_max", "ICMP code %d out of range 0-255", *hi)
			}
			code := uint8(*hi)
			a.icmp.Code = &code
		}
		return nil
	case a.proto.HasPorts():
		if lo == nil || hi == nil {
			return r.loc.errorf("port_range_min", "port_range_min and port_range_max must both be set (Neutron refuses one alone)")
		}
		min, err := policy.PortNumber(*lo)
		if err != nil {
			return r.loc.err("port_range_min", err)
		}
		max, err := policy.PortNumber(*hi)
		if err != nil {
			return r.loc.err("port_range_max", err)
		}
		if min > max {
			return r.loc.errorf("port_range_min", "port_range_min %d is above port_range_max %d", min, max)
		}
		a.ports = &policy.PortMatch{Min: min, Max: max}
		return nil
	case a.proto == 33 || a.proto == policy.UDPLite:
		return r.loc.errorf("port_range_min", "port ranges for %s cannot be matched by flowgate (only TCP, UDP and SCTP ports)", protocolName(a.proto))
	}
	return r.loc.errorf("port_range_min", "protocol %s has no ports (Neutron accepts port ranges only for TCP, UDP, UDP-Lite, SCTP and DCCP, and ICMP type/code)", protocolName(a.proto))
}

func protocolName(p policy.Protocol) string {
	if p == 33 {
		return "dccp"
	}
	return p.String()
}

// sortAllows orders a direction's rules so the output does not depend on
// the order Neutron listed them in: family, protocol, ports, peer.
func sortAllows(as []allow) {
	key := func(a allow) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%d|%03d|", a.ipVersion, a.proto)
		if a.ports != nil {
			fmt.Fprintf(&b, "%05d-%05d|", a.ports.Min, a.ports.Max)
		}
		if a.icmp != nil {
			fmt.Fprintf(&b, "%03d|", a.icmp.Type)
			if a.icmp.Code != nil {
				fmt.Fprintf(&b, "%03d", *a.icmp.Code)
			}
		}
		switch {
		case a.net.IsValid():
			fmt.Fprintf(&b, "|1 %s", a.net)
		case a.remoteGroup != "":
			fmt.Fprintf(&b, "|2 %s", a.remoteGroup)
		case a.addressGroup != "":
			fmt.Fprintf(&b, "|3 %s", a.addressGroup)
		default:
			b.WriteString("|0")
		}
		return b.String() + "|" + a.id
	}
	sort.SliceStable(as, func(i, j int) bool { return key(as[i]) < key(as[j]) })
}

// parsePrefix reads a CIDR or a bare address (a host prefix), with host
// bits cleared as Neutron normalises them.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid IP or CIDR %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (c *converter) ports(in []*Port) {
	byID := map[string]*Port{}
	var order []*Port
	for _, p := range in {
		first, dup := byID[p.ID]
		switch {
		case !dup:
			byID[p.ID] = p
			order = append(order, p)
		case len(first.Missing) > len(p.Missing):
			*first = *p // the fuller record wins over a list row
		case len(first.Missing) == len(p.Missing) && first.raw != p.raw:
			c.fail(p.loc.errorf("id", "port given twice with different contents (first at %s:%d); the first is used", first.loc.file, first.loc.line))
		}
	}
	// file → the fields some of its ports lack (list rows always do).
	partial := map[string]map[string]int{}
	for _, p := range order {
		if vp := c.port(p); vp != nil {
			c.im.ports = append(c.im.ports, vp)
		}
		for _, f := range p.Missing {
			if partial[p.loc.file] == nil {
				partial[p.loc.file] = map[string]int{}
			}
			partial[p.loc.file][f]++
		}
	}
	files := make([]string, 0, len(partial))
	for f := range partial {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		var fields []string
		for name, n := range partial[f] {
			fields = append(fields, fmt.Sprintf("%s (%d)", name, n))
		}
		sort.Strings(fields)
		c.warn(&decode.Error{File: f, Err: fmt.Errorf("ports lack %s, as `openstack port list` rows do: assumed port security on, no network, no allowed address pairs and no security groups. Use `openstack port show -f json` or GET /v2.0/ports for exact results", strings.Join(fields, ", "))})
	}
	// Readers find a network's ports together, by name.
	sort.Slice(c.im.ports, func(i, j int) bool {
		a, b := c.im.ports[i], c.im.ports[j]
		if a.network != b.network {
			return a.network < b.network
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.id < b.id
	})
}

// port converts one port. An invalid field is reported and left out, and
// the port kept: every part left out only narrows what the port may do
// (an address less, a group less, port security assumed on), while a port
// left out altogether would be bound to no endpoint and go unfiltered.
func (c *converter) port(p *Port) *vmPort {
	if msgs := validation.IsDNS1123Subdomain(p.ID); len(msgs) > 0 {
		c.fail(p.loc.errorf("id", "%q cannot be an endpoint name: %s", p.ID, strings.Join(msgs, "; ")))
		return nil
	}
	vp := &vmPort{id: p.ID, name: p.Name, owner: p.DeviceOwner, device: p.DeviceID, host: p.HostID, origin: origin(p.loc)}
	if p.NetworkID != "" {
		if err := labelValue(p.NetworkID); err != nil {
			c.fail(p.loc.err("network_id", err))
		} else {
			vp.network = p.NetworkID
		}
	}
	if p.ProjectID != "" && labelValue(p.ProjectID) == nil {
		vp.project = p.ProjectID
	}
	if p.MACAddress != "" {
		mac, err := net.ParseMAC(p.MACAddress)
		if err != nil || len(mac) != 6 {
			c.fail(p.loc.errorf("mac_address", "invalid MAC %q", p.MACAddress))
		} else {
			vp.mac = mac
		}
	}
	for i, ip := range p.FixedIPs {
		a, err := netip.ParseAddr(strings.TrimSpace(ip.IPAddress))
		if err != nil {
			c.fail(p.loc.errorf(fmt.Sprintf("fixed_ips[%d].ip_address", i), "invalid IP %q", ip.IPAddress))
			continue
		}
		vp.addIP(a.Unmap())
	}
	seen := map[string]bool{}
	for i, g := range p.SecurityGroups {
		if err := labelID(g); err != nil {
			c.fail(p.loc.err(fmt.Sprintf("security_groups[%d]", i), err))
			continue
		}
		if !seen[g] {
			seen[g] = true
			vp.groups = append(vp.groups, g)
		}
	}
	sort.Strings(vp.groups)
	vp.stateless = c.statelessGroups(p, vp.groups)
	switch {
	case p.PortSecurityEnabled != nil && !*p.PortSecurityEnabled:
		vp.security = PortSecurityOff
		if len(vp.groups) > 0 {
			c.warn(p.loc.errorf("port_security_enabled", "port security is off but the port lists security groups (Neutron refuses this): it is not filtered and only counts as a member of its groups"))
		}
	case strings.HasPrefix(p.DeviceOwner, "network:"):
		vp.security = PortTrusted
	default:
		vp.security = PortSecurityOn
	}
	for i, pair := range p.AllowedAddressPairs {
		field := fmt.Sprintf("allowed_address_pairs[%d]", i)
		pr, err := parsePrefix(pair.IPAddress)
		if err != nil {
			c.fail(p.loc.err(field+".ip_address", err))
			continue
		}
		ap := policy.AddressPair{Prefix: pr}
		if pair.MACAddress != "" {
			pm, err := net.ParseMAC(pair.MACAddress)
			if err != nil || len(pm) != 6 {
				c.fail(p.loc.errorf(field+".mac_address", "invalid MAC %q", pair.MACAddress))
				continue
			}
			ap.MAC = pm
		}
		vp.pairs = append(vp.pairs, ap)
		switch {
		case pr.IsSingleIP():
			vp.addIP(pr.Addr())
		case pr.Bits() > 0:
			vp.pairPrefixes = append(vp.pairPrefixes, pr)
		}
		// A pair of all addresses is a member of the port's groups by its
		// MAC only (policy.AddressPair), never by address.
	}
	return vp
}

func (vp *vmPort) addIP(a netip.Addr) {
	for _, b := range vp.ips {
		if a == b {
			return
		}
	}
	vp.ips = append(vp.ips, a)
}

// remotes warns about remote address groups the input does not define:
// rules naming them match nothing until they are added.
func (c *converter) remotes() {
	warned := map[string]bool{}
	for _, g := range c.im.groups {
		for _, a := range append(append([]allow(nil), g.ingress...), g.egress...) {
			if a.addressGroup != "" && !c.agIDs[a.addressGroup] && !warned[a.addressGroup] {
				warned[a.addressGroup] = true
				c.warn(&decode.Error{File: g.origin.File, Line: g.origin.Line, Object: named("SecurityGroup", g.id, g.name),
					Err: fmt.Errorf("remote address group %s is not in the input: rules naming it match nothing (add `openstack address group show -f json %s`)", a.addressGroup, a.addressGroup)})
			}
		}
	}
	for _, p := range c.im.ports {
		for _, g := range p.groups {
			if !c.groupIDs[g] && !warned[g] {
				warned[g] = true
				c.warn(&decode.Error{File: p.origin.File, Line: p.origin.Line, Object: named("Port", p.id, p.name),
					Err: fmt.Errorf("security group %s is not in the input: nothing it allows is enforced", g)})
			}
		}
	}
}

// statelessGroups reports whether a port's groups are stateless. Neutron
// refuses a port with both kinds; such a port is reported and enforced
// statefully, as its stateful groups ask.
func (c *converter) statelessGroups(p *Port, groups []string) bool {
	var stateless, stateful []string
	for _, g := range groups {
		switch {
		case c.stateless[g]:
			stateless = append(stateless, g)
		case c.groupIDs[g]: // an absent group has no known kind
			stateful = append(stateful, g)
		}
	}
	if len(stateless) > 0 && len(stateful) > 0 {
		c.fail(p.loc.errorf("security_groups", "stateless groups (%s) mixed with stateful ones (%s), which Neutron refuses: the port is enforced statefully",
			strings.Join(stateless, ", "), strings.Join(stateful, ", ")))
		return false
	}
	return len(stateless) > 0
}
