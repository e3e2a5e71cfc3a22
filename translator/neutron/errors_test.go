package neutron

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

const (
	sgID   = "5d6c7b3e-1f2a-4b5c-8d9e-0a1b2c3d4e5f"
	portID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
)

// groupWith wraps one rule (JSON members) in an API security group next
// to a valid rule, so tests can check that the bad rule is reported and
// the good one kept.
func groupWith(rule string) string {
	return fmt.Sprintf(`{"security_groups": [
  {
    "id": %q,
    "name": "app",
    "security_group_rules": [
      {"id": "good", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 443, "port_range_max": 443},
      {"id": "bad", %s}
    ]
  }
]}
`, sgID, rule)
}

// TestBadRules: every rule Neutron would refuse, or flowgate cannot
// enforce exactly, is reported with file, line, group and field, and left
// out; the group's valid rule stays.
func TestBadRules(t *testing.T) {
	cases := []struct {
		rule, field, msg string
	}{
		{`"direction": "sideways", "ethertype": "IPv4"`, "direction", `unknown direction "sideways"`},
		{`"direction": "ingress", "ethertype": "IPv5"`, "ethertype", `unknown ethertype "IPv5"`},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "carrier-pigeon"`, "protocol", `unknown protocol "carrier-pigeon"`},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": 256`, "protocol", `unknown protocol "256"`},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "ipv6-icmp"`, "protocol", "exists only in IPv6"},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 0, "port_range_max": 80`, "port_range_min", "port 0 out of range"},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 70000`, "port_range_max", "port 70000 out of range"},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "udp", "port_range_min": 53`, "port_range_min", "must both be set"},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80`, "port_range_min", "above port_range_max"},
		{`"direction": "ingress", "ethertype": "IPv4", "port_range_min": 80, "port_range_max": 80`, "port_range_min", "needs a protocol"},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "gre", "port_range_min": 80, "port_range_max": 80`, "port_range_min", "protocol 47 has no ports"},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "dccp", "port_range_min": 80, "port_range_max": 80`, "port_range_min", "dccp cannot be matched"},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp", "port_range_min": 255`, "port_range_min", "ICMP type 255"},
		{`"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp", "port_range_max": 0`, "port_range_min", "needs an ICMP type"},
		{`"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp", "port_range_min": 1, "port_range_max": 300`, "port_range_max", "ICMP code 300 out of range"},
		{`"direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "10.0.0.0/33"`, "remote_ip_prefix", `invalid CIDR "10.0.0.0/33"`},
		{`"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"`, "remote_ip_prefix", "not an IPv6 prefix"},
		{`"direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "` + sgID + `"`, "", "mutually exclusive"},
		{`"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "Not A Group"`, "remote_group_id", "cannot be used in a label key"},
		{`"direction": "ingress", "ethertype": "IPv4", "port_range_min": "eighty"`, "port_range_min", `want a whole number, got "eighty"`},
		{`"direction": ["ingress"], "ethertype": "IPv4"`, "direction", "want a string, got a list"},
	}
	for _, c := range cases {
		in, errs := Decode("groups.json", []byte(groupWith(c.rule)))
		im, cerrs := Convert(in)
		errs = append(errs, cerrs...)
		if len(errs) == 0 {
			t.Errorf("rule {%s}: accepted", c.rule)
			continue
		}
		field := "security_group_rules[1]"
		if c.field != "" {
			field += "." + c.field
		}
		want := fmt.Sprintf("groups.json:7: SecurityGroup %s (app): %s: ", sgID, field)
		var found bool
		for _, err := range errs {
			found = found || strings.HasPrefix(err.Error(), want) && strings.Contains(err.Error(), c.msg)
		}
		if !found {
			t.Errorf("rule {%s}: want an error %q...%q, got %v", c.rule, want, c.msg, errs)
		}
		if len(im.groups) != 1 || len(im.groups[0].ingress) < 1 || im.groups[0].ingress[0].id != "good" {
			t.Errorf("rule {%s}: the group's valid rule was lost", c.rule)
		}
		for _, a := range append(append([]allow(nil), im.groups[0].ingress...), im.groups[0].egress...) {
			if a.id == "bad" {
				t.Errorf("rule {%s}: kept despite the error (a field read as absent widens a rule)", c.rule)
			}
		}
	}
}

// TestBadPorts: an invalid port field is reported and left out, and the
// port kept with the rest: every part left out narrows what the port may
// do, whereas a port left out would be bound to nothing and go unfiltered.
func TestBadPorts(t *testing.T) {
	const good = `"fixed_ips": [{"ip_address": "10.0.0.4"}], "security_groups": ["` + sgID + `"], `
	cases := []struct{ members, field, msg, keeps string }{
		{good + `"mac_address": "zz:zz"`, "mac_address", `invalid MAC "zz:zz"`, "mac="},
		{`"security_groups": ["` + sgID + `"], "fixed_ips": [{"ip_address": "10.0.0.300"}, {"ip_address": "10.0.0.4"}]`, "fixed_ips[0].ip_address", `invalid IP "10.0.0.300"`, "ips=[10.0.0.4]"},
		{`"security_groups": ["` + sgID + `"], "fixed_ips": "10.0.0.3"`, "fixed_ips", "want a list of mappings, got a string", "ips=[]"},
		{good + `"allowed_address_pairs": [{"ip_address": "not-an-ip"}, {"ip_address": "10.0.0.5"}]`, "allowed_address_pairs[0].ip_address", `invalid IP or CIDR "not-an-ip"`, "ips=[10.0.0.4 10.0.0.5]"},
		{good + `"allowed_address_pairs": [{"ip_address": "10.0.0.6", "mac_address": "nope"}]`, "allowed_address_pairs[0].mac_address", `invalid MAC "nope"`, "ips=[10.0.0.4]"},
		{`"fixed_ips": [{"ip_address": "10.0.0.4"}], "security_groups": ["UPPER_CASE!", "` + sgID + `"]`, "security_groups[0]", `"UPPER_CASE!" cannot be used in a label key`, "sg.openstack.org/" + sgID},
		{good + `"port_security_enabled": "no"`, "port_security_enabled", "want true or false, got a string", "port-security:enabled"},
		{good + `"device_owner": 7`, "device_owner", "want a string, got a number", "port-security:enabled"},
	}
	for _, c := range cases {
		doc := fmt.Sprintf("{\n  \"ports\": [\n    {\"id\": %q, \"name\": \"vm\", \"network_id\": \"net\", %s}\n  ]\n}\n", portID, c.members)
		in, errs := Decode("ports.json", []byte(doc))
		im, cerrs := Convert(in)
		errs = append(errs, cerrs...)
		want := fmt.Sprintf("ports.json:3: Port %s (vm): %s: %s", portID, c.field, c.msg)
		var found bool
		for _, err := range errs {
			found = found || strings.HasPrefix(err.Error(), want)
		}
		if !found {
			t.Errorf("port {%s}: want %q, got %v", c.members, want, errs)
		}
		if len(im.ports) != 1 {
			t.Errorf("port {%s}: left out", c.members)
			continue
		}
		e := im.ports[0].endpoint()
		got := fmt.Sprintf("mac=%s ips=%v labels=%v", e.MAC, e.IPs, e.Labels)
		if !strings.Contains(got, c.keeps) {
			t.Errorf("port {%s}: endpoint %s, want %s", c.members, got, c.keeps)
		}
	}
}

// TestBadDocuments: what is not Neutron JSON at all.
func TestBadDocuments(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"{\n  \"security_groups\": [\n    {\"id\": \"x\",\n", "x.json: invalid JSON: the input ends in the middle of a value"},
		{"{\"a\": 1,}", "x.json: invalid JSON at line 1"},
		{"", "x.json: no JSON document in the input"},
		{`{"kind": "Pod"}`, "x.json:1: document 1: not a Neutron security group"},
		{`[1]`, "x.json:1: document 1 item 1: want a Neutron object or a list of them, got a number"},
		{`[{"ID": "r", "IP Protocol": "tcp", "Port Range": "22:22"}]`, "x.json:1: document 1 item 1: `openstack security group rule list` output drops ICMP type 0"},
		{`{"security_groups": [{"name": "anonymous", "security_group_rules": []}]}`, "x.json:1: SecurityGroup (no id) (anonymous): id: required"},
		{`{"security_groups": {"id": "x"}}`, "x.json:1: document 1: security_groups: want a list, got a mapping"},
	}
	for _, c := range cases {
		_, errs := Decode("x.json", []byte(c.doc))
		var found bool
		for _, err := range errs {
			found = found || strings.HasPrefix(err.Error(), c.want)
		}
		if !found {
			t.Errorf("%q: want %q, got %v", c.doc, c.want, errs)
		}
	}
}

// TestDuplicates: the same group or port twice with different contents is
// reported against the second, and the first is used.
func TestDuplicates(t *testing.T) {
	a, _ := Decode("a.json", []byte(groupWith(`"direction": "egress", "ethertype": "IPv4"`)))
	b, _ := Decode("b.json", []byte(groupWith(`"direction": "egress", "ethertype": "IPv6"`)))
	same, _ := Decode("c.json", []byte(groupWith(`"direction": "egress", "ethertype": "IPv4"`)))
	a.Add(b)
	a.Add(same)
	im, errs := Convert(a)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "b.json:2: SecurityGroup "+sgID+" (app): id: security group given twice with different contents (first at a.json:2)") {
		t.Errorf("want one duplicate error against b.json, got %v", errs)
	}
	if len(im.groups) != 1 || im.groups[0].egress[0].ipVersion != 4 {
		t.Errorf("the first definition must be used")
	}
}

// TestWarnings: what is valid but worth saying.
func TestWarnings(t *testing.T) {
	doc := fmt.Sprintf(`{"security_groups": [{"id": %q, "stateful": false, "security_group_rules": [
	  {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_address_group_id": "ffffffff-0000-4000-8000-000000000001"}]}],
	 "ports": [{"id": %q, "mac_address": "fa:16:3e:00:00:01", "security_groups": [%q, "00000000-0000-4000-8000-00000000beef"],
	   "allowed_address_pairs": [{"ip_address": "10.0.0.9", "mac_address": "fa:16:3e:00:00:99"}]}]}`, sgID, portID, sgID)
	in, errs := Decode("w.json", []byte(doc))
	im, cerrs := Convert(in)
	if errs = append(errs, cerrs...); len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []string{
		"remote address group ffffffff-0000-4000-8000-000000000001 is not in the input",
		"security group 00000000-0000-4000-8000-00000000beef is not in the input",
	}
	for _, w := range want {
		var found bool
		for _, got := range im.Warnings {
			found = found || strings.Contains(got.Error(), w)
		}
		if !found {
			t.Errorf("no warning %q in %v", w, im.Warnings)
		}
	}
}

// TestWidePairBypass reproduces the Neutron wide-pair bug's setup: two
// ports in one group whose rule admits SSH from the group's own members,
// one port with a 0.0.0.0/0 allowed address pair. Anyone on the Internet
// must still be refused SSH to the other port; the pair owner's own fixed
// address, and a narrower pair, still count as members.
func TestWidePairBypass(t *testing.T) {
	doc := fmt.Sprintf(`{"security_groups": [{"id": %[1]q, "name": "ssh-mesh", "security_group_rules": [
	    {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_group_id": %[1]q},
	    {"direction": "egress", "ethertype": "IPv4"}]}],
	 "ports": [
	   {"id": "00000000-0000-4000-8000-0000000000aa", "network_id": "n", "mac_address": "fa:16:3e:00:00:aa", "fixed_ips": [{"ip_address": "10.0.0.10"}],
	    "security_groups": [%[1]q], "allowed_address_pairs": [{"ip_address": "0.0.0.0/0"}, {"ip_address": "172.16.0.0/16"}]},
	   {"id": "00000000-0000-4000-8000-0000000000bb", "network_id": "n", "mac_address": "fa:16:3e:00:00:bb", "fixed_ips": [{"ip_address": "10.0.0.11"}],
	    "security_groups": [%[1]q]}]}`, sgID)
	in, errs := Decode("bypass.json", []byte(doc))
	im, cerrs := Convert(in)
	if errs = append(errs, cerrs...); len(errs) > 0 {
		t.Fatal(errs)
	}
	w, berrs := decode.Build(im.Objects())
	if len(berrs) > 0 {
		t.Fatal(berrs)
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	b := ev.Endpoint(Namespace + "/00000000-0000-4000-8000-0000000000bb")
	a := ev.Endpoint(Namespace + "/00000000-0000-4000-8000-0000000000aa")
	ssh := func(src string, from interface{ ID() string }) bool {
		var e = a
		if from == nil {
			e = nil
		}
		return ev.Evaluate(e, b, packet(src, "10.0.0.11", policy.TCP, 40000, 22)).Allowed
	}
	if ssh("203.0.113.66", nil) {
		t.Error("the 0.0.0.0/0 pair opened SSH on the other port to the Internet")
	}
	if !ssh("10.0.0.10", a) {
		t.Error("the pair owner's fixed address is no longer a member")
	}
	if !ssh("172.16.3.4", nil) {
		t.Error("a narrower pair must count as member addresses, as in Neutron")
	}
	// As Neutron matches it now: the /0 pair is a member in packets from
	// its MAC (the pair names none: the port's), whatever their address,
	// and from no other MAC.
	fromMAC := func(src, mac string) bool {
		p := packet(src, "10.0.0.11", policy.TCP, 40000, 22)
		p.SrcMAC, _ = net.ParseMAC(mac)
		return ev.Evaluate(nil, b, p).Allowed
	}
	if !fromMAC("198.51.100.7", "fa:16:3e:00:00:aa") {
		t.Error("the /0 pair owner sending from its MAC is not a member")
	}
	if fromMAC("198.51.100.7", "fa:16:3e:00:00:cc") {
		t.Error("another MAC gained the group's access through the /0 pair")
	}
}

// TestOverlappingAddresses: two tenants using the same address is valid
// Neutron, kept as two endpoints each labelled with its network (the
// compiler keeps networks apart by them), and needs no warning.
func TestOverlappingAddresses(t *testing.T) {
	doc := `{"ports": [
	  {"id": "00000000-0000-4000-8000-0000000000a1", "network_id": "net-a", "fixed_ips": [{"ip_address": "10.0.0.5"}],
	   "security_groups": [], "allowed_address_pairs": []},
	  {"id": "00000000-0000-4000-8000-0000000000b1", "network_id": "net-b", "fixed_ips": [{"ip_address": "10.0.0.5"}],
	   "security_groups": [], "allowed_address_pairs": []}]}`
	in, errs := Decode("overlap.json", []byte(doc))
	im, cerrs := Convert(in)
	if errs = append(errs, cerrs...); len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(im.ports) != 2 || len(im.Warnings) != 0 {
		t.Fatalf("want 2 ports and no warning, got %d ports, warnings %v", len(im.ports), im.Warnings)
	}
	for i, want := range []string{"net-a", "net-b"} {
		if got := im.ports[i].endpoint().Labels[NetworkLabel]; got != want {
			t.Errorf("port %s: network label %q, want %q", im.ports[i].id, got, want)
		}
	}
}

// TestStatelessGroups: a port whose groups are all stateless is labelled
// untracked; one mixing stateless and stateful groups is refused, as
// Neutron refuses it, and enforced statefully.
func TestStatelessGroups(t *testing.T) {
	const (
		stateless = "00000000-0000-4000-8000-0000000005a1"
		stateful  = "00000000-0000-4000-8000-0000000005f1"
	)
	doc := fmt.Sprintf(`{"security_groups": [{"id": %q, "stateful": false, "security_group_rules": []},
	   {"id": %q, "stateful": true, "security_group_rules": []}],
	 "ports": [
	  {"id": "00000000-0000-4000-8000-0000000000c1", "security_groups": [%q], "allowed_address_pairs": [], "port_security_enabled": true, "network_id": "n"},
	  {"id": "00000000-0000-4000-8000-0000000000c2", "security_groups": [%q, %q], "allowed_address_pairs": [], "port_security_enabled": true, "network_id": "n"},
	  {"id": "00000000-0000-4000-8000-0000000000c3", "security_groups": [%q], "allowed_address_pairs": [], "port_security_enabled": true, "network_id": "n"}]}`,
		stateless, stateful, stateless, stateless, stateful, stateful)
	in, errs := Decode("stateless.json", []byte(doc))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	im, cerrs := Convert(in)
	if len(cerrs) != 1 || !strings.Contains(cerrs[0].Error(), "stateless.json") || !strings.Contains(cerrs[0].Error(), "00000000-0000-4000-8000-0000000000c2: security_groups: stateless groups") {
		t.Fatalf("want one error about the mixed port, got %v", cerrs)
	}
	want := map[string]string{"00000000-0000-4000-8000-0000000000c1": "false", "00000000-0000-4000-8000-0000000000c2": "", "00000000-0000-4000-8000-0000000000c3": ""}
	for _, p := range im.ports {
		if got := p.endpoint().Labels[StatefulLabel]; got != want[p.id] {
			t.Errorf("port %s: %s=%q, want %q", p.id, StatefulLabel, got, want[p.id])
		}
	}
}
