package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// neutronPort is one VM port of a hand-written Neutron scene.
type neutronPort struct {
	name, id, network, ip string
	vlan                  int // the network's local VLAN on br-int, as Neutron's OVS agent tags it
	groups                []string
}

// neutronNetScene is a Neutron scene built from JSON written by the test:
// each port a namespace on br-int carrying iface-id = the port UUID and
// its network's local VLAN as an access tag (L2 isolation, as Neutron's
// OVS agent does), the policy imported by `flowgate import openstack` into
// the agent's policy directory.
type neutronNetScene struct {
	o         *sandbox.OVS
	vm        map[string]*sandbox.Workload
	dir       string
	policyDir string
	ports     []neutronPort
	agent     *agentProc
}

func startNeutronNetScene(t *testing.T, groups string, ports []neutronPort) *neutronNetScene {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	s := &neutronNetScene{o: o, vm: map[string]*sandbox.Workload{}, dir: t.TempDir(), policyDir: t.TempDir(), ports: ports}
	var docs []string
	for i, p := range ports {
		mac := net.HardwareAddr{0xfa, 0x16, 0x3e, 0, byte(p.vlan), byte(i + 1)}
		ifaceID := p.id
		if p.network == "" {
			ifaceID = "" // a machine beyond the uplink, no workload
		}
		w, err := o.AddWorkload("br-int", p.name, ifaceID, mac, netip.MustParsePrefix(p.ip+"/24"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.RemoveWorkload(w) })
		if out, err := o.Vsctl("set", "port", w.HostIface, fmt.Sprintf("tag=%d", p.vlan)); err != nil {
			t.Fatalf("tag %s: %v: %s", p.name, err, out)
		}
		s.vm[p.name] = w
		if p.network == "" {
			continue // not a Neutron port: a machine beyond the uplink
		}
		docs = append(docs, fmt.Sprintf(`{"id": %q, "name": %q, "network_id": %q, "mac_address": %q, "device_owner": "compute:nova",
		  "fixed_ips": [{"ip_address": %q}], "security_groups": [%s], "port_security_enabled": true, "allowed_address_pairs": []}`,
			p.id, p.name, p.network, mac, p.ip, quoteAll(p.groups)))
	}
	s.write(t, "ports.json", `{"ports": [`+strings.Join(docs, ",\n")+`]}`)
	s.write(t, "security-groups.json", groups)
	s.importPolicy(t)
	s.agent = startAgent(t, o, writeAgentConfig(t, o, s.policyDir))
	return s
}

func quoteAll(xs []string) string {
	var q []string
	for _, x := range xs {
		q = append(q, fmt.Sprintf("%q", x))
	}
	return strings.Join(q, ", ")
}

func (s *neutronNetScene) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// importPolicy runs `flowgate import openstack` on the scene's JSON.
func (s *neutronNetScene) importPolicy(t *testing.T) {
	t.Helper()
	cmd := exec.Command(flowgateBin, "import", "openstack", "-f", filepath.Join(s.dir, "security-groups.json"),
		"-f", filepath.Join(s.dir, "ports.json"), "-o", filepath.Join(s.policyDir, "neutron.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flowgate import openstack: %v\n%s", err, out)
	}
}

func (s *neutronNetScene) addr(name string, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(s.vm[name].IPs[0].Addr(), port)
}

// echoes reports whether a token written on c comes back within timeout
// (a ListenTCP or ListenUDP server echoes it), resending for UDP.
func echoes(c net.Conn, timeout time.Duration) bool {
	tok := []byte(fmt.Sprintf("token-%d", time.Now().UnixNano()))
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 64)
	for time.Now().Before(deadline) {
		if _, err := c.Write(tok); err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		next := time.Now().Add(200 * time.Millisecond)
		if next.After(deadline) {
			next = deadline
		}
		_ = c.SetReadDeadline(next)
		n, err := io.ReadAtLeast(c, buf, len(tok))
		if err == nil && bytes.Equal(buf[:n], tok) {
			return true
		}
		if _, udp := c.(*net.UDPConn); !udp {
			return false
		}
	}
	return false
}

const (
	groupA = "00000000-0000-4000-8000-0000000000a0"
	groupB = "00000000-0000-4000-8000-0000000000b0"
)

// twoTenantGroups: tenant A's group admits tcp/80 and udp/53 from its own
// members; tenant B's admits only tcp/22 from A's group (shared with B
// through Neutron RBAC), and nothing on 80 or 53.
const twoTenantGroups = `{"security_groups": [
 {"id": "` + groupA + `", "name": "tenant-a", "security_group_rules": [
   {"id": "00000000-0000-4000-8000-00000000a0e1", "direction": "egress", "ethertype": "IPv4"},
   {"id": "00000000-0000-4000-8000-00000000a011", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_group_id": "` + groupA + `"},
   {"id": "00000000-0000-4000-8000-00000000a012", "direction": "ingress", "ethertype": "IPv4", "protocol": "udp", "port_range_min": 53, "port_range_max": 53, "remote_group_id": "` + groupA + `"}]},
 {"id": "` + groupB + `", "name": "tenant-b", "security_group_rules": [
   {"id": "00000000-0000-4000-8000-00000000b0e1", "direction": "egress", "ethertype": "IPv4"},
   {"id": "00000000-0000-4000-8000-00000000b011", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_group_id": "` + groupA + `"}]}]}`

// TestNeutronOverlappingTenants: two tenants' networks both use 10.0.0.5
// and 10.0.0.6 on one br-int, kept apart at L2 by their local VLANs. Each
// network has its own conntrack zone, so a connection open in A does not
// let B's packets with the very same 5-tuple through as established; and
// A's group members count only in A, so B's 10.0.0.5 is no member.
func TestNeutronOverlappingTenants(t *testing.T) {
	s := startNeutronNetScene(t, twoTenantGroups, []neutronPort{
		{name: "a5", id: "00000000-0000-4000-8000-00000000a005", network: "net-a", ip: "10.0.0.5", vlan: 10, groups: []string{groupA}},
		{name: "a6", id: "00000000-0000-4000-8000-00000000a006", network: "net-a", ip: "10.0.0.6", vlan: 10, groups: []string{groupA}},
		{name: "b5", id: "00000000-0000-4000-8000-00000000b005", network: "net-b", ip: "10.0.0.5", vlan: 20, groups: []string{groupB}},
		{name: "b6", id: "00000000-0000-4000-8000-00000000b006", network: "net-b", ip: "10.0.0.6", vlan: 20, groups: []string{groupB}},
	})
	for _, name := range []string{"a6", "b6"} {
		for _, port := range []int{22, 80} {
			ln, err := s.vm[name].ListenTCP(port)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
		}
		ln, err := s.vm[name].ListenUDP(53)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	src := netip.MustParseAddrPort("10.0.0.5:40000")

	// A: 10.0.0.5:40000 → 10.0.0.6:80 (TCP) and :53 (UDP), both allowed
	// and kept open.
	var tcpA, udpA net.Conn
	waitFor(t, "a5 → a6:80 from port 40000 (tenant A allows it)", 20*time.Second, func() bool {
		c, err := s.vm["a5"].DialFrom("tcp", src, s.addr("a6", 80), 500*time.Millisecond)
		if err != nil {
			return false
		}
		if !echoes(c, time.Second) {
			c.Close()
			return false
		}
		tcpA = c
		return true
	})
	defer tcpA.Close()
	udpA, err := s.vm["a5"].DialFrom("udp", src, s.addr("a6", 53), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer udpA.Close()
	if !echoes(udpA, 3*time.Second) {
		t.Fatal("a5 → a6:53/udp from port 40000: no echo, but tenant A allows it")
	}

	// B: the same 5-tuples, denied by B's group. With one zone for both
	// networks the UDP one would be A's established flow.
	udpB, err := s.vm["b5"].DialFrom("udp", src, s.addr("b6", 53), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer udpB.Close()
	if echoes(udpB, 2*time.Second) {
		t.Error("b5 → b6:53/udp from 10.0.0.5:40000 went through on tenant A's open flow: tenant B denies it")
	}
	if c, err := s.vm["b5"].DialFrom("tcp", src, s.addr("b6", 80), time.Second); err == nil {
		ok := echoes(c, time.Second)
		c.Close()
		if ok {
			t.Error("b5 → b6:80 from 10.0.0.5:40000 went through: tenant B denies it")
		}
	}
	// A's connections are unharmed.
	if !echoes(tcpA, time.Second) || !echoes(udpA, 2*time.Second) {
		t.Error("tenant A's open connections stopped working")
	}

	// Membership: B admits tcp/22 from A's group, whose 10.0.0.5 is a5
	// in net-a, not b5.
	if s.vm["b5"].ProbeTCP(s.addr("b6", 22), time.Second) {
		t.Error("b5 (10.0.0.5 in net-b) reached b6:22 as if it were a5, a member of tenant A's group")
	}
	if !s.vm["a5"].ProbeTCP(s.addr("a6", 80), time.Second) {
		t.Error("a5 → a6:80 denied")
	}

	// Zones depend on the network IDs alone: a restarted agent puts the
	// networks in the zones they were in, so A's connections go on in
	// their conntrack entries (a new zone would make new entries).
	before := s.conntrackZones(t, "src=10.0.0.5,dst=10.0.0.6,sport=40000")
	if len(before) != 1 {
		t.Fatalf("tenant A's connections from 10.0.0.5:40000 are in zones %v, want one", before)
	}
	s.agent.kill(syscall.SIGKILL)
	a2 := startAgent(t, s.o, writeAgentConfig(t, s.o, s.policyDir))
	waitFor(t, "the restarted agent to sync", 10*time.Second, func() bool { return strings.Contains(a2.log.String(), "flows replaced") })
	if !echoes(tcpA, 2*time.Second) || !echoes(udpA, 2*time.Second) {
		t.Error("tenant A's open connections stopped working across an agent restart")
	}
	if echoes(udpB, 2*time.Second) {
		t.Error("after the agent restart b5 → b6:53/udp from 10.0.0.5:40000 went through")
	}
	if after := s.conntrackZones(t, "src=10.0.0.5,dst=10.0.0.6,sport=40000"); !slices.Equal(after, before) {
		t.Errorf("across an agent restart tenant A's connections moved from zones %v to %v", before, after)
	}
}

// conntrackZones returns the zones of the conntrack entries whose
// original direction contains tuple, sorted and distinct.
func (s *neutronNetScene) conntrackZones(t *testing.T, tuple string) []string {
	t.Helper()
	out, err := s.o.Appctl("dpctl/dump-conntrack")
	if err != nil {
		t.Fatalf("dpctl/dump-conntrack: %v: %s", err, out)
	}
	var zones []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, tuple) {
			continue
		}
		zone := "0"
		if i := strings.Index(line, "zone="); i >= 0 {
			zone = strings.FieldsFunc(line[i+len("zone="):], func(r rune) bool { return r == ',' || r == ' ' })[0]
		}
		if !slices.Contains(zones, zone) {
			zones = append(zones, zone)
		}
	}
	slices.Sort(zones)
	return zones
}

const (
	statelessGroup = "00000000-0000-4000-8000-0000000005a0"
	statelessPort  = "00000000-0000-4000-8000-0000000005a6"
)

// statelessGroups is a stateless group admitting tcp/80 from 10.1.0.0/24,
// with reply, when set, allowing tcp to that port (the client's source
// port) back out: a stateless group needs a rule for replies.
func statelessGroups(reply int) string {
	egress := ""
	if reply != 0 {
		egress = fmt.Sprintf(`,
   {"id": "00000000-0000-4000-8000-0000000005e1", "direction": "egress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": %d, "port_range_max": %d, "remote_ip_prefix": "10.1.0.0/24"}`, reply, reply)
	}
	return `{"security_groups": [
 {"id": "` + statelessGroup + `", "name": "stateless-web", "stateful": false, "security_group_rules": [
   {"id": "00000000-0000-4000-8000-0000000005c1", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "10.1.0.0/24"}` + egress + `]}]}`
}

// TestNeutronStatelessGroup: a port whose group is stateless filters every
// packet by its rules: the server's replies are dropped until an egress
// rule admits them, then the connection works, and no conntrack entry is
// ever made for it.
func TestNeutronStatelessGroup(t *testing.T) {
	s := startNeutronNetScene(t, statelessGroups(0), []neutronPort{
		{name: "web", id: statelessPort, network: "net-s", ip: "10.1.0.6", vlan: 30, groups: []string{statelessGroup}},
		{name: "client", id: "uplink-client", ip: "10.1.0.9", vlan: 30}, // beyond the uplink: no Neutron port
	})
	ln, err := s.vm["web"].ListenTCP(80)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	src := netip.MustParseAddrPort("10.1.0.9:40000")
	dial := func(timeout time.Duration) bool {
		c, err := s.vm["client"].DialFrom("tcp", src, s.addr("web", 80), timeout)
		if err != nil {
			return false
		}
		defer c.Close()
		return echoes(c, timeout)
	}
	// The SYN gets in (the ingress rule), the SYN-ACK does not get out.
	waitFor(t, "web to receive the client's SYN", 20*time.Second, func() bool {
		dial(300 * time.Millisecond)
		out, _ := s.vm["web"].Exec("ss", "-Htn", "state", "syn-recv")
		return strings.Contains(out, "10.1.0.9]:40000") || strings.Contains(out, "10.1.0.9:40000")
	})
	if dial(time.Second) {
		t.Fatal("the connection worked without an egress rule for the replies of a stateless group")
	}
	s.write(t, "security-groups.json", statelessGroups(40000))
	s.importPolicy(t)
	waitFor(t, "the connection to work once replies have a rule", 20*time.Second, func() bool { return dial(time.Second) })
	if out, err := s.o.Appctl("dpctl/dump-conntrack"); err != nil {
		t.Fatalf("%v: %s", err, out)
	} else if strings.Contains(out, "10.1.0.6") {
		t.Errorf("a stateless port's traffic was committed to conntrack:\n%s", out)
	}
}
