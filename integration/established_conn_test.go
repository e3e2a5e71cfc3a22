package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

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
