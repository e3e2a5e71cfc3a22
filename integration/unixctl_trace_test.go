package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// tracer runs ofproto/trace over one connection to ovs-vswitchd's unixctl
// socket, speaking its JSON-RPC directly: ovs-appctl costs a process start
// (~10 ms) per trace, which for the ~20,000 traces of the scenario grids
// would be minutes; a request on an open connection is well under a
// millisecond.
type tracer struct {
	conn net.Conn
	dec  *json.Decoder
	id   int
}

// newTracer connects to the sandbox's ovs-vswitchd and closes the
// connection when the test ends.
func newTracer(t testing.TB, o *sandbox.OVS) *tracer {
	t.Helper()
	pid, err := os.ReadFile(filepath.Join(o.Dir, "ovs-vswitchd.pid"))
	if err != nil {
		t.Fatalf("ovs-vswitchd pid: %v", err)
	}
	path := filepath.Join(o.Dir, "ovs-vswitchd."+strings.TrimSpace(string(pid))+".ctl")
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("connect to %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &tracer{conn: conn, dec: json.NewDecoder(conn)}
}

// call runs one unixctl command and returns its output.
func (tr *tracer) call(method string, params ...string) (string, error) {
	tr.id++
	req, err := json.Marshal(map[string]any{"id": tr.id, "method": method, "params": params})
	if err != nil {
		return "", err
	}
	if err := tr.conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return "", err
	}
	if _, err := tr.conn.Write(req); err != nil {
		return "", fmt.Errorf("%s: send: %w", method, err)
	}
	var resp struct {
		ID     int     `json:"id"`
		Result *string `json:"result"`
		Error  *string `json:"error"`
	}
	if err := tr.dec.Decode(&resp); err != nil {
		return "", fmt.Errorf("%s: read reply: %w", method, err)
	}
	switch {
	case resp.ID != tr.id:
		return "", fmt.Errorf("%s: reply to request %d, sent %d", method, resp.ID, tr.id)
	case resp.Error != nil:
		return "", fmt.Errorf("%s %s: %s", method, strings.Join(params, " "), *resp.Error)
	case resp.Result == nil:
		return "", fmt.Errorf("%s: empty reply", method)
	}
	return *resp.Result, nil
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
