package integration

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
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
	o, s := backendScene(t)
	dir := t.TempDir()
	world, err := os.ReadFile(filepath.Join(backendSeed, "world.yaml"))
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

// TestEstablishedConnectionsOnRuleRemoval: prod/database admits the
// frontend on 9090 and the backend on 8080, each by its own rule; both
// connect, then the frontend's rule is removed (the backend's rule moves
// into its slot and takes its rule id). With establishedConnections:
// survive (Calico) the frontend's open connection keeps working both
// ways; with cut it carries nothing more in either direction and
// conntrack marks it cut, and so do flows whose initiator has fallen
// silent; with cut-initiator (Neutron) the same, except that replies to a
// silent initiator keep coming. In every mode the backend's connection
// keeps working and new connections follow the new policy.
func TestEstablishedConnectionsOnRuleRemoval(t *testing.T) {
	for _, mode := range []string{"survive", "cut", "cut-initiator"} {
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
			case "cut-initiator":
				// Neutron's behaviour: replies are not checked, so a silent
				// initiator's flows keep receiving.
				if streamed != 5 || tcpStreamed != 3 {
					t.Errorf("cut-initiator: replies to a silent initiator are not checked: UDP %d of 5, TCP %d of 3", streamed, tcpStreamed)
				}
			}
			if mode != "survive" {
				if up || down {
					t.Errorf("%s: the frontend's connection lost its rule and must carry nothing: to server %v, to client %v", mode, up, down)
				}
				cut, kept := conntrackMarks(t, o, fe.IPs[0].Addr(), be.IPs[0].Addr())
				if !cut || kept {
					t.Errorf("%s: conntrack: frontend's connection marked cut %v (want true), backend's %v (want false)", mode, cut, kept)
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
