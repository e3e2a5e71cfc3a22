package integration

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// received sends frame from w three times while capturing on at, and
// reports whether at received a frame matching want.
func received(t *testing.T, w, at *sandbox.Workload, frame []byte, want func(sandbox.IPv6Packet) bool) bool {
	t.Helper()
	c, err := at.StartCapture()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := w.SendFrame(frame); err != nil {
			c.Stop()
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	for _, f := range c.Stop() {
		if p, ok := sandbox.ParseIPv6(f); ok && want(p) {
			return true
		}
	}
	return false
}

// ndFrom matches neighbour discovery of type typ from mac about target.
func ndFrom(mac net.HardwareAddr, typ int, target netip.Addr) func(sandbox.IPv6Packet) bool {
	return func(p sandbox.IPv6Packet) bool {
		got, ok := p.NDTarget()
		return p.SrcMAC.String() == mac.String() && p.ICMPv6Type() == typ && ok && got == target
	}
}

// udpFrom matches UDP from mac with source address src.
func udpFrom(mac net.HardwareAddr, src netip.Addr) func(sandbox.IPv6Packet) bool {
	return func(p sandbox.IPv6Packet) bool {
		return p.SrcMAC.String() == mac.String() && p.Proto == 17 && p.Src == src
	}
}

// solicitedNode is the solicited-node multicast group of a.
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 1, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// TestIPv6SpoofGuard: with real frames, a workload (outsider) cannot send
// IPv6 from an address it does not own (another pod's global or
// link-local address), advertise or solicit as another pod (neighbour
// cache poisoning), or act as a router (router advertisement); each
// frame is looked for at another workload (web), which must not receive
// it. The same frames about the workload's own addresses arrive: without
// its own neighbour discovery IPv6 could not work.
func TestIPv6SpoofGuard(t *testing.T) {
	_, s, _ := ipv6Scene(t)
	attacker, victim, web := s.Workloads["six/outsider"], s.Workloads["six/client"], s.Workloads["six/web"]
	allNodes := netip.MustParseAddr("ff02::1")
	ownLL, victimLL := sandbox.LinkLocal(attacker.MAC), sandbox.LinkLocal(victim.MAC)
	for _, w := range []*sandbox.Workload{attacker, victim} {
		if out, _ := w.Exec("ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"); !strings.Contains(out, sandbox.LinkLocal(w.MAC).String()) {
			t.Fatalf("%s's link-local address is not the EUI-64 one %s:\n%s", w.Name, sandbox.LinkLocal(w.MAC), out)
		}
	}
	// web knows client's address (its neighbour entry is what poisoning
	// would overwrite).
	if !victim.ProbeUDP(netip.AddrPortFrom(v6(web), 5353), 3*time.Second) {
		t.Fatal("client cannot reach web over UDP/IPv6")
	}
	udp := sandbox.UDP6(40000, 5353, []byte("spoofed"))
	// UDP goes to web (whose policy admits client's addresses alone) and
	// to intruder (no policy: only the spoof guard can stop it).
	other := s.Workloads["six/intruder"]
	webMAC, otherMAC := web.MAC, other.MAC
	unassigned := netip.MustParseAddr("fd00:6::99")
	for _, c := range []struct {
		what  string
		at    *sandbox.Workload
		frame []byte
		want  func(sandbox.IPv6Packet) bool
		pass  bool
	}{
		{"UDP from its own address", other,
			sandbox.IPv6Frame(attacker.MAC, otherMAC, v6(attacker), v6(other), 17, udp), udpFrom(attacker.MAC, v6(attacker)), true},
		{"UDP from its own link-local address", other,
			sandbox.IPv6Frame(attacker.MAC, otherMAC, ownLL, sandbox.LinkLocal(otherMAC), 17, udp), udpFrom(attacker.MAC, ownLL), true},
		{"UDP from client's address (which web admits)", web,
			sandbox.IPv6Frame(attacker.MAC, webMAC, v6(victim), v6(web), 17, udp), udpFrom(attacker.MAC, v6(victim)), false},
		{"UDP from client's address", other,
			sandbox.IPv6Frame(attacker.MAC, otherMAC, v6(victim), v6(other), 17, udp), udpFrom(attacker.MAC, v6(victim)), false},
		{"UDP from client's link-local address", other,
			sandbox.IPv6Frame(attacker.MAC, otherMAC, victimLL, sandbox.LinkLocal(otherMAC), 17, udp), udpFrom(attacker.MAC, victimLL), false},
		{"UDP from an unassigned address of the subnet", other,
			sandbox.IPv6Frame(attacker.MAC, otherMAC, unassigned, v6(other), 17, udp), udpFrom(attacker.MAC, unassigned), false},
		{"a neighbour advertisement for its own address", web,
			sandbox.IPv6Frame(attacker.MAC, nil, ownLL, allNodes, 58, sandbox.NeighborAdvert(v6(attacker), attacker.MAC)),
			ndFrom(attacker.MAC, sandbox.ICMPv6NeighborAdvert, v6(attacker)), true},
		{"a neighbour advertisement for its own link-local address", web,
			sandbox.IPv6Frame(attacker.MAC, nil, ownLL, allNodes, 58, sandbox.NeighborAdvert(ownLL, attacker.MAC)),
			ndFrom(attacker.MAC, sandbox.ICMPv6NeighborAdvert, ownLL), true},
		{"a neighbour advertisement for client's address", web,
			sandbox.IPv6Frame(attacker.MAC, nil, ownLL, allNodes, 58, sandbox.NeighborAdvert(v6(victim), attacker.MAC)),
			ndFrom(attacker.MAC, sandbox.ICMPv6NeighborAdvert, v6(victim)), false},
		{"a neighbour advertisement for client's link-local address", web,
			sandbox.IPv6Frame(attacker.MAC, nil, ownLL, allNodes, 58, sandbox.NeighborAdvert(victimLL, attacker.MAC)),
			ndFrom(attacker.MAC, sandbox.ICMPv6NeighborAdvert, victimLL), false},
		{"a neighbour advertisement for its own address naming another MAC", web,
			sandbox.IPv6Frame(attacker.MAC, nil, ownLL, allNodes, 58, sandbox.NeighborAdvert(v6(attacker), victim.MAC)),
			ndFrom(attacker.MAC, sandbox.ICMPv6NeighborAdvert, v6(attacker)), false},
		{"a neighbour solicitation from its own address", web,
			sandbox.IPv6Frame(attacker.MAC, nil, v6(attacker), solicitedNode(v6(web)), 58, sandbox.NeighborSolicit(v6(web), attacker.MAC)),
			ndFrom(attacker.MAC, sandbox.ICMPv6NeighborSolicit, v6(web)), true},
		{"a duplicate address detection probe (from ::)", web,
			sandbox.IPv6Frame(attacker.MAC, nil, netip.IPv6Unspecified(), solicitedNode(v6(web)), 58, sandbox.NeighborSolicit(v6(web), nil)),
			ndFrom(attacker.MAC, sandbox.ICMPv6NeighborSolicit, v6(web)), true},
		{"a neighbour solicitation from client's address", web,
			sandbox.IPv6Frame(attacker.MAC, nil, v6(victim), solicitedNode(v6(web)), 58, sandbox.NeighborSolicit(v6(web), attacker.MAC)),
			ndFrom(attacker.MAC, sandbox.ICMPv6NeighborSolicit, v6(web)), false},
		{"a router advertisement", web,
			sandbox.IPv6Frame(attacker.MAC, nil, ownLL, allNodes, 58, sandbox.RouterAdvert(netip.MustParsePrefix("2001:db8:66::/64"), attacker.MAC)),
			func(p sandbox.IPv6Packet) bool {
				return p.SrcMAC.String() == attacker.MAC.String() && p.ICMPv6Type() == sandbox.ICMPv6RouterAdvert
			}, false},
	} {
		if got := received(t, attacker, c.at, c.frame, c.want); got != c.pass {
			t.Errorf("%s: %s received it: %t, want %t", c.what, c.at.Name, got, c.pass)
		}
	}
	// What the guard let through must have changed nothing it protects:
	// web still maps client's addresses to client's MAC, and took no
	// default route or address from the rogue router.
	for _, a := range []netip.Addr{v6(victim), victimLL} {
		if out, _ := web.Exec("ip", "-6", "neigh", "show", a.String()); strings.Contains(out, attacker.MAC.String()) {
			t.Errorf("web's neighbour entry for %s names the attacker: %s", a, out)
		}
	}
	if out, _ := web.Exec("ip", "-6", "route", "show"); strings.Contains(out, "proto ra") || strings.Contains(out, "2001:db8:66") {
		t.Errorf("web took a route from the rogue router advertisement:\n%s", out)
	}
	// And client still reaches web over IPv6 with its own address.
	if !victim.ProbeTCP(netip.AddrPortFrom(v6(web), 8080), 3*time.Second) {
		t.Error("client lost web over IPv6")
	}
}
