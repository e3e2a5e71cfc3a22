package integration

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// hostScene is a "host" — a network namespace behind a port of the
// private bridge, declared as a Calico HostEndpoint by that port's
// interface name — and a client on another port that is no endpoint (a
// machine beyond the uplink). The host listens on SSH and HTTP, the client
// on etcd's client port and HTTP.
type hostScene struct {
	o             *sandbox.OVS
	host, client  *sandbox.Workload
	hostIP, cliIP netip.Addr
	policyDir     string
	// hostEndpoint is the HostEndpoint document for the host's port.
	hostEndpoint string
}

const (
	hostIP   = "10.40.0.10"
	clientIP = "10.40.0.20"
)

func newHostScene(t *testing.T) *hostScene {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	s := &hostScene{o: o, hostIP: netip.MustParseAddr(hostIP), cliIP: netip.MustParseAddr(clientIP), policyDir: t.TempDir()}
	var err error
	// No iface-ids: the host is bound by interface name, the client is a
	// machine beyond the uplink (a port with an iface-id naming no
	// endpoint would be held).
	if s.host, err = o.AddWorkload("br-int", "host", "", net.HardwareAddr{0x02, 0xfd, 0x40, 0, 0, 10}, netip.MustParsePrefix(hostIP+"/24")); err != nil {
		t.Fatal(err)
	}
	if s.client, err = o.AddWorkload("br-int", "client", "", net.HardwareAddr{0x02, 0xfd, 0x40, 0, 0, 20}, netip.MustParsePrefix(clientIP+"/24")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.RemoveWorkload(s.host); o.RemoveWorkload(s.client) })
	for _, l := range []struct {
		w    *sandbox.Workload
		port int
	}{{s.host, 22}, {s.host, 80}, {s.host, 8080}, {s.client, 2379}, {s.client, 80}} {
		ln, err := l.w.ListenTCP(l.port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	s.hostEndpoint = fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: hypervisor-1-br-int
  labels: {role: hypervisor}
spec:
  interfaceName: %s
  expectedIPs: [%s]
`, s.host.HostIface, hostIP)
	return s
}

const denyAllHosts = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-all-hosts}
spec:
  selector: role == 'hypervisor'
  types: [Ingress, Egress]
  ingress: [{action: Deny}]
  egress: [{action: Deny}]
`

func (s *hostScene) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.policyDir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// in reports whether the client can open a TCP connection to the host's port.
func (s *hostScene) in(port int) bool {
	return s.client.ProbeTCP(netip.AddrPortFrom(s.hostIP, uint16(port)), 300*time.Millisecond)
}

// out reports whether the host can open a TCP connection to the client's port.
func (s *hostScene) out(port int) bool {
	return s.host.ProbeTCP(netip.AddrPortFrom(s.cliIP, uint16(port)), 300*time.Millisecond)
}

// expect waits until every probe gives its expected answer (the agent
// applies changes asynchronously), then fails on any that does not.
func (s *hostScene) expect(t *testing.T, what string, in, out map[int]bool) {
	t.Helper()
	check := func() []string {
		var bad []string
		for port, want := range in {
			if got := s.in(port); got != want {
				bad = append(bad, fmt.Sprintf("client→host:%d allowed=%v, want %v", port, got, want))
			}
		}
		for port, want := range out {
			if got := s.out(port); got != want {
				bad = append(bad, fmt.Sprintf("host→client:%d allowed=%v, want %v", port, got, want))
			}
		}
		return bad
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		bad := check()
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, strings.Join(bad, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hostAgentConfig is an agent config for the scene with failsafe settings.
func hostAgentConfig(t *testing.T, s *hostScene, failsafeIn, failsafeOut string) string {
	t.Helper()
	cfg := fmt.Sprintf("bridge: br-int\ndatapathType: netdev\novsdb: %s\npolicyPaths: [%s]\npollInterval: 100ms\n"+
		"checkInterval: 300ms\nlogLevel: debug\nhealthAddress: \"\"\nstateDir: %s\n", s.o.DBAddr(), s.policyDir, t.TempDir())
	if failsafeIn != "" {
		cfg += fmt.Sprintf("failsafeInbound: %q\n", failsafeIn)
	}
	if failsafeOut != "" {
		cfg += fmt.Sprintf("failsafeOutbound: %q\n", failsafeOut)
	}
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHostEndpointFailsafe: with the agent running and Calico's default
// failsafes, a deny-all GlobalNetworkPolicy on the host endpoint still
// lets SSH in (and etcd out) while everything else is refused; without
// any policy the host endpoint is default-deny all the same; and before
// the host endpoint exists the host is not filtered at all.
func TestHostEndpointFailsafe(t *testing.T) {
	s := newHostScene(t)
	startAgent(t, s.o, hostAgentConfig(t, s, "", ""))
	s.expect(t, "no host endpoint yet: nothing filtered", map[int]bool{22: true, 80: true}, map[int]bool{80: true, 2379: true})

	s.write(t, "hep.yaml", s.hostEndpoint)
	s.write(t, "deny.yaml", denyAllHosts)
	s.expect(t, "deny-all with default failsafes",
		map[int]bool{22: true, 80: false, 8080: false}, // tcp:22 is an inbound failsafe
		map[int]bool{2379: true, 80: false})            // tcp:2379 is an outbound failsafe

	if err := os.Remove(filepath.Join(s.policyDir, "deny.yaml")); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "host endpoint without any policy: default deny, failsafes kept",
		map[int]bool{22: true, 80: false}, map[int]bool{2379: true, 80: false})

	if err := os.Remove(filepath.Join(s.policyDir, "hep.yaml")); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "host endpoint removed: not filtered again", map[int]bool{22: true, 80: true}, map[int]bool{80: true})
}

// TestHostEndpointFailsafeConfigurable: the failsafe lists come from the
// agent config; "none" disables them, and then a deny-all policy denies
// SSH too — the operator asked for exactly that.
func TestHostEndpointFailsafeConfigurable(t *testing.T) {
	s := newHostScene(t)
	s.write(t, "hep.yaml", s.hostEndpoint)
	s.write(t, "deny.yaml", denyAllHosts)
	a := startAgent(t, s.o, hostAgentConfig(t, s, "tcp:8080", "tcp:80"))
	s.expect(t, "failsafes tcp:8080 in, tcp:80 out", map[int]bool{8080: true, 22: false, 80: false}, map[int]bool{80: true, 2379: false})
	a.kill(syscall.SIGTERM)

	startAgent(t, s.o, hostAgentConfig(t, s, "none", "none"))
	s.expect(t, "failsafes none", map[int]bool{22: false, 8080: false, 80: false}, map[int]bool{80: false, 2379: false})
}

// TestHostEndpointApply: `flowgate apply` enforces the same, once, with
// failsafes from its flags.
func TestHostEndpointApply(t *testing.T) {
	s := newHostScene(t)
	s.write(t, "hep.yaml", s.hostEndpoint)
	s.write(t, "deny.yaml", denyAllHosts)
	apply := func(failsafeIn string) {
		t.Helper()
		cmd := exec.Command(flowgateBin, "apply", "--bridge", "br-int", "--ovsdb", s.o.DBAddr(), "--datapath-type", "netdev",
			"--failsafe-inbound", failsafeIn, "-f", s.policyDir)
		cmd.Env = s.o.Env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("flowgate apply: %v\n%s", err, out)
		}
	}
	apply("tcp:22")
	s.expect(t, "apply with failsafe tcp:22", map[int]bool{22: true, 80: false}, nil)
	apply("none")
	s.expect(t, "apply with failsafe none", map[int]bool{22: false, 80: false}, nil)
}

// TestHostEndpointNoSpoofGuard: as in Calico, a host endpoint's addresses
// are not policed — the host may send from an address that is not one of
// its expectedIPs (a second address on its port, a pod-subnet gateway) and
// its policy, not a spoof guard, decides.
func TestHostEndpointNoSpoofGuard(t *testing.T) {
	s := newHostScene(t)
	other := addAddr(t, s.host, "10.40.0.11/24")
	s.write(t, "hep.yaml", s.hostEndpoint)
	s.write(t, "allow-out.yaml", `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: hosts-out-80}
spec:
  selector: role == 'hypervisor'
  types: [Egress]
  egress:
    - action: Allow
      protocol: TCP
      destination: {ports: [80]}
`)
	startAgent(t, s.o, hostAgentConfig(t, s, "none", "none"))
	dst := netip.AddrPortFrom(s.cliIP, 80)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := s.host.DialTCPFrom(other, dst, probeTimeout)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host → client:80 from %s (not an expectedIP) denied: %v", other, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c, err := s.host.DialTCPFrom(other, netip.AddrPortFrom(s.cliIP, 2379), probeTimeout); err == nil {
		c.Close()
		t.Errorf("host → client:2379 from %s allowed: the host's policy should deny it", other)
	}
}
