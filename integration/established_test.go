package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// twoRulePolicy admits the frontend on TCP 9090 and UDP 9091 (rules 0
// and 1) and the backend on 8080 (rule 2); with dropFirst the frontend's
// rules are gone and the backend's takes slot 0, so its rule id is the
// one the first removed rule had.
func twoRulePolicy(frontend, backend netip.Addr, dropFirst bool) string {
	fe := fmt.Sprintf(`  - action: Allow
    protocol: TCP
    source:
      nets: [%[1]s/32]
    destination:
      ports: [9090]
  - action: Allow
    protocol: UDP
    source:
      nets: [%[1]s/32]
    destination:
      ports: [9091]
`, frontend)
	if dropFirst {
		fe = ""
	}
	return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: database-ingress
  namespace: prod
spec:
  selector: app == 'database'
  types: [Ingress]
  ingress:
%s  - action: Allow
    protocol: TCP
    source:
      nets: [%s/32]
    destination:
      ports: [8080]
`, fe, backend)
}

// establishedScene starts OVS, the database-allow-backends workloads and
// an agent in the given establishedConnections mode enforcing policy.
func establishedScene(t testing.TB, mode string, policy func(*Scene) string) (*sandbox.OVS, *Scene, string) {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	src := "../examples/seeds/database-allow-backends"
	s, err := StartScene(o, "br-int", src, []int{8080})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	dir := t.TempDir()
	world, err := os.ReadFile(filepath.Join(src, "world.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "world.yaml"), world, 0o644); err != nil {
		t.Fatal(err)
	}
	writePolicy(t, dir, policy(s))
	startAgent(t, o, appendConfig(t, writeAgentConfig(t, o, dir), "establishedConnections: "+mode))
	return o, s, dir
}

// appendConfig adds lines to an agent config file and returns its path.
func appendConfig(t testing.TB, path string, lines ...string) string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := fmt.Fprintln(f, l); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func writePolicy(t testing.TB, dir, yaml string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lineConn reads and writes lines on one side of a TCP connection with a
// deadline, so a cut connection shows as a timeout.
type lineConn struct {
	c net.Conn
	r *bufio.Reader
}

func newLineConn(c net.Conn) *lineConn { return &lineConn{c, bufio.NewReader(c)} }

func (l *lineConn) send(msg string) error {
	l.c.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := fmt.Fprintln(l.c, msg)
	return err
}

func (l *lineConn) recv(d time.Duration) (string, error) {
	l.c.SetReadDeadline(time.Now().Add(d))
	s, err := l.r.ReadString('\n')
	return strings.TrimSpace(s), err
}

// exchange sends a line each way (client first) and reports which arrived.
func exchange(client, server *lineConn, tag string) (toServer, toClient bool) {
	if client.send("c-"+tag) == nil {
		got, err := server.recv(1500 * time.Millisecond)
		toServer = err == nil && got == "c-"+tag
	}
	if server.send("s-"+tag) == nil {
		got, err := client.recv(1500 * time.Millisecond)
		toClient = err == nil && got == "s-"+tag
	}
	return toServer, toClient
}

// TestEstablishedConnectionsOnRuleRemoval: prod/database admits the
// frontend on 9090 and the backend on 8080, each by its own rule; both
// connect, then the frontend's rule is removed (the backend's rule moves
// into its slot and takes its rule id). With establishedConnections:
// survive (Calico) the frontend's open connection keeps working both
// ways; with cut (Neutron) it carries nothing more in either direction and
// conntrack marks it cut. In both modes the backend's connection keeps
// working and new connections follow the new policy.
func TestEstablishedConnectionsOnRuleRemoval(t *testing.T) {
	for _, mode := range []string{"survive", "cut"} {
		t.Run(mode, func(t *testing.T) {
			o, s, dir := establishedScene(t, mode, func(s *Scene) string {
				return twoRulePolicy(s.addr("dev/frontend", 0).Addr(), s.addr("dev/backend", 0).Addr(), false)
			})
			fe, be := s.Workloads["dev/frontend"], s.Workloads["dev/backend"]
			db9090, db8080 := s.addr("prod/database", 9090), s.addr("prod/database", 8080)
			ln, err := s.Workloads["prod/database"].Listen(9090)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			waitFor(t, "the backend allowed to 8080", 10*time.Second, func() bool { return be.ProbeTCP(db8080, 300*time.Millisecond) })
			if fe.ProbeTCP(db8080, 300*time.Millisecond) {
				t.Fatal("the frontend must not reach 8080")
			}
			c, err := fe.DialTCP(db9090, 2*time.Second)
			if err != nil {
				t.Fatalf("the frontend's rule admits 9090: %v", err)
			}
			defer c.Close()
			sc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			client, server := newLineConn(c), newLineConn(sc)
			if up, down := exchange(client, server, "before"); !up || !down {
				t.Fatalf("before the change: to server %v, to client %v", up, down)
			}
			// A UDP flow the frontend opens and then only listens to.
			udpServer, err := s.Workloads["prod/database"].ListenPacket(9091)
			if err != nil {
				t.Fatal(err)
			}
			defer udpServer.Close()
			udpClient, err := fe.DialUDP(s.addr("prod/database", 9091))
			if err != nil {
				t.Fatal(err)
			}
			defer udpClient.Close()
			if _, err := udpClient.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			udpServer.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, udpPeer, err := udpServer.ReadFrom(buf)
			if err != nil {
				t.Fatalf("the frontend's UDP rule admits 9091: %v", err)
			}
			if got := udpStream(t, udpServer, udpPeer, udpClient, 1); got != 1 {
				t.Fatalf("before the change the UDP reply must arrive, got %d of 1", got)
			}
			// A TCP connection whose client will fall silent.
			c2, err := fe.DialTCP(db9090, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			sc2, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc2.Close()
			silent, silentServer := newLineConn(c2), newLineConn(sc2)
			if up, down := exchange(silent, silentServer, "before"); !up || !down {
				t.Fatalf("before the change: to server %v, to client %v", up, down)
			}
			bc, err := be.DialTCP(db8080, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer bc.Close()
			backend := newLineConn(bc)
			echo := func(tag string) error {
				if err := backend.send(tag); err != nil {
					return err
				}
				got, err := backend.recv(1500 * time.Millisecond)
				if err == nil && got != tag {
					err = fmt.Errorf("echo %q, want %q", got, tag)
				}
				return err
			}
			if err := echo("before"); err != nil {
				t.Fatal(err)
			}

			if cut := cutEntries(t, o); len(cut) > 0 {
				t.Fatalf("before the change nothing is denied, yet conntrack holds cut connections:\n%s", strings.Join(cut, "\n"))
			}

			writePolicy(t, dir, twoRulePolicy(fe.IPs[0].Addr(), be.IPs[0].Addr(), true))
			waitFor(t, "new frontend connections to 9090 denied", 10*time.Second, func() bool {
				nc, err := fe.DialTCP(db9090, 300*time.Millisecond)
				if err == nil {
					nc.Close()
				}
				return err != nil
			})

			// The responder sends first: only the reply direction is
			// seen (the UDP client stays silent).
			streamed := udpStream(t, udpServer, udpPeer, udpClient, 5)
			t.Logf("%s: %d of 5 UDP replies arrived after the change", mode, streamed)
			// The silent client's segments (its ACKs too) go to a MAC
			// that is no endpoint's, so they meet no ingress policy and
			// cannot cut the connection: only the server's replies can.
			dbIP := s.addr("prod/database", 0).Addr().String()
			if out, err := fe.Exec("ip", "neigh", "replace", dbIP, "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "permanent"); err != nil {
				t.Fatalf("ip neigh: %v: %s", err, out)
			}
			tcpStreamed := 0
			for i := 0; i < 3; i++ {
				silentServer.send(fmt.Sprintf("s-%d", i))
				time.Sleep(200 * time.Millisecond)
			}
			for {
				if _, err := silent.recv(time.Second); err != nil {
					break
				}
				tcpStreamed++
			}
			t.Logf("%s: %d of 3 TCP replies to a silent client arrived after the change", mode, tcpStreamed)
			if out, err := fe.Exec("ip", "neigh", "del", dbIP, "dev", "eth0"); err != nil {
				t.Fatalf("ip neigh: %v: %s", err, out)
			}
			up, down := exchange(client, server, "after")
			switch mode {
			case "survive":
				if !up || !down {
					t.Errorf("survive: the frontend's open connection must keep working: to server %v, to client %v", up, down)
				}
				if streamed != 5 || tcpStreamed != 3 {
					t.Errorf("survive: the replies must keep coming: UDP %d of 5, TCP %d of 3", streamed, tcpStreamed)
				}
			case "cut":
				if streamed > 1 || tcpStreamed > 1 {
					t.Errorf("cut: the flows lost their rules: only the reply that finds one denied may pass: UDP %d of 5, TCP %d of 3", streamed, tcpStreamed)
				}
				if up || down {
					t.Errorf("cut: the frontend's connection lost its rule and must carry nothing: to server %v, to client %v", up, down)
				}
				cut, kept := conntrackMarks(t, o, fe.IPs[0].Addr(), be.IPs[0].Addr())
				if !cut || kept {
					t.Errorf("cut: conntrack: frontend's connection marked cut %v (want true), backend's %v (want false)", cut, kept)
				}
				relatedDropped(t, o, s.Workloads["prod/database"], fe)
			}
			for i := 0; i < 3; i++ {
				if err := echo(fmt.Sprintf("after-%d", i)); err != nil {
					t.Fatalf("the backend's connection is still allowed and must keep working: %v", err)
				}
			}
			if !be.ProbeTCP(db8080, time.Second) {
				t.Error("a new backend connection to 8080 must be allowed")
			}
			if fe.ProbeTCP(db8080, 300*time.Millisecond) {
				t.Error("a new frontend connection to 8080 must be denied")
			}
		})
	}
}

// udpStream sends n datagrams from server to peer, 100 ms apart, and
// counts those client receives.
func udpStream(t *testing.T, server net.PacketConn, peer net.Addr, client net.Conn, n int) int {
	t.Helper()
	got := make(chan int, 1)
	go func() {
		count, buf := 0, make([]byte, 64)
		for {
			client.SetReadDeadline(time.Now().Add(time.Duration(n)*100*time.Millisecond + time.Second))
			if _, err := client.Read(buf); err != nil {
				got <- count
				return
			}
			if count++; count == n {
				got <- count
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		if _, err := server.WriteTo([]byte(fmt.Sprintf("s-%d", i)), peer); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return <-got
}

// conntrackMarks reports whether a TCP connection from each source
// carries the cut mark (ct_mark bit 1) in the datapath's conntrack.
func conntrackMarks(t *testing.T, o *sandbox.OVS, a, b netip.Addr) (aCut, bCut bool) {
	t.Helper()
	out, err := o.Appctl("dpctl/dump-conntrack", "-m")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "tcp,") {
			continue
		}
		cut := markCut(line)
		switch {
		case strings.Contains(line, "orig=(src="+a.String()+","):
			aCut = aCut || cut
		case strings.Contains(line, "orig=(src="+b.String()+","):
			bCut = bCut || cut
		}
	}
	if t.Failed() {
		t.Logf("conntrack:\n%s", out)
	}
	return aCut, bCut
}

// cutEntries lists the conntrack entries carrying the cut mark.
func cutEntries(t *testing.T, o *sandbox.OVS) []string {
	t.Helper()
	out, err := o.Appctl("dpctl/dump-conntrack", "-m")
	if err != nil {
		t.Fatal(err)
	}
	var cut []string
	for _, line := range strings.Split(out, "\n") {
		if markCut(line) {
			cut = append(cut, line)
		}
	}
	return cut
}

// markCut reads "mark=N" of a dump-conntrack line.
func markCut(line string) bool {
	i := strings.Index(line, "mark=")
	if i < 0 {
		return false
	}
	var m uint32
	fmt.Sscanf(line[i+len("mark="):], "%d", &m)
	return m&2 != 0
}

// relatedDropped traces an ICMP error (port unreachable, quoting a TCP
// segment) from db to client, related to a connection: delivered while the
// connection's mark is only "committed", dropped once it is cut.
func relatedDropped(t *testing.T, o *sandbox.OVS, db, client *sandbox.Workload) {
	t.Helper()
	for _, c := range []struct {
		mark    string
		deliver bool
	}{{"0x1", true}, {"0x3", false}} {
		pkt := fmt.Sprintf("in_port=%d,icmp,dl_src=%s,dl_dst=%s,nw_src=%s,nw_dst=%s,icmp_type=3,icmp_code=3,ct_mark=%s",
			db.OFPort, db.MAC, client.MAC, db.IPs[0].Addr(), client.IPs[0].Addr(), c.mark)
		out, err := o.Appctl("ofproto/trace", "br-int", pkt, "--ct-next", "trk,rel")
		if err != nil {
			t.Fatalf("trace %s: %v\n%s", pkt, err, out)
		}
		if delivers(out) != c.deliver {
			t.Errorf("cut: a related ICMP error of a connection with ct_mark=%s: delivered %v, want %v\n%s", c.mark, !c.deliver, c.deliver, out)
		}
	}
}

// TestNeutronRuleRemovalCutsConnections: with establishedConnections: cut
// (Neutron's behaviour), removing the web group's "TCP 80 from anywhere"
// rule and reimporting cuts the open connection it admitted from beyond
// the uplink, while web-2's connection to the same port, admitted by the
// default group's rule, keeps working; new connections follow the new
// groups.
func TestNeutronRuleRemovalCutsConnections(t *testing.T) {
	s := startNeutronScene(t, "establishedConnections: cut")
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

// TestApplyCutsConnections: `flowgate apply --established-connections cut`
// with a policy that denies an open connection cuts it (the bundle brings
// the re-check with the policy), while the backend's connection, still
// allowed, keeps working; applying the same again changes nothing.
func TestApplyCutsConnections(t *testing.T) {
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	src := "../examples/seeds/database-allow-backends"
	s, err := StartScene(o, "br-int", src, []int{8080})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	apply := func(dir string) string {
		t.Helper()
		cmd := exec.Command(flowgateBin, "apply", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev",
			"--established-connections", "cut", "-f", dir)
		cmd.Env = append(os.Environ(), o.Env()...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("flowgate apply: %v\n%s", err, out)
		}
		return string(out)
	}
	open := t.TempDir()
	copyFile(t, filepath.Join(src, "world.yaml"), filepath.Join(open, "world.yaml"))
	apply(open)
	fe, be, to := s.Workloads["dev/frontend"], s.Workloads["dev/backend"], s.addr("prod/database", 8080)
	waitFor(t, "no policy: the frontend allowed", 10*time.Second, func() bool { return fe.ProbeTCP(to, 300*time.Millisecond) })
	echoer := func(w *sandbox.Workload) func(string) bool {
		c, err := w.DialTCP(to, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		l := newLineConn(c)
		return func(tag string) bool {
			if l.send(tag) != nil {
				return false
			}
			got, err := l.recv(1500 * time.Millisecond)
			return err == nil && got == tag
		}
	}
	feEcho, beEcho := echoer(fe), echoer(be)
	if !feEcho("before") || !beEcho("before") {
		t.Fatal("both connections must work with no policy")
	}
	apply(src) // the world and database-allow-backends: only backends on 8080
	if feEcho("after") {
		t.Error("the frontend's connection is denied by the applied policy and must be cut")
	}
	if !beEcho("after") {
		t.Error("the backend's connection is still allowed and must keep working")
	}
	if out := apply(src); !strings.Contains(out, "no changes") {
		t.Errorf("a second apply of the same input in cut mode: %s", out)
	}
}
