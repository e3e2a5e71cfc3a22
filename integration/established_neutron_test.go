package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// TestNeutronRuleRemovalCutsConnections: with establishedConnections: cut
// (Neutron's behaviour), removing the web group's "TCP 80 from anywhere"
// rule and reimporting cuts the open connection it admitted from beyond
// the uplink, while web-2's connection to the same port, admitted by the
// default group's rule, keeps working; new connections follow the new
// groups.
func TestNeutronRuleRemovalCutsConnections(t *testing.T) {
	s := startNeutronSceneConfig(t, []string{"establishedConnections: cut"})
	outside, web2 := s.outside["203.0.113.5"], s.vm["web-2"]
	to := s.addr("web-1", 80)
	checkNeutron(t, []neutronProbe{
		{what: "outside → web-1:80 allowed", run: func() bool { return outside.ProbeTCP(to, probeTimeout) }, allowed: true},
		s.tcp("web-2", "web-1", 80, true),
	})
	dial := func(w *sandbox.Workload) *lineConn {
		c, err := w.DialTCP(to, 2*time.Second)
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
	fromOutside, fromWeb2 := dial(outside), dial(web2)
	if !echo(fromOutside, "before") || !echo(fromWeb2, "before") {
		t.Fatal("both connections must work before the change")
	}
	// Replies are re-checked as their connection's original direction:
	// traffic only a port or ICMP-type rule admits must not be cut by it.
	for i := 0; i < 3; i++ {
		if !s.outside["10.99.0.5"].Ping(s.vm["web-1"].IPs[0].Addr(), time.Second) {
			t.Fatal("ping from 10.99.0.5 to web-1 is admitted by icmp-diag's type 8 rule")
		}
		if !echo(fromOutside, fmt.Sprintf("before-%d", i)) {
			t.Fatal("the outside connection must keep working before the change")
		}
	}
	if !s.vm["db-1"].Ping(s.vm["web-1"].IPs[1].Addr(), time.Second) {
		t.Fatal("IPv6 ping db-1 → web-1 is admitted by the default group")
	}
	if cut := cutEntries(t, s.o); len(cut) > 0 {
		t.Fatalf("allowed traffic was cut:\n%s", strings.Join(cut, "\n"))
	}

	// The web group without its rule 7403e430 (IPv4 TCP 80 from 0.0.0.0/0).
	data, err := os.ReadFile(neutronSample + "security-groups.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, g := range doc["security_groups"] {
		var kept []any
		for _, r := range g["security_group_rules"].([]any) {
			if strings.HasPrefix(r.(map[string]any)["id"].(string), "7403e430") {
				removed++
				continue
			}
			kept = append(kept, r)
		}
		g["security_group_rules"] = kept
	}
	if removed != 1 {
		t.Fatalf("the sample's web group has no rule 7403e430 (%d found)", removed)
	}
	sgs := filepath.Join(t.TempDir(), "security-groups.json")
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sgs, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(flowgateBin, "import", "openstack", "-f", sgs, "-f", neutronSample+"address-groups.json",
		"-f", s.portsJSON, "-o", filepath.Join(s.policyDir, "neutron.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flowgate import openstack: %v\n%s", err, out)
	}
	checkNeutron(t, []neutronProbe{
		{what: "new outside → web-1:80 denied", run: func() bool { return outside.ProbeTCP(to, probeTimeout) }, allowed: false},
		s.tcp("web-2", "web-1", 80, true),
	})
	if echo(fromOutside, "after") {
		t.Error("the connection the removed rule admitted must be cut")
	}
	for i := 0; i < 3; i++ {
		if !echo(fromWeb2, fmt.Sprintf("after-%d", i)) {
			t.Fatal("web-2's connection, admitted by a rule still present, must keep working")
		}
	}
}
