package integration

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// pairMAC is the MAC of web-2's pair with a MAC of its own.
const pairMAC = "fa:16:3e:00:66:66"

// dialFrom is a probe connecting from src (an address the workload must
// already have) to addr.
func dialFrom(what string, w *sandbox.Workload, src netip.Addr, addr netip.AddrPort, allowed bool) neutronProbe {
	return neutronProbe{what: what, allowed: allowed, run: func() bool {
		c, err := w.DialTCPFrom(src, addr, probeTimeout)
		if err == nil {
			c.Close()
		}
		return err == nil
	}}
}

func addAddr(t *testing.T, w *sandbox.Workload, p string) netip.Addr {
	t.Helper()
	if out, err := w.Exec("ip", "addr", "add", p, "dev", "eth0"); err != nil {
		t.Fatalf("%s: %v: %s", w.Name, err, out)
	}
	return netip.MustParsePrefix(p).Addr()
}

// webPairs gives web-2 a prefix pair and a pair with a MAC of its own.
func webPairs(p map[string]any) {
	if p["name"] == "web-2" {
		p["allowed_address_pairs"] = []any{
			map[string]any{"ip_address": "10.10.5.0/24"},
			map[string]any{"ip_address": "10.10.6.6", "mac_address": pairMAC},
		}
	}
}

// TestNeutronAddressPairs: allowed address pairs on real traffic. A prefix
// pair lets web-2 send from any address in it, which counts as a member of
// its groups and is reachable; a pair with a MAC of its own lets it send
// the pair's address from that MAC (ARP included), and frames to that MAC
// meet web-2's ingress policy. Nothing else passes the spoof guard.
func TestNeutronAddressPairs(t *testing.T) {
	s := startNeutronScene(t, webPairs)
	web1, web2 := s.vm["web-1"], s.vm["web-2"]
	inPair := addAddr(t, web2, "10.10.5.5/32")
	outside := addAddr(t, web2, "10.10.7.7/32")
	db22 := s.addr("db-1", 22)
	// The default group lets its members reach db-1.
	checkNeutron(t, []neutronProbe{
		dialFrom("web-2 from its pair 10.10.5.5 → db-1:22 allowed", web2, inPair, db22, true),
		dialFrom("web-2 from 10.10.7.7, outside its pairs → db-1:22 denied", web2, outside, db22, false),
		{what: "web-1 → web-2's pair address 10.10.5.5:22 allowed", allowed: true,
			run: func() bool { return web1.ProbeTCP(netip.AddrPortFrom(inPair, 22), probeTimeout) }},
	})

	fixed := web2.IPs[0].Addr()
	if out, err := web2.Exec("ip", "link", "set", "eth0", "address", pairMAC); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pairAddr := addAddr(t, web2, "10.10.6.6/32")
	checkNeutron(t, []neutronProbe{
		dialFrom("web-2 as "+pairMAC+" from 10.10.6.6 → db-1:22 allowed", web2, pairAddr, db22, true),
		dialFrom("web-2 as "+pairMAC+" from its fixed address → db-1:22 denied", web2, fixed, db22, false),
		{what: "web-1 → 10.10.6.6:22 (web-2 by its pair MAC) allowed", allowed: true,
			run: func() bool { return web1.ProbeTCP(netip.AddrPortFrom(pairAddr, 22), probeTimeout) }},
		{what: "lb-1 → 10.10.6.6:22 denied by web-2's ingress policy", allowed: false,
			run: func() bool { return s.vm["lb-1"].ProbeTCP(netip.AddrPortFrom(pairAddr, 22), probeTimeout) }},
	})
}

// TestNeutronWidePair: router-vm's 0.0.0.0/0 pair lets it send from any
// address, and from its MAC any address is a member of its group (lb-1
// admits members on 22, as Neutron matches such a member by MAC); no
// other port gains that, whatever address it sends from, and no address
// does on its own.
func TestNeutronWidePair(t *testing.T) {
	s := startNeutronScene(t)
	router, nfv := s.vm["router-vm"], s.vm["nfv-probe"]
	a := addAddr(t, router, "198.51.100.7/32")
	b := addAddr(t, nfv, "198.51.100.8/32")
	lb22 := s.addr("lb-1", 22)
	checkNeutron(t, []neutronProbe{
		dialFrom("router-vm from 198.51.100.7 (its /0 pair) → lb-1:22 allowed", router, a, lb22, true),
		dialFrom("nfv-probe from 198.51.100.8 → lb-1:22 denied (not router-vm's MAC)", nfv, b, lb22, false),
		{what: "203.0.113.5 → lb-1:22 denied despite router-vm's 0.0.0.0/0 pair", allowed: false,
			run: func() bool { return s.outside["203.0.113.5"].ProbeTCP(lb22, probeTimeout) }},
	})
}

// TestNeutronPortSecurityOff: nfv-probe (port_security_enabled=false)
// sends from any address, is reachable without rules, and its traffic
// with other unfiltered ports is not tracked; what it sends to a filtered
// port still meets that port's ingress policy, and what a filtered port
// sends it that port's egress policy.
func TestNeutronPortSecurityOff(t *testing.T) {
	s := startNeutronScene(t)
	nfv := s.vm["nfv-probe"]
	any := addAddr(t, nfv, "198.51.100.8/32")
	checkNeutron(t, []neutronProbe{
		dialFrom("nfv-probe from 198.51.100.8 → web-1:80 allowed (port security off)", nfv, any, s.addr("web-1", 80), true),
		dialFrom("nfv-probe from 198.51.100.8 → web-1:22 denied by web-1's ingress", nfv, any, s.addr("web-1", 22), false),
		s.tcp("web-1", "nfv-probe", 5432, true),
		s.tcp("quarantine", "nfv-probe", 5432, false), // quarantine's egress allows nothing
		s.tcp("nfv-probe", "router_interface", 22, true),
	})
	out, err := s.o.Appctl("dpctl/dump-conntrack")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "src=10.20.0.50,dst=10.10.0.1,") {
		t.Errorf("traffic between two unfiltered ports was tracked:\n%s", out)
	}
	if !strings.Contains(out, "src=198.51.100.8,dst=10.10.0.11,") {
		t.Errorf("traffic from an unfiltered port to a filtered one was not tracked:\n%s", out)
	}
}

// TestNeutronDHCP: a DHCP client without an address broadcasts from
// 0.0.0.0 and the DHCP port hears it; a VM answering as a DHCP server
// (web-2, whose groups admit web-1's request) is not heard, although
// conntrack would take its answer for a reply.
func TestNeutronDHCP(t *testing.T) {
	s := startNeutronScene(t)
	web1, web2 := s.vm["web-1"], s.vm["web-2"]
	sink, err := s.vm["dhcp"].ListenUDPSink(67)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	tok := []byte("flowgate-dhcp-discover-" + time.Now().Format(time.RFC3339Nano))
	for _, port := range []int{67, 5353} {
		srv, err := web2.ListenUDP(port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
	}
	web2Addr := web2.IPs[0].Addr()
	checkNeutron(t, []neutronProbe{
		{what: "web-1's DHCP discover from 0.0.0.0 reaches the DHCP port", allowed: true, run: func() bool {
			if err := web1.SendDHCPDiscover(tok); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			return sink.Received(tok)
		}},
		{what: "web-1 → web-2 udp 5353 echoed (the path works)", allowed: true,
			run: func() bool { return web1.ProbeUDP(netip.AddrPortFrom(web2Addr, 5353), probeTimeout) }},
		{what: "web-2 answering web-1's DHCP request (udp 67 → 68) dropped", allowed: false,
			run: func() bool { return web1.ProbeUDPFrom(68, netip.AddrPortFrom(web2Addr, 67), probeTimeout) }},
	})
}
