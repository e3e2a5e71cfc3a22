package integration

import (
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/unixctl"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// tracer runs ofproto/trace over one connection to ovs-vswitchd's unixctl
// socket (ovs/unixctl): ovs-appctl costs a process start (~10 ms) per
// trace, which for the ~20,000 traces of the scenario grids would be
// minutes; a request on an open connection is well under a millisecond.
type tracer struct {
	c *unixctl.Client
}

// newTracer connects to the sandbox's ovs-vswitchd and closes the
// connection when the test ends.
func newTracer(t testing.TB, o *sandbox.OVS) *tracer {
	t.Helper()
	c, err := unixctl.Dial(o.Dir, "ovs-vswitchd", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &tracer{c: c}
}

// call runs one unixctl command and returns its output.
func (tr *tracer) call(method string, params ...string) (string, error) {
	return tr.c.Call(method, params...)
}

// trace reports whether bridge delivers packet, the first packet of a new
// connection (conntrack says trk,new), and returns the trace for failure
// messages.
func (tr *tracer) trace(bridge, packet string) (bool, string, error) {
	out, err := tr.call("ofproto/trace", bridge, packet, "--ct-next", "trk,new")
	if err != nil {
		return false, out, err
	}
	return delivers(out), out, nil
}

// TestTracerMatchesAppctl checks the direct client against ovs-appctl on
// a few packets, one delivered and one dropped.
func TestTracerMatchesAppctl(t *testing.T) {
	o := sandboxTraceBridge(t)
	tr := newTracer(t, o)
	for _, tc := range []struct {
		flows  string
		packet string
		want   bool
	}{
		{"table=0,priority=1,actions=NORMAL", "in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tcp_dst=80", true},
		{"table=0,priority=1,tcp,tcp_dst=81,actions=NORMAL", "in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tcp_dst=80", false},
	} {
		if out, err := o.OfctlInput("delete\nadd "+tc.flows+"\n", "-O", OpenFlow, "--bundle", "add-flows", "br-int", "-"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		got, trace, err := tr.trace("br-int", tc.packet)
		if err != nil {
			t.Fatal(err)
		}
		viaAppctl, _, err := Trace(o, "br-int", tc.packet)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want || viaAppctl != tc.want {
			t.Errorf("%s with %s: tracer %v, ovs-appctl %v, want %v\n%s", tc.packet, tc.flows, got, viaAppctl, tc.want, trace)
		}
	}
	if _, err := tr.call("no/such/command"); err == nil {
		t.Error("an unknown command did not fail")
	}
}

// tracePods traces the first packet of a new connection from pod from to
// pod to on svc through br-int, where every pod is bound (locals) and
// known to ev, and reports whether it was delivered, with the trace.
func (tr *tracer) tracePods(ev *evaluator.Evaluator, locals map[string]compiler.Binding, from, to evaltest.Pod, svc evaltest.Service) (bool, string, error) {
	src := participant{name: from.String(), endpoint: ev.Endpoint(from.String())}
	dst := participant{name: to.String(), endpoint: ev.Endpoint(to.String())}
	sb, db := locals[src.name], locals[dst.name]
	src.binding, dst.binding = &sb, &db
	pkt := evaluator.Packet{Src: from.IP, Dst: to.IP, Protocol: svc.Protocol, SrcPort: evaluator.SourcePort, DstPort: svc.Port}
	return tr.trace("br-int", traceSpec(src, dst, pkt))
}
