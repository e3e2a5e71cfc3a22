package integration

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/compiler"
)

// neutronAgentCookie is the cookie of the emulated Neutron OVS agent's
// flows: random 64 bits, as the agent draws them, without flowgate's mark.
const neutronAgentCookie = 0x8d1f0a2b3c4d5e6f

// sharedScene is br-int as the Neutron OVS agent leaves it with
// [securitygroup] firewall_driver = noop: VM taps are access ports of
// their network's local VLAN (tag), the flows are Neutron's (table 0 →
// TRANSIENT 60 → NORMAL, the canary table 23, the ARP spoof table 24,
// TRANSIENT_EGRESS 62, and 94 as the OVS firewall installs it), and an
// uplink whose frames table 0 tags with the local VLAN (provision_local_vlan
// of a flat network: push VLAN 1). a1, a2 and the uplink's ext are in
// network A (VLAN 1); b1 is in network B (VLAN 2) with an address of the
// same subnet, so only VLAN isolation keeps it from A.
type sharedScene struct {
	o         *sandbox.OVS
	vm        map[string]*sandbox.Workload
	policyDir string
	neutron   []string // Neutron's flows as installed
}

const sharedWorld = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: a1, namespace: openstack, labels: {role: client}}
spec: {orchestrator: openstack, ipNetworks: [10.40.0.1/32], mac: "02:fd:40:00:00:01"}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: a2, namespace: openstack, labels: {role: server}}
spec: {orchestrator: openstack, ipNetworks: [10.40.0.2/32], mac: "02:fd:40:00:00:02"}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: b1, namespace: openstack, labels: {role: client}}
spec: {orchestrator: openstack, ipNetworks: [10.40.0.3/32], mac: "02:fd:40:00:00:03"}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web, namespace: openstack}
spec:
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: TCP, source: {selector: role == 'client'}, destination: {ports: [80]}}
    - {action: Allow, protocol: TCP, source: {nets: [10.40.0.9/32]}, destination: {ports: [80]}}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: clients-out, namespace: openstack}
spec:
  selector: role == 'client'
  types: [Egress]
  egress: [{action: Allow}]
`

// sshPolicy opens 22 on the server to clients: the update of the test.
const sshPolicy = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: ssh, namespace: openstack}
spec:
  selector: role == 'server'
  ingress:
    - {action: Allow, protocol: TCP, source: {selector: role == 'client'}, destination: {ports: [22]}}
`

func startSharedScene(t *testing.T) *sharedScene {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	s := &sharedScene{o: o, vm: map[string]*sandbox.Workload{}, policyDir: t.TempDir()}
	for i, vm := range []struct {
		name, ip string
		vlan     int
	}{{"a1", "10.40.0.1", 1}, {"a2", "10.40.0.2", 1}, {"b1", "10.40.0.3", 2}, {"ext", "10.40.0.9", 1}} {
		ifaceID := vm.name
		if vm.name == "ext" {
			ifaceID = "" // a machine beyond the uplink, no workload
		}
		w, err := o.AddWorkload("br-int", vm.name, ifaceID, net.HardwareAddr{0x02, 0xfd, 0x40, 0, 0, byte(i + 1)}, netip.MustParsePrefix(vm.ip+"/24"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.RemoveWorkload(w) })
		s.vm[vm.name] = w
		port := []string{"set", "Port", w.HostIface, "tag=" + strconv.Itoa(vm.vlan)}
		if vm.name == "ext" {
			// Untagged on the wire, VLAN 1 on the bridge once table 0 has
			// pushed the tag; NORMAL strips it again on the way out.
			port = append(port, "vlan_mode=native-untagged")
		}
		vsctl(t, o, port...)
		for _, p := range []int{22, 80} {
			ln, err := w.ListenTCP(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
		}
	}
	flows := []string{
		"table=0,priority=65535,dl_vlan=4095 actions=drop",
		fmt.Sprintf("table=0,priority=3,in_port=%d,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:1,goto_table:60", s.vm["ext"].OFPort),
		"table=0,priority=0 actions=goto_table:60",
		"table=23,priority=0 actions=drop",
		"table=24,priority=0 actions=drop",
		"table=60,priority=3 actions=NORMAL",
		"table=62,priority=3 actions=NORMAL",
		"table=94,priority=1 actions=NORMAL",
	}
	var b strings.Builder
	for _, f := range flows {
		fmt.Fprintf(&b, "cookie=%#x,%s\n", uint64(neutronAgentCookie), f)
	}
	if out, err := o.OfctlInput(b.String(), "-O", "OpenFlow15", "add-flows", "br-int", "-"); err != nil {
		t.Fatalf("install Neutron's flows: %v: %s", err, out)
	}
	s.neutron = s.neutronFlows(t)
	if len(s.neutron) != len(flows) {
		t.Fatalf("Neutron's flows: %v", s.neutron)
	}
	if err := os.WriteFile(filepath.Join(s.policyDir, "world.yaml"), []byte(sharedWorld), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// neutronFlows are the bridge's flows with Neutron's cookie, as OVS prints
// them, sorted.
func (s *sharedScene) neutronFlows(t *testing.T) []string {
	t.Helper()
	out, err := s.o.Ofctl("-O", "OpenFlow15", "--no-stats", "dump-flows", "br-int", fmt.Sprintf("cookie=%#x/-1", uint64(neutronAgentCookie)))
	if err != nil {
		t.Fatal(err)
	}
	lines := openflow.FlowLines(out)
	slices.Sort(lines)
	return lines
}

// neutronIntact fails unless Neutron's flows are byte-identical to what it
// installed.
func (s *sharedScene) neutronIntact(t *testing.T, after string) {
	t.Helper()
	if got := s.neutronFlows(t); !slices.Equal(got, s.neutron) {
		t.Fatalf("after %s Neutron's flows changed:\n  %s\nwant:\n  %s", after, strings.Join(got, "\n  "), strings.Join(s.neutron, "\n  "))
	}
}

// foreignCookies are the cookies on the bridge other than Neutron's.
func (s *sharedScene) foreignCookies(t *testing.T) []string {
	t.Helper()
	out, err := s.o.Ofctl("-O", "OpenFlow15", "--no-stats", "dump-flows", "br-int")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var cookies []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		c, _, ok := strings.Cut(strings.TrimPrefix(l, "cookie="), ",")
		if !ok || !strings.HasPrefix(l, "cookie=") || c == fmt.Sprintf("%#x", uint64(neutronAgentCookie)) || seen[c] {
			continue
		}
		seen[c] = true
		cookies = append(cookies, c)
	}
	return cookies
}

func (s *sharedScene) apply(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(flowgateBin, append([]string{"apply", "--ovsdb", s.o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev", "-f", s.policyDir}, args...)...)
	cmd.Env = append(os.Environ(), s.o.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("flowgate apply %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *sharedScene) tcp(from, to string, port uint16, allowed bool) neutronProbe {
	dst := netip.AddrPortFrom(s.vm[to].IPs[0].Addr(), port)
	return neutronProbe{what: fmt.Sprintf("%s → %s:%d %s", from, to, port, map[bool]string{true: "allowed", false: "denied"}[allowed]),
		run: func() bool { return s.vm[from].ProbeTCP(dst, probeTimeout) }, allowed: allowed}
}

// enforced are the probes of sharedWorld: the server accepts 80 from
// clients of its network and from ext (whose frames Neutron's table 0
// tagged), nothing else; b1 is a client but in another network.
func (s *sharedScene) enforced(ssh bool) []neutronProbe {
	return []neutronProbe{
		s.tcp("a1", "a2", 80, true),
		s.tcp("a1", "a2", 22, ssh),
		s.tcp("ext", "a2", 80, true),
		s.tcp("ext", "a2", 22, false),
		s.tcp("a2", "a1", 22, false),
		s.tcp("b1", "a2", 80, false),
	}
}

// TestNeutronSharedBridge: flowgate in shared mode on a bridge the Neutron
// OVS agent programs enforces policy on real TCP — also for traffic whose
// VLAN Neutron's table 0 set — while Neutron's flows stay byte-identical
// through apply, re-apply, live updates and agent restarts; when Neutron's
// stale-cookie cleanup deletes every flow that is not its own, the agent
// notices and restores enforcement.
func TestNeutronSharedBridge(t *testing.T) {
	s := startSharedScene(t)
	// Neutron alone (noop firewall): everything within a network passes.
	checkNeutron(t, []neutronProbe{s.tcp("a1", "a2", 22, true), s.tcp("ext", "a2", 22, true), s.tcp("b1", "a2", 80, false)})

	first := s.apply(t, "--shared")
	s.neutronIntact(t, "flowgate apply --shared")
	checkNeutron(t, s.enforced(false))
	if out := s.apply(t, "--shared"); !strings.Contains(out, "no changes") {
		t.Fatalf("second shared apply: %s (first: %s)", out, first)
	}
	s.neutronIntact(t, "a second flowgate apply --shared")
	tables := vsctl(t, s.o, "--columns=flow_tables", "list", "Bridge", "br-int")
	if named := regexp.MustCompile(`[{ ](\d+)=`).FindAllStringSubmatch(tables, -1); len(named) != len(compiler.Tables) || named[0][1] != "100" {
		t.Fatalf("shared mode must name flowgate's tables (100–170) and no other: %s", tables)
	}

	status := exec.Command(flowgateBin, "status", "--shared", "--ovsdb", s.o.DBAddr(), "--bridge", "br-int")
	status.Env = append(os.Environ(), s.o.Env()...)
	if out, err := status.CombinedOutput(); err != nil || !regexp.MustCompile(`(?m)^60\s+neutron:TRANSIENT_TABLE\s+7$`).Match(out) ||
		!regexp.MustCompile(`(?m)^100\s+classify\s+\d+$`).Match(out) {
		t.Fatalf("flowgate status --shared (want Neutron's table 60 with its NORMAL and 2 entry flows per VM, classify at 100): %v\n%s", err, out)
	}

	// The agent, handing back through Neutron's table 94, adopts the
	// bridge, follows a policy update and survives its own restart.
	cfg := writeSharedAgentConfig(t, s.o, s.policyDir, "94")
	a := startAgent(t, s.o, cfg)
	waitFor(t, "the agent's first sync", 10*time.Second, func() bool { return strings.Contains(a.log.String(), "flows replaced") })
	checkNeutron(t, s.enforced(false))
	if err := os.WriteFile(filepath.Join(s.policyDir, "ssh.yaml"), []byte(sshPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	checkNeutron(t, s.enforced(true))
	s.neutronIntact(t, "a live policy update")
	a.kill(syscall.SIGKILL)
	a = startAgent(t, s.o, cfg)
	waitFor(t, "the restarted agent's sync", 10*time.Second, func() bool { return strings.Contains(a.log.String(), "flows replaced") })
	checkNeutron(t, s.enforced(true))
	s.neutronIntact(t, "an agent restart")

	// Neutron's agent restarts and deletes, cookie by cookie, every flow
	// whose cookie is not its own (OpenFlowSwitchMixin.cleanup_flows): for
	// a moment traffic only meets Neutron's NORMAL, then flowgate's agent
	// puts its flows back.
	cookies := s.foreignCookies(t)
	if len(cookies) < 5 {
		t.Fatalf("flowgate's cookies: %v", cookies)
	}
	for _, c := range cookies {
		if _, err := s.o.Ofctl("-O", "OpenFlow15", "del-flows", "br-int", "cookie="+c+"/-1"); err != nil {
			t.Fatal(err)
		}
	}
	// The agent checks every 300 ms, so it may restore some flows while
	// the cleanup is still deleting others: it checks again until all are
	// back.
	waitFor(t, "the agent to notice the cleanup", 10*time.Second, func() bool {
		return strings.Contains(a.log.String(), "flows lost")
	})
	waitFor(t, "every flowgate cookie back", 10*time.Second, func() bool { return len(s.foreignCookies(t)) == len(cookies) })
	checkNeutron(t, s.enforced(true))
	s.neutronIntact(t, "Neutron's cleanup and flowgate's restore")
}

// TestNeutronBridgeNeedsSharedMode: without --shared, flowgate owns the
// bridge: one apply replaces Neutron's flows, canary included, which the
// Neutron agent takes for an ovs-vswitchd restart.
func TestNeutronBridgeNeedsSharedMode(t *testing.T) {
	s := startSharedScene(t)
	s.apply(t)
	if got := s.neutronFlows(t); len(got) != 0 {
		t.Fatalf("Neutron's flows survived an unshared apply: %v", got)
	}
}

// writeSharedAgentConfig is writeAgentConfig with the shared section on.
func writeSharedAgentConfig(t *testing.T, o *sandbox.OVS, policyDir, handBack string) string {
	t.Helper()
	path := writeAgentConfig(t, o, policyDir)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "shared: {enabled: true, handBack: %s}\n", handBack); err != nil {
		t.Fatal(err)
	}
	return path
}

// c9World binds the held port of TestNeutronSharedHoldsUnknownPort: a
// client of network A.
const c9World = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: c9, namespace: openstack, labels: {role: client}}
spec: {orchestrator: openstack, ipNetworks: [10.40.0.50/32], mac: "02:fd:40:00:00:50"}
`

// TestNeutronSharedHoldsUnknownPort: on a shared bridge a port whose
// iface-id names no endpoint flowgate knows is held as on a bridge of its
// own — also towards the machine beyond the uplink, whose traffic with it
// would otherwise only meet Neutron's NORMAL — and released once its
// endpoint is known.
func TestNeutronSharedHoldsUnknownPort(t *testing.T) {
	s := startSharedScene(t)
	w, err := s.o.AddWorkload("br-int", "c9", "c9", net.HardwareAddr{0x02, 0xfd, 0x40, 0, 0, 0x50}, netip.MustParsePrefix("10.40.0.50/24"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.o.RemoveWorkload(w) })
	vsctl(t, s.o, "set", "Port", w.HostIface, "tag=1")
	ln, err := w.ListenTCP(80)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s.vm["c9"] = w
	checkNeutron(t, []neutronProbe{s.tcp("ext", "c9", 80, true), s.tcp("c9", "ext", 80, true)})

	s.apply(t, "--shared")
	checkNeutron(t, append(s.enforced(false),
		s.tcp("ext", "c9", 80, false), s.tcp("c9", "ext", 80, false), s.tcp("c9", "a2", 80, false), s.tcp("a1", "c9", 80, false)))
	s.neutronIntact(t, "flowgate apply --shared with a held port")

	if err := os.WriteFile(filepath.Join(s.policyDir, "c9.yaml"), []byte(c9World), 0o644); err != nil {
		t.Fatal(err)
	}
	s.apply(t, "--shared")
	checkNeutron(t, append(s.enforced(false), s.tcp("c9", "a2", 80, true), s.tcp("c9", "ext", 80, true), s.tcp("ext", "c9", 80, false)))
}
