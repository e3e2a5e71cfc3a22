package neutron

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/flowgate/flowgate/translator/policy"
)

// The projectcalico.org/v3 documents WriteYAML emits, fields in the order
// people read them.

type yamlDoc struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   yamlMeta `yaml:"metadata"`
	Spec       any      `yaml:"spec"`
}

type yamlMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type yamlPolicySpec struct {
	Order    float64    `yaml:"order"`
	Selector string     `yaml:"selector"`
	Types    []string   `yaml:"types"`
	Ingress  []yamlRule `yaml:"ingress,omitempty"`
	Egress   []yamlRule `yaml:"egress,omitempty"`
}

type yamlRule struct {
	Action      string        `yaml:"action"`
	IPVersion   int           `yaml:"ipVersion,omitempty"`
	Protocol    any           `yaml:"protocol,omitempty"`
	ICMP        *yamlICMP     `yaml:"icmp,omitempty"`
	Source      *yamlEntity   `yaml:"source,omitempty"`
	Destination *yamlEntity   `yaml:"destination,omitempty"`
	Metadata    *yamlRuleMeta `yaml:"metadata,omitempty"`
}

type yamlICMP struct {
	Type int  `yaml:"type"`
	Code *int `yaml:"code,omitempty"`
}

type yamlEntity struct {
	Nets     []string `yaml:"nets,omitempty"`
	Selector string   `yaml:"selector,omitempty"`
	Ports    []any    `yaml:"ports,omitempty"`
}

type yamlRuleMeta struct {
	Annotations map[string]string `yaml:"annotations"`
}

type yamlEndpointSpec struct {
	Orchestrator string   `yaml:"orchestrator"`
	Workload     string   `yaml:"workload,omitempty"`
	Node         string   `yaml:"node,omitempty"`
	IPNetworks   []string `yaml:"ipNetworks,omitempty"`
	MAC          string   `yaml:"mac,omitempty"`
	Profiles     []string `yaml:"profiles,omitempty"`
}

type yamlNetworkSetSpec struct {
	Nets []string `yaml:"nets"`
}

const apiVersion = "projectcalico.org/v3"

// WriteYAML writes the import as Calico projectcalico.org/v3 documents —
// the baseline and one NetworkPolicy per security group, NetworkSets for
// address groups and prefix pairs, one WorkloadEndpoint per port — that
// `flowgate check`, `matrix`, `apply` and the agent read like any other
// policy, and that mean exactly what Objects returns. Each document starts
// with a comment saying what it came from.
func (im *Import) WriteYAML(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Neutron security groups and ports as Calico policy, written by `flowgate import openstack`\n")
	if len(im.Files) > 0 {
		fmt.Fprintf(&b, "# from %s.\n", printableText(strings.Join(im.Files, ", ")))
	}
	fmt.Fprintf(&b, "# %d security group(s), %d port(s), %d address group(s). Regenerate rather than edit:\n", len(im.groups), len(im.ports), len(im.addressGroups))
	fmt.Fprintf(&b, "# the next import replaces this file.\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	emit := func(comment string, d yamlDoc) error {
		var n yaml.Node
		if err := n.Encode(d); err != nil {
			return fmt.Errorf("encode %s %s: %w", d.Kind, d.Metadata.Name, err)
		}
		n.HeadComment = printableComment(comment)
		if err := enc.Encode(&n); err != nil {
			return fmt.Errorf("write YAML: %w", err)
		}
		return nil
	}
	if err := emit("Neutron's fixed rules for every filtered port: DHCP client yes, DHCP server and\nrouter advertisements no, ICMPv6 neighbour discovery yes.", baselineDoc()); err != nil {
		return err
	}
	for _, g := range im.groups {
		if err := emit(g.comment(), g.doc()); err != nil {
			return err
		}
	}
	for _, ag := range im.addressGroups {
		if err := emit(fmt.Sprintf("Address group %q (%s).", ag.name, ag.id), ag.doc()); err != nil {
			return err
		}
	}
	for _, p := range im.ports {
		if s := p.pairSet(); s != nil {
			d := yamlDoc{APIVersion: apiVersion, Kind: "NetworkSet",
				Metadata: yamlMeta{Name: s.Name, Namespace: Namespace, Labels: s.Labels},
				Spec:     yamlNetworkSetSpec{Nets: prefixStrings(s.Nets)}}
			if err := emit(fmt.Sprintf("Allowed address pairs of port %s: members of its security groups.", p.id), d); err != nil {
				return err
			}
		}
	}
	for _, p := range im.ports {
		if err := emit(p.comment(), p.doc()); err != nil {
			return err
		}
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	return nil
}

func policyDoc(name, selector string, order float64, ann map[string]string, in, eg []yamlRule) yamlDoc {
	return yamlDoc{
		APIVersion: apiVersion, Kind: "NetworkPolicy",
		Metadata: yamlMeta{Name: name, Namespace: Namespace, Annotations: ann},
		Spec: yamlPolicySpec{Order: order, Selector: selector, Types: []string{"Ingress", "Egress"},
			Ingress: in, Egress: eg},
	}
}

func baselineDoc() yamlDoc {
	conv := func(rs []baselineRule) []yamlRule {
		var out []yamlRule
		for _, b := range rs {
			r := yamlRule{Action: b.action.String(), IPVersion: int(b.ipVersion), Protocol: protocolText(b.proto),
				Metadata: &yamlRuleMeta{Annotations: map[string]string{"description": b.comment}}}
			if b.hasICMPTyp {
				r.ICMP = &yamlICMP{Type: int(b.icmpType)}
			}
			if b.srcPort != 0 {
				r.Source = &yamlEntity{Ports: []any{int(b.srcPort)}}
			}
			if b.dstPort != 0 {
				r.Destination = &yamlEntity{Ports: []any{int(b.dstPort)}}
			}
			out = append(out, r)
		}
		return out
	}
	return policyDoc(BaselinePolicy, filteredSelector, BaselineOrder, nil, conv(baselineIngress), conv(baselineEgress))
}

// printableComment makes text from the input safe in a YAML comment: YAML
// forbids control characters anywhere in a document (a device_owner with a
// DEL in it made the whole file unreadable, found by FuzzImport), and a
// line break would end the comment; each becomes U+FFFD. Line breaks the
// comment itself puts between sentences stay.
func printableComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || unicode.IsPrint(r) {
			return r
		}
		return unicode.ReplacementChar
	}, s)
}

// printableText is printableComment for one line: line breaks go too.
func printableText(s string) string {
	return printableComment(strings.ReplaceAll(s, "\n", string(unicode.ReplacementChar)))
}

func (g *group) comment() string {
	name := g.name
	if name == "" {
		name = g.id
	}
	s := fmt.Sprintf("Security group %q: %d ingress and %d egress rule(s).", name, len(g.ingress), len(g.egress))
	if len(g.ingress) == 0 {
		s += "\nNo ingress rule: it lets nothing in; its ports get only what their other groups allow."
	}
	if len(g.egress) == 0 {
		s += "\nNo egress rule: it lets nothing out; its ports get only what their other groups allow."
	}
	return s
}

func (g *group) doc() yamlDoc {
	ann := map[string]string{annGroupID: g.id}
	if g.name != "" {
		ann[annName] = g.name
	}
	if g.description != "" {
		ann[annDescription] = g.description
	}
	if g.project != "" {
		ann[annProject] = g.project
	}
	conv := func(as []allow, dir policy.Direction) []yamlRule {
		var out []yamlRule
		for _, a := range as {
			out = append(out, a.yaml(dir))
		}
		return out
	}
	return policyDoc(groupPolicyName(g.id), appliesSelector(g.id), GroupOrder, ann, conv(g.ingress, policy.Ingress), conv(g.egress, policy.Egress))
}

func (a allow) yaml(dir policy.Direction) yamlRule {
	r := yamlRule{Action: "Allow", IPVersion: int(a.ipVersion)}
	if a.proto != 0 {
		r.Protocol = protocolText(a.proto)
	}
	if a.icmp != nil {
		r.ICMP = &yamlICMP{Type: int(a.icmp.Type)}
		if a.icmp.Code != nil {
			c := int(*a.icmp.Code)
			r.ICMP.Code = &c
		}
	}
	if a.id != "" {
		r.Metadata = &yamlRuleMeta{Annotations: map[string]string{annRuleID: a.id}}
	}
	remote := &yamlEntity{}
	switch {
	case a.net.IsValid():
		remote.Nets = []string{a.net.String()}
	case a.remoteGroup != "":
		remote.Selector = memberSelector(a.remoteGroup)
	case a.addressGroup != "":
		remote.Selector = addressGroupSelector(a.addressGroup)
	}
	var ports []any
	if a.ports != nil {
		ports = []any{portText(*a.ports)}
	}
	if dir == policy.Ingress {
		if remote.Nets != nil || remote.Selector != "" {
			r.Source = remote
		}
		if ports != nil {
			r.Destination = &yamlEntity{Ports: ports}
		}
	} else {
		remote.Ports = ports
		if remote.Nets != nil || remote.Selector != "" || ports != nil {
			r.Destination = remote
		}
	}
	return r
}

// protocolText writes a protocol the way Calico reads it: its name when
// Calico has one, else the number.
func protocolText(p policy.Protocol) any {
	switch p {
	case policy.TCP:
		return "TCP"
	case policy.UDP:
		return "UDP"
	case policy.ICMP:
		return "ICMP"
	case policy.ICMPv6:
		return "ICMPv6"
	case policy.SCTP:
		return "SCTP"
	case policy.UDPLite:
		return "UDPLite"
	}
	return int(p)
}

func portText(m policy.PortMatch) any {
	if m.Min == m.Max {
		return int(m.Min)
	}
	return strconv.Itoa(int(m.Min)) + ":" + strconv.Itoa(int(m.Max))
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func (ag *addressGroup) doc() yamlDoc {
	ann := map[string]string{}
	if ag.name != "" {
		ann[annName] = ag.name
	}
	if ag.project != "" {
		ann[annProject] = ag.project
	}
	if len(ann) == 0 {
		ann = nil
	}
	nets := prefixStrings(ag.nets)
	return yamlDoc{APIVersion: apiVersion, Kind: "NetworkSet",
		Metadata: yamlMeta{Name: addressGroupSetName(ag.id), Namespace: Namespace,
			Labels: map[string]string{addressGroupKey(ag.id): ""}, Annotations: ann},
		Spec: yamlNetworkSetSpec{Nets: nets}}
}

func (p *vmPort) comment() string {
	what := "port " + p.id
	if p.name != "" {
		what = fmt.Sprintf("port %q (%s)", p.name, p.id)
	}
	switch p.security {
	case PortSecurityOff:
		return "Neutron " + what + ": port security disabled, not filtered."
	case PortTrusted:
		return "Neutron " + what + ": owned by Neutron (" + printableText(p.owner) + "), not filtered."
	}
	if len(p.groups) == 0 {
		return "Neutron " + what + ": no security group, so nothing in or out but DHCP."
	}
	return "Neutron " + what + "."
}

func (p *vmPort) doc() yamlDoc {
	ann := map[string]string{}
	if p.name != "" {
		ann[annName] = p.name
	}
	if p.owner != "" {
		ann[annOwner] = p.owner
	}
	if len(p.pairs) > 0 {
		ann[annPairs] = pairsText(p.pairs)
	}
	if len(ann) == 0 {
		ann = nil
	}
	spec := yamlEndpointSpec{Orchestrator: Orchestrator, Workload: p.device, Node: p.host, Profiles: p.profiles()}
	for _, a := range p.ips {
		spec.IPNetworks = append(spec.IPNetworks, netip.PrefixFrom(a, a.BitLen()).String())
	}
	if p.mac != nil {
		spec.MAC = p.mac.String()
	}
	return yamlDoc{APIVersion: apiVersion, Kind: "WorkloadEndpoint",
		Metadata: yamlMeta{Name: p.id, Namespace: Namespace, Labels: p.labels(), Annotations: ann},
		Spec:     spec}
}

// pairsText writes allowed address pairs as decode reads them back:
// address or CIDR, then "@MAC" when the pair names one.
func pairsText(pairs []policy.AddressPair) string {
	ps := make([]string, 0, len(pairs))
	for _, pr := range pairs {
		s := pr.Prefix.String()
		if pr.Prefix.IsSingleIP() {
			s = pr.Prefix.Addr().String()
		}
		if pr.MAC != nil {
			s += "@" + pr.MAC.String()
		}
		ps = append(ps, s)
	}
	return strings.Join(ps, ",")
}
