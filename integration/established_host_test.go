package integration

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHostFailsafeSurvivesCut: with establishedConnections: cut, replacing
// a host endpoint's "allow HTTP in" policy by deny-all cuts the open HTTP
// connection, while the open SSH connection — an inbound failsafe — keeps
// working in both directions: the re-checks see the failsafes as new
// connections do, so an operator is not locked out of a session either.
func TestHostFailsafeSurvivesCut(t *testing.T) {
	s := newHostScene(t)
	s.write(t, "hep.yaml", s.hostEndpoint)
	s.write(t, "allow.yaml", `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-web-in}
spec:
  selector: role == 'hypervisor'
  types: [Ingress]
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
`)
	startAgent(t, s.o, appendConfig(t, hostAgentConfig(t, s, "", ""), "establishedConnections: cut"))
	s.expect(t, "HTTP allowed in, SSH by failsafe", map[int]bool{22: true, 80: true, 8080: false}, nil)
	dial := func(port int) *lineConn {
		c, err := s.client.DialTCP(netip.AddrPortFrom(s.hostIP, uint16(port)), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return newLineConn(c)
	}
	echo := func(l *lineConn, tag string) bool {
		if l.send(tag) != nil {
			return false
		}
		got, err := l.recv(1500 * time.Millisecond)
		return err == nil && got == tag
	}
	ssh, http := dial(22), dial(80)
	for i := 0; i < 3; i++ {
		if !echo(ssh, fmt.Sprintf("before-%d", i)) || !echo(http, fmt.Sprintf("before-%d", i)) {
			t.Fatal("both connections must work before the change")
		}
	}
	if cut := cutEntries(t, s.o); len(cut) > 0 {
		t.Fatalf("allowed traffic was cut: %v", cut)
	}
	s.write(t, "deny.yaml", denyAllHosts)
	if err := os.Remove(filepath.Join(s.policyDir, "allow.yaml")); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "deny-all: only the failsafe", map[int]bool{22: true, 80: false}, nil)
	if echo(http, "after") {
		t.Error("the HTTP connection is denied now and must be cut")
	}
	for i := 0; i < 3; i++ {
		if !echo(ssh, fmt.Sprintf("after-%d", i)) {
			t.Fatal("the SSH connection is a failsafe and must keep working")
		}
	}
}
