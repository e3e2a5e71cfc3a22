package neutron

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

var update = flag.Bool("update", false, "rewrite the golden YAML files")

// twoTenants are the sample's files, as GET /v2.0/security-groups,
// /v2.0/ports and /v2.0/address-groups return them.
var twoTenants = []string{
	"testdata/two-tenants/security-groups.json",
	"testdata/two-tenants/ports.json",
	"testdata/two-tenants/address-groups.json",
}

// read decodes files into one Input, failing on any decoding problem.
func read(t *testing.T, files ...string) *Input {
	t.Helper()
	in := &Input{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		i, errs := Decode(f, data)
		for _, err := range errs {
			t.Errorf("decode %s: %v", f, err)
		}
		in.Add(i)
	}
	return in
}

func convert(t *testing.T, in *Input) *Import {
	t.Helper()
	im, errs := Convert(in)
	for _, err := range errs {
		t.Errorf("convert: %v", err)
	}
	return im
}

func yamlOf(t *testing.T, im *Import) string {
	t.Helper()
	var b bytes.Buffer
	if err := im.WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// world is the native import of the sample, and its endpoints by port name.
type world struct {
	w    *policy.World
	ev   *evaluator.Evaluator
	port map[string]*policy.Endpoint
}

func sampleWorld(t *testing.T) *world {
	t.Helper()
	in := read(t, twoTenants...)
	im := convert(t, in)
	w, errs := decode.Build(im.Objects())
	for _, err := range errs {
		t.Fatalf("build: %v", err)
	}
	sw := &world{w: w, ev: evaluator.New(w, evaluator.DefaultOptions()), port: map[string]*policy.Endpoint{}}
	for _, p := range in.Ports {
		name := p.Name
		if name == "" {
			name = p.DeviceOwner
		}
		sw.port[name] = sw.ev.Endpoint(Namespace + "/" + p.ID)
		if sw.port[name] == nil {
			t.Fatalf("port %s (%s) is no endpoint", name, p.ID)
		}
	}
	return sw
}

// TestSampleYAML: the sample's import reads as the golden file (go test
// -update rewrites it after a deliberate change).
func TestSampleYAML(t *testing.T) {
	got := yamlOf(t, convert(t, read(t, twoTenants...)))
	golden := "testdata/two-tenants/expected.yaml"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("YAML differs from %s (go test -update to accept):\n%s", golden, firstDiff(string(want), got))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, x, y)
		}
	}
	return "(same lines)"
}

// TestYAMLMeansTheNativeImport: the YAML decodes with flowgate's own
// decoders without a single problem, into the same policies, sets and
// endpoints as the native import, and both give the same truth table for
// every pair of ports and outside addresses.
func TestYAMLMeansTheNativeImport(t *testing.T) {
	im := convert(t, read(t, twoTenants...))
	native, errs := decode.Build(im.Objects())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	objs, errs := decode.Decode("import.yaml", []byte(yamlOf(t, im)))
	for _, err := range errs {
		t.Errorf("the imported YAML does not decode: %v", err)
	}
	fromYAML, errs := decode.Build(objs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if a, b := dumpWorld(native), dumpWorld(fromYAML); a != b {
		t.Errorf("native import and YAML differ:\n%s", firstDiff(a, b))
	}
	outside := []netip.Addr{
		netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("203.0.113.9"),
		netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("10.99.0.5"), netip.MustParseAddr("2001:db8::9"),
	}
	services := []evaluator.Service{
		{Protocol: policy.TCP, Port: 22}, {Protocol: policy.TCP, Port: 80}, {Protocol: policy.TCP, Port: 5432},
		{Protocol: policy.TCP, Port: 8080}, {Protocol: policy.UDP, Port: 53}, {Protocol: policy.ICMP},
	}
	matrix := func(w *policy.World) []evaluator.MatrixRow {
		ev := evaluator.New(w, evaluator.DefaultOptions())
		return ev.Matrix(ev.Participants(outside), services)
	}
	a, b := matrix(native), matrix(fromYAML)
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("truth tables differ (%d vs %d rows)", len(a), len(b))
	}
	allowed := 0
	for _, r := range a {
		if r.Allowed {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(a) {
		t.Fatalf("degenerate truth table: %d of %d allowed", allowed, len(a))
	}
	t.Logf("%d cells, %d allowed, identical", len(a), allowed)
}

// dumpWorld prints what a world means, in a stable order, so that two
// worlds can be compared as text.
func dumpWorld(w *policy.World) string {
	var lines []string
	for _, p := range w.Policies {
		lines = append(lines, fmt.Sprintf("policy %s kind=%s tier=%s order=%v applies=%s types=%s", p.ID(), p.Kind, p.Tier, p.Order, p.AppliesTo, p.Types))
		for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
			for _, r := range p.Rules(d) {
				lines = append(lines, fmt.Sprintf("  %s %s", d, dumpRule(r)))
			}
		}
	}
	for _, s := range w.NetworkSets {
		lines = append(lines, fmt.Sprintf("set %s labels=%v nets=%v", s.ID(), s.Labels, s.Nets))
	}
	for _, e := range w.Endpoints {
		lines = append(lines, fmt.Sprintf("endpoint %s kind=%s labels=%v ips=%v orch=%s node=%s mac=%s profiles=%v iface=%q guard=%d pairs=%v",
			e.ID(), e.Kind, e.Labels, e.IPs, e.Orchestrator, e.Node, e.MAC, e.Profiles, e.InterfaceName, e.Guard, e.AddressPairs))
	}
	return strings.Join(lines, "\n")
}

func dumpRule(r policy.Rule) string {
	peer := func(p policy.Peer) string {
		sel := "-"
		if p.Selector != nil {
			sel = p.Selector.String()
		}
		return fmt.Sprintf("{nets=%v sel=%s ports=%v}", p.Nets, sel, p.Ports)
	}
	icmp := "-"
	if r.ICMP != nil {
		icmp = fmt.Sprint(r.ICMP.Type)
		if r.ICMP.Code != nil {
			icmp += fmt.Sprintf("/%d", *r.ICMP.Code)
		}
	}
	return fmt.Sprintf("[%d] %s v%d proto=%s icmp=%s src=%s dst=%s", r.Index, r.Action, r.IPVersion, r.Protocol, icmp, peer(r.Source), peer(r.Destination))
}

// packet builds the first packet of a connection.
func packet(src, dst string, proto policy.Protocol, sport, dport uint16) evaluator.Packet {
	return evaluator.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Protocol: proto, SrcPort: sport, DstPort: dport}
}

func icmpPacket(src, dst string, typ, code uint8) evaluator.Packet {
	p := evaluator.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Protocol: policy.ICMP, ICMPType: typ, ICMPCode: code}
	if p.Src.Is6() {
		p.Protocol = policy.ICMPv6
	}
	return p
}

// TestNeutronSemantics: what each port of the sample may do, case by
// case, as Neutron's OVS firewall would decide it.
func TestNeutronSemantics(t *testing.T) {
	sw := sampleWorld(t)
	ip := func(name string) string { return sw.port[name].IPs[0].String() }
	cases := []struct {
		what     string
		from, to string // port names, or "" for an outside address in the packet
		pkt      evaluator.Packet
		allowed  bool
	}{
		// Remote group: db accepts PostgreSQL from members of "web" only.
		{"web-1 (in web) to db-1:5432", "web-1", "db-1", packet(ip("web-1"), ip("db-1"), policy.TCP, 40000, 5432), true},
		{"web-2 (in web, other host) to db-1:5432", "web-2", "db-1", packet(ip("web-2"), ip("db-1"), policy.TCP, 40000, 5432), true},
		{"db-1 to db-1's group peer web-1:5432 (web has no 5432)", "db-1", "web-1", packet(ip("db-1"), ip("web-1"), policy.TCP, 40000, 5432), true},
		{"lb-1 (other tenant) to db-1:5432", "lb-1", "db-1", packet(ip("lb-1"), ip("db-1"), policy.TCP, 40000, 5432), false},
		{"outside to db-1:5432", "", "db-1", packet("10.1.2.3", ip("db-1"), policy.TCP, 40000, 5432), false},
		{"web-1 to db-1:5432 over IPv6 (IPv6 rule)", "web-1", "db-1", packet("fd00:a::11", "fd00:a::21", policy.TCP, 40000, 5432), true},
		// Default security group: ingress from its own members, egress anywhere.
		{"db-1 to web-1:9999 (same default group)", "db-1", "web-1", packet(ip("db-1"), ip("web-1"), policy.TCP, 40000, 9999), true},
		{"web-1 to an outside server (default egress)", "web-1", "", packet(ip("web-1"), "203.0.113.9", policy.TCP, 40000, 443), true},
		{"lb-1 to web-1:9999 (other tenant's default group)", "lb-1", "web-1", packet(ip("lb-1"), ip("web-1"), policy.TCP, 40000, 9999), false},
		{"outside to web-1:80 (web: 80 from anywhere)", "", "web-1", packet("203.0.113.9", ip("web-1"), policy.TCP, 40000, 80), true},
		{"outside to web-1:22 (web: 22 from 10.10.0.0/24 only)", "", "web-1", packet("203.0.113.9", ip("web-1"), policy.TCP, 40000, 22), false},
		{"outside IPv6 to web-1:443", "", "web-1", packet("2001:db8::9", "fd00:a::11", policy.TCP, 40000, 443), true},
		// No security group, port security on: nothing in or out.
		{"quarantine to web-1:80", "quarantine", "web-1", packet(ip("quarantine"), ip("web-1"), policy.TCP, 40000, 80), false},
		{"web-1 to quarantine:22", "web-1", "quarantine", packet(ip("web-1"), ip("quarantine"), policy.TCP, 40000, 22), false},
		// Neutron's DHCP rules, whatever the groups say.
		{"quarantine as DHCP client", "quarantine", "network:dhcp", packet(ip("quarantine"), ip("network:dhcp"), policy.UDP, 68, 67), true},
		{"DHCP offer to quarantine", "network:dhcp", "quarantine", packet(ip("network:dhcp"), ip("quarantine"), policy.UDP, 67, 68), true},
		{"web-1 as a DHCP server (default egress allows all)", "web-1", "quarantine", packet(ip("web-1"), ip("quarantine"), policy.UDP, 67, 68), false},
		{"web-1 as a DHCPv6 server", "web-1", "", packet("fd00:a::11", "fd00:a::99", policy.UDP, 547, 546), false},
		// ICMP type/code rules.
		{"ping web-1 from the site (icmp-diag: echo from 10/8)", "", "web-1", icmpPacket("10.1.2.3", ip("web-1"), 8, 0), true},
		{"ping web-1 from the Internet", "", "web-1", icmpPacket("203.0.113.9", ip("web-1"), 8, 0), false},
		{"fragmentation needed to web-1 from anywhere (type 3 code 4)", "", "web-1", icmpPacket("203.0.113.9", ip("web-1"), 3, 4), true},
		{"port unreachable to web-1 (type 3 code 3)", "", "web-1", icmpPacket("203.0.113.9", ip("web-1"), 3, 3), false},
		{"ping6 web-1 ('ipv6-icmp' type 128 from ::/0)", "", "web-1", icmpPacket("2001:db8::9", "fd00:a::11", 128, 0), true},
		{"packet too big to web-1 ('icmp' in an IPv6 rule is ICMPv6)", "", "web-1", icmpPacket("2001:db8::9", "fd00:a::11", 2, 0), true},
		{"ping web-2 from the site (no icmp-diag)", "", "web-2", icmpPacket("10.1.2.3", ip("web-2"), 8, 0), false},
		// Protocol by name: VRRP between the load balancers only.
		{"VRRP lb-1 to lb-2", "lb-1", "lb-2", evaluator.Packet{Src: sw.port["lb-1"].IPs[0], Dst: netip.MustParseAddr("224.0.0.18"), Protocol: 112}, true},
		{"VRRP from outside to lb-2", "", "lb-2", evaluator.Packet{Src: netip.MustParseAddr("10.20.0.99"), Dst: sw.port["lb-2"].IPs[0], Protocol: 112}, false},
		// Address group as remote.
		{"partner 192.0.2.10 to lb-1:8080", "", "lb-1", packet("192.0.2.10", ip("lb-1"), policy.TCP, 40000, 8080), true},
		{"partner 198.51.100.7 to lb-1:8080", "", "lb-1", packet("198.51.100.7", ip("lb-1"), policy.TCP, 40000, 8080), true},
		{"198.51.100.8 (not in the group) to lb-1:8080", "", "lb-1", packet("198.51.100.8", ip("lb-1"), policy.TCP, 40000, 8080), false},
		{"lb-1 egress DNS to 192.0.2.53 (lb-vrrp) ", "lb-1", "", packet(ip("lb-1"), "192.0.2.53", policy.UDP, 40000, 53), true},
		// Allowed address pairs.
		{"lb-1 from its VIP to lb-2 (pair is a default-group member)", "lb-1", "lb-2", packet("10.20.0.100", ip("lb-2"), policy.TCP, 40000, 9999), true},
		{"from router-vm's /24 pair to lb-1 (Neutron: member by address)", "", "lb-1", packet("10.99.0.5", ip("lb-1"), policy.TCP, 40000, 22), true},
		{"from anywhere to lb-1: router-vm's 0.0.0.0/0 pair opens nothing", "", "lb-1", packet("203.0.113.9", ip("lb-1"), policy.TCP, 40000, 22), false},
		// Port security off and Neutron's own ports: not filtered.
		{"outside to nfv-probe:12345", "", "nfv-probe", packet("203.0.113.9", ip("nfv-probe"), policy.TCP, 40000, 12345), true},
		{"nfv-probe to the Internet", "nfv-probe", "", packet(ip("nfv-probe"), "203.0.113.9", policy.UDP, 40000, 9), true},
		{"nfv-probe to quarantine (quarantine's ingress still applies)", "nfv-probe", "quarantine", packet(ip("nfv-probe"), ip("quarantine"), policy.TCP, 40000, 22), false},
		{"web-1 to the router port", "web-1", "network:router_interface", packet(ip("web-1"), ip("network:router_interface"), policy.TCP, 40000, 179), true},
		{"router port to web-1:22 (from 10.10.0.0/24)", "network:router_interface", "web-1", packet(ip("network:router_interface"), ip("web-1"), policy.TCP, 40000, 22), true},
	}
	for _, c := range cases {
		var src, dst *policy.Endpoint
		if c.from != "" {
			src = sw.port[c.from]
		}
		if c.to != "" {
			dst = sw.port[c.to]
		}
		v := sw.ev.Evaluate(src, dst, c.pkt)
		if v.Allowed != c.allowed {
			t.Errorf("%s: %s allowed=%v, want %v (%s)", c.what, c.pkt, v.Allowed, c.allowed, v.Reason())
		}
	}
}

// TestClientShapes: `openstack security group show -f json` (one per
// group, concatenated), `openstack port show -f json` (as a list) and
// `openstack address group list -f json` give the same import as the API.
func TestClientShapes(t *testing.T) {
	api := yamlOf(t, convert(t, read(t, twoTenants...)))
	osc := yamlOf(t, convert(t, read(t, "testdata/osc/security-groups.json", "testdata/osc/ports.json", "testdata/osc/address-groups.json")))
	body := func(s string) string { // without the header naming the files
		return s[strings.Index(s, "\n# Neutron's fixed rules"):]
	}
	if body(api) != body(osc) {
		t.Errorf("client output imports differently from the API:\n%s", firstDiff(body(api), body(osc)))
	}
}

// TestListOutputIsNotEnough: `openstack security group list` has no rules
// and `openstack port list --long` no port security, pairs or network; the
// import says so instead of guessing silently.
func TestListOutputIsNotEnough(t *testing.T) {
	in := read(t, "testdata/osc/security-group-list.json", "testdata/osc/port-list-long.json")
	im, errs := Convert(in)
	if len(errs) != 6 {
		t.Errorf("want one error per group whose rules are unknown (6), got %d: %v", len(errs), errs)
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), "testdata/osc/security-group-list.json:") || !strings.Contains(err.Error(), "openstack security group show -f json") {
			t.Errorf("error does not name the file and the fix: %v", err)
		}
	}
	var warned bool
	for _, w := range im.Warnings {
		warned = warned || strings.Contains(w.Error(), "port-list-long.json") && strings.Contains(w.Error(), "port_security_enabled")
	}
	if !warned {
		t.Errorf("no warning about the fields `port list` leaves out: %v", im.Warnings)
	}
	// The groups' full output fixes it: list rows first, show output later.
	in.Add(read(t, "testdata/osc/security-groups.json"))
	if _, errs := Convert(in); len(errs) != 0 {
		t.Errorf("with the groups' show output there should be no errors: %v", errs)
	}
}

// TestDeterministic: the import does not depend on the order Neutron
// listed things in.
func TestDeterministic(t *testing.T) {
	a := yamlOf(t, convert(t, read(t, twoTenants...)))
	in := read(t, twoTenants...)
	rev := func(n int, swap func(i, j int)) {
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			swap(i, j)
		}
	}
	rev(len(in.Ports), func(i, j int) { in.Ports[i], in.Ports[j] = in.Ports[j], in.Ports[i] })
	rev(len(in.SecurityGroups), func(i, j int) {
		in.SecurityGroups[i], in.SecurityGroups[j] = in.SecurityGroups[j], in.SecurityGroups[i]
	})
	for _, g := range in.SecurityGroups {
		rev(len(g.Rules), func(i, j int) { g.Rules[i], g.Rules[j] = g.Rules[j], g.Rules[i] })
	}
	if b := yamlOf(t, convert(t, in)); a != b {
		t.Errorf("input order changed the output:\n%s", firstDiff(a, b))
	}
}
