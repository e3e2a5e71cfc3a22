package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/neutron"
)

const neutronSample = "../translator/neutron/testdata/two-tenants/"

// neutronScene is the two-tenant Neutron sample brought to life: every
// port a namespace on br-int whose OVS interface carries
// external_ids:iface-id = the Neutron port UUID (as Nova/os-vif set it),
// the policy written by `flowgate import openstack` into the agent's
// policy directory (or, in a live scene, Neutron's JSON in the agent's
// neutronPaths), and two machines beyond the uplink (ports that are no
// endpoint) at 203.0.113.5 and 10.99.0.5.
type neutronScene struct {
	o         *sandbox.OVS
	vm        map[string]*sandbox.Workload // by port name
	outside   map[string]*sandbox.Workload // by address
	policyDir string
	portsJSON string // the ports file the import (or the live agent) reads
	agent     *agentProc
}

func startNeutronScene(t *testing.T, edits ...func(port map[string]any)) *neutronScene {
	t.Helper()
	return startNeutronSceneConfig(t, nil, edits...)
}

// startNeutronSceneConfig is startNeutronScene with extra agent config
// lines.
func startNeutronSceneConfig(t *testing.T, agentConfigLines []string, edits ...func(port map[string]any)) *neutronScene {
	t.Helper()
	s := newNeutronScene(t, t.TempDir(), edits...)
	s.importPolicy(t)
	s.agent = startAgent(t, s.o, appendConfig(t, writeAgentConfig(t, s.o, s.policyDir), agentConfigLines...))
	return s
}

// startNeutronSceneLive is the scene with no import and no YAML: the
// agent's neutronPaths is a directory holding the sample's security
// groups, address groups and ports JSON, and ports.json is the file the
// agent reads.
func startNeutronSceneLive(t *testing.T) *neutronScene {
	t.Helper()
	dir := t.TempDir()
	s := newNeutronScene(t, dir)
	for _, f := range []string{"security-groups.json", "address-groups.json"} {
		copyFile(t, neutronSample+f, filepath.Join(dir, f))
	}
	conf := writeAgentConfig(t, s.o, s.policyDir)
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	paths := "policyPaths: [" + s.policyDir + "]"
	if !strings.Contains(string(data), paths) {
		t.Fatalf("agent config has no %q:\n%s", paths, data)
	}
	data = []byte(strings.Replace(string(data), paths, "policyPaths: []\nneutronPaths: ["+dir+"]", 1))
	if err := os.WriteFile(conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.agent = startAgent(t, s.o, conf)
	return s
}

// newNeutronScene builds the scene's bridge and workloads from the
// sample's ports (edited by edits) and writes them to portsDir/ports.json;
// the agent is not started.
func newNeutronScene(t *testing.T, portsDir string, edits ...func(port map[string]any)) *neutronScene {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	s := &neutronScene{o: o, vm: map[string]*sandbox.Workload{}, outside: map[string]*sandbox.Workload{}, policyDir: t.TempDir()}
	data, err := os.ReadFile(neutronSample + "ports.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) > 0 {
		data = editPorts(t, data, edits...)
	}
	in, errs := neutron.Decode("ports.json", data)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, p := range in.Ports {
		name := p.Name
		if name == "" {
			name = strings.TrimPrefix(p.DeviceOwner, "network:")
		}
		mac, err := net.ParseMAC(p.MACAddress)
		if err != nil {
			t.Fatal(err)
		}
		var ips []netip.Prefix
		for _, ip := range p.FixedIPs {
			a := netip.MustParseAddr(ip.IPAddress)
			bits := 24
			if a.Is6() {
				bits = 64
			}
			ips = append(ips, netip.PrefixFrom(a, bits))
		}
		w, err := o.AddWorkload("br-int", name, p.ID, mac, ips...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.RemoveWorkload(w) })
		s.vm[name] = w
		for _, port := range []int{22, 80, 5432} {
			ln, err := w.ListenTCP(port)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
		}
	}
	for i, addr := range []string{"203.0.113.5", "10.99.0.5"} {
		// No iface-id: a port with one that names no endpoint is held.
		w, err := o.AddWorkload("br-int", "outside"+string(rune('a'+i)), "", net.HardwareAddr{0x02, 0xfd, 0x99, 0, 0, byte(i + 1)}, netip.MustParsePrefix(addr+"/24"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.RemoveWorkload(w) })
		s.outside[addr] = w
	}
	s.portsJSON = filepath.Join(portsDir, "ports.json")
	if err := os.WriteFile(s.portsJSON, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// importPolicy runs `flowgate import openstack` into the policy directory.
func (s *neutronScene) importPolicy(t *testing.T) {
	t.Helper()
	cmd := exec.Command(flowgateBin, "import", "openstack", "-f", neutronSample+"security-groups.json",
		"-f", neutronSample+"address-groups.json", "-f", s.portsJSON, "-o", filepath.Join(s.policyDir, "neutron.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flowgate import openstack: %v\n%s", err, out)
	}
}

func (s *neutronScene) addr(name string, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(s.vm[name].IPs[0].Addr(), port)
}

type neutronProbe struct {
	what    string
	run     func() bool
	allowed bool
}

// checkNeutron waits until every probe answers as expected, then reports those
// that do not.
func checkNeutron(t *testing.T, probes []neutronProbe) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var bad []string
		for _, p := range probes {
			if p.run() != p.allowed {
				bad = append(bad, p.what)
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not as Neutron enforces it:\n  %s", strings.Join(bad, "\n  "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const probeTimeout = 300 * time.Millisecond

func (s *neutronScene) tcp(from, to string, port uint16, allowed bool) neutronProbe {
	return neutronProbe{what: from + " → " + to + ":" + strconv.Itoa(int(port)) + map[bool]string{true: " allowed", false: " denied"}[allowed],
		run: func() bool { return s.vm[from].ProbeTCP(s.addr(to, port), probeTimeout) }, allowed: allowed}
}

func (s *neutronScene) ping(from, to string, allowed bool) neutronProbe {
	return neutronProbe{what: "ping " + from + " → " + to + map[bool]string{true: " allowed", false: " denied"}[allowed],
		run: func() bool { return s.vm[from].Ping(s.vm[to].IPs[0].Addr(), probeTimeout) }, allowed: allowed}
}

func (s *neutronScene) icmp(from, to string, typ, code, reply uint8, allowed bool) neutronProbe {
	return neutronProbe{what: fmt.Sprintf("icmp type %d code %d %s → %s%s", typ, code, from, to, map[bool]string{true: " allowed", false: " denied"}[allowed]),
		run: func() bool { return s.vm[from].ICMPQuery(s.vm[to].IPs[0].Addr(), typ, code, reply, probeTimeout) }, allowed: allowed}
}

// TestNeutronSecurityGroups: the imported security groups, enforced by the
// agent on real traffic, behave as Neutron's OVS firewall does: remote
// groups, ICMP type rules, allowed address pairs (and the wide-pair bypass
// closed), a port without groups, port security off, Neutron's own ports.
func TestNeutronSecurityGroups(t *testing.T) {
	s := startNeutronScene(t)
	checkNeutron(t, s.sampleProbes())

	// Allowed address pairs: lb-1 may send from its VIP, which counts as a
	// member of its groups; not from an address it was not given.
	vip := netip.MustParseAddr("10.20.0.100")
	lb1 := s.vm["lb-1"]
	if out, err := lb1.Exec("ip", "addr", "add", vip.String()+"/32", "dev", "eth0"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	checkNeutron(t, []neutronProbe{{what: "lb-1 from its VIP 10.20.0.100 → lb-2:22 allowed", allowed: true, run: func() bool {
		c, err := lb1.DialTCPFrom(vip, s.addr("lb-2", 22), probeTimeout)
		if err == nil {
			c.Close()
		}
		return err == nil
	}}})
	other := netip.MustParseAddr("10.20.0.101")
	if out, err := lb1.Exec("ip", "addr", "add", other.String()+"/32", "dev", "eth0"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if c, err := lb1.DialTCPFrom(other, s.addr("lb-2", 22), time.Second); err == nil {
		c.Close()
		t.Error("lb-1 reached lb-2 from 10.20.0.101, an address it has no pair for")
	}
	// router-vm's pairs: 10.99.0.0/24 counts as members of its default
	// group (Neutron matches it by address), 0.0.0.0/0 does not.
	checkNeutron(t, []neutronProbe{
		{what: "10.99.0.5 (router-vm's /24 pair) → lb-1:22 allowed", allowed: true,
			run: func() bool { return s.outside["10.99.0.5"].ProbeTCP(s.addr("lb-1", 22), probeTimeout) }},
		{what: "203.0.113.5 → lb-1:22 denied despite router-vm's 0.0.0.0/0 pair", allowed: false,
			run: func() bool { return s.outside["203.0.113.5"].ProbeTCP(s.addr("lb-1", 22), probeTimeout) }},
		{what: "203.0.113.5 → web-1:80 allowed (web: 80 from anywhere)", allowed: true,
			run: func() bool { return s.outside["203.0.113.5"].ProbeTCP(s.addr("web-1", 80), probeTimeout) }},
	})
}

// sampleProbes are how Neutron's OVS firewall treats the sample's traffic
// between ports: remote groups, ICMP type rules, a port without groups,
// port security off, Neutron's own ports.
func (s *neutronScene) sampleProbes() []neutronProbe {
	return []neutronProbe{
		// Remote group: db-1 accepts 5432 from members of "web" only.
		s.tcp("web-1", "db-1", 5432, true),
		s.tcp("web-2", "db-1", 5432, true),
		s.tcp("lb-1", "db-1", 5432, false),
		// web: 80 from anywhere, 22 from 10.10.0.0/24 only.
		s.tcp("lb-1", "web-1", 80, true),
		s.tcp("lb-1", "web-1", 22, false),
		s.tcp("db-1", "web-1", 22, true),
		// Default group: anything from its own members, nothing from the other tenant's.
		s.tcp("web-1", "db-1", 22, true),
		s.tcp("lb-2", "lb-1", 22, true),
		s.tcp("web-1", "lb-1", 22, false),
		// No security group, port security on: nothing in or out.
		s.tcp("quarantine", "web-1", 80, false),
		s.tcp("web-1", "quarantine", 22, false),
		// ICMP type rules: icmp-diag lets echo requests (type 8) from 10/8
		// reach web-1 only, not timestamp requests (type 13), which web-1
		// answers to a member of its default group.
		s.ping("lb-1", "web-1", true),
		s.ping("lb-1", "web-2", false),
		s.icmp("lb-1", "web-1", 13, 0, 14, false),
		s.icmp("db-1", "web-1", 13, 0, 14, true),
		// Port security off: not filtered either way.
		s.tcp("nfv-probe", "web-1", 80, true),
		s.tcp("lb-1", "nfv-probe", 5432, true),
		// Neutron's own ports are not filtered.
		s.tcp("web-1", "router_interface", 22, true),
		s.tcp("router_interface", "web-1", 22, true),
	}
}

// TestNeutronRemoteGroupLive: a port joining a security group gets what
// the group's members may do elsewhere as soon as the import is rerun, and
// loses it when it leaves — without restarting anything. (The sample's
// "web" group is taken to be shared with lb-1's project through Neutron
// RBAC; a port of the same project would be a member of the same default
// group, which already admits everything from its members.)
func TestNeutronRemoteGroupLive(t *testing.T) {
	s := startNeutronScene(t)
	checkNeutron(t, []neutronProbe{s.tcp("lb-1", "db-1", 5432, false)})

	withGroup := func(port, group string, add bool) {
		t.Helper()
		s.writePorts(t, port, group, add)
		s.importPolicy(t)
	}
	web := groupID(t, "web")
	withGroup("lb-1", web, true)
	checkNeutron(t, []neutronProbe{s.tcp("lb-1", "db-1", 5432, true), s.tcp("lb-1", "db-1", 22, false)})
	withGroup("lb-1", web, false)
	checkNeutron(t, []neutronProbe{s.tcp("lb-1", "db-1", 5432, false), s.tcp("web-1", "db-1", 5432, true)})
}

// writePorts rewrites the ports file as the sample's with group added to
// (or, with add=false, as in the sample) port's security groups.
func (s *neutronScene) writePorts(t *testing.T, port, group string, add bool) {
	t.Helper()
	original, err := os.ReadFile(neutronSample + "ports.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Ports []map[string]any `json:"ports"`
	}
	if err := json.Unmarshal(original, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc.Ports {
		if p["name"] == port && add {
			p["security_groups"] = append(p["security_groups"].([]any), group)
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.portsJSON, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// groupID finds a security group of the sample by name.
func groupID(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(neutronSample + "security-groups.json")
	if err != nil {
		t.Fatal(err)
	}
	in, errs := neutron.Decode("security-groups.json", data)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, g := range in.SecurityGroups {
		if g.Name == name {
			return g.ID
		}
	}
	t.Fatalf("no security group %q in the sample", name)
	return ""
}

// editPorts applies edits to every port of a ports document.
func editPorts(t *testing.T, data []byte, edits ...func(port map[string]any)) []byte {
	t.Helper()
	var doc struct {
		Ports []map[string]any `json:"ports"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc.Ports {
		for _, e := range edits {
			e(p)
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
