package openflow_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
)

// TestChangeLeavesNoStaleVerdict: once Apply returns, every new
// connection gets the new verdict — none is still served by a datapath
// flow cached under the old tables. A flow denying new connections to
// port 8080 is added and removed again and again, and right after each
// Apply a connection is opened: it must fail while the deny is in force
// and succeed once it is gone, while an established connection to port
// 8081 keeps echoing. (Without the purge after each bundle, 1–6 of 15
// connections got the old verdict here.)
func TestChangeLeavesNoStaleVerdict(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	a, err := o.AddWorkload(bridge, "a", "ns/a", mac("02:00:00:00:00:0a"), netip.MustParsePrefix("10.0.0.10/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := o.AddWorkload(bridge, "b", "ns/b", mac("02:00:00:00:00:0b"), netip.MustParsePrefix("10.0.0.11/24"))
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{8080, 8081} {
		srv, err := b.ListenTCP(port)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
	}
	dst := netip.MustParseAddrPort("10.0.0.11:8080")

	p := openflow.NewProgrammer(bridge, o.Env())
	if _, err := p.Sync(ctx, pipelineFlows(1)); err != nil {
		t.Fatal(err)
	}
	if !a.ProbeTCP(dst, 5*time.Second) {
		t.Fatal("no traffic through the pipeline before the test")
	}
	deny := compiler.Flow{Table: compiler.TableConntrackState.ID, Priority: 150, Match: "tcp,tp_dst=8080,ct_state=+new+trk",
		Actions: "drop", Cookie: compiler.NewCookie(1, compiler.CategoryRule, false, 1)}

	// The unaffected connection: established before the changes, echoing
	// a little data now and then.
	conn, err := a.DialTCP(netip.MustParseAddrPort("10.0.0.11:8081"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	echo := func() {
		t.Helper()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte("ping\n")); err != nil {
			t.Fatalf("established connection: %v", err)
		}
		buf := make([]byte, 5)
		if _, err := conn.Read(buf); err != nil {
			t.Fatalf("established connection: %v", err)
		}
	}
	echo()

	const rounds = 15
	staleDeny, staleAllow := 0, 0
	for range rounds {
		if err := p.Apply(ctx, compiler.Delta{Add: []compiler.Flow{deny}}); err != nil {
			t.Fatal(err)
		}
		if a.ProbeTCP(dst, 700*time.Millisecond) {
			staleDeny++
		}
		echo()
		if err := p.Apply(ctx, compiler.Delta{Delete: []compiler.Flow{deny}}); err != nil {
			t.Fatal(err)
		}
		if !a.ProbeTCP(dst, 700*time.Millisecond) {
			staleAllow++
		}
		echo()
	}
	if staleDeny > 0 || staleAllow > 0 {
		t.Errorf("right after Apply, %d of %d connections passed a deny in force and %d of %d failed after it was removed",
			staleDeny, rounds, staleAllow, rounds)
	}
}
