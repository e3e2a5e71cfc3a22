package ovsdb_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/flowgate/flowgate/ovs/ovsdb"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/compiler"
)

// connect starts a sandbox and connects a client to it.
func connect(t *testing.T) (*sandbox.OVS, *ovsdb.Client, context.Context) {
	t.Helper()
	o := sandboxtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c, err := ovsdb.Connect(ctx, o.DBAddr())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(c.Close)
	return o, c, ctx
}

func vsctl(t *testing.T, o *sandbox.OVS, args ...string) string {
	t.Helper()
	out, err := o.Vsctl(args...)
	if err != nil {
		t.Fatalf("ovs-vsctl %v: %v", args, err)
	}
	return strings.TrimSpace(out)
}

func ofctl(t *testing.T, o *sandbox.OVS, args ...string) string {
	t.Helper()
	out, err := o.Ofctl(args...)
	if err != nil {
		t.Fatalf("ovs-ofctl %v: %v", args, err)
	}
	return out
}

func mac(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConnectFailsWithoutServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr := "unix:" + t.TempDir() + "/db.sock"
	c, err := ovsdb.Connect(ctx, addr)
	if err == nil {
		c.Close()
		t.Fatal("Connect to a missing server succeeded")
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address", err)
	}
}

func TestEnsureBridgeCreates(t *testing.T) {
	o, c, ctx := connect(t)
	if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
		t.Fatalf("EnsureBridge: %v", err)
	}
	if got := vsctl(t, o, "get", "Bridge", "br-int", "fail_mode"); got != "secure" {
		t.Errorf("fail_mode = %s, want secure", got)
	}
	if got := vsctl(t, o, "get", "Bridge", "br-int", "datapath_type"); got != "netdev" {
		t.Errorf("datapath_type = %s, want netdev", got)
	}
	got := vsctl(t, o, "get", "Bridge", "br-int", "protocols")
	for _, p := range ovsdb.Protocols {
		if !strings.Contains(got, p) {
			t.Errorf("protocols = %s, missing %s", got, p)
		}
	}
	// EnsureBridge waited for ovs-vswitchd: OpenFlow 1.5 works right away
	// and a fail_mode=secure bridge starts without flows.
	flows := ofctl(t, o, "-O", "OpenFlow15", "dump-flows", "br-int")
	if strings.Contains(flows, "actions=") {
		t.Errorf("new secure bridge has flows:\n%s", flows)
	}
	// The bridge's internal port is there, as after ovs-vsctl add-br.
	ifs := c.Interfaces("br-int")
	if len(ifs) != 1 || ifs[0].Name != "br-int" || ifs[0].Type != "internal" || ifs[0].OFPort != 65534 {
		t.Errorf("Interfaces = %+v, want the internal port br-int at 65534", ifs)
	}
}

func TestEnsureBridgeAdoptsOwnBridgeUnchanged(t *testing.T) {
	o, c, ctx := connect(t)
	if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
		t.Fatal(err)
	}
	a, err := o.AddWorkload("br-int", "a", "ns/a", mac(t, "02:00:00:00:00:0a"), netip.MustParsePrefix("10.0.0.10/24"))
	if err != nil {
		t.Fatal(err)
	}
	ofctl(t, o, "-O", "OpenFlow15", "add-flow", "br-int", "cookie=0x42,table=0,priority=5,actions=NORMAL")
	before := snapshot(t, o, "br-int", a.HostIface)
	if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
		t.Fatalf("second EnsureBridge: %v", err)
	}
	if after := snapshot(t, o, "br-int", a.HostIface); after != before {
		t.Errorf("adopting our own bridge changed it:\nbefore %s\nafter  %s", before, after)
	}
}

func TestEnsureBridgeAdoptsForeignBridge(t *testing.T) {
	o, c, ctx := connect(t)
	// A bridge somebody else set up: standalone, OpenFlow 1.0 only, a port
	// with traffic, a flow of theirs.
	vsctl(t, o, "add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev", "protocols=OpenFlow10")
	a, err := o.AddWorkload("br-int", "a", "ns/a", mac(t, "02:00:00:00:00:0a"), netip.MustParsePrefix("10.0.0.10/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := o.AddWorkload("br-int", "b", "ns/b", mac(t, "02:00:00:00:00:0b"), netip.MustParsePrefix("10.0.0.11/24"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := b.ListenTCP(8080)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dst := netip.MustParseAddrPort("10.0.0.11:8080")
	if !a.ProbeTCP(dst, 5*time.Second) {
		t.Fatal("no traffic through the foreign standalone bridge before adoption")
	}
	flowsBefore := normFlows(ofctl(t, o, "dump-flows", "br-int"))
	before := snapshot(t, o, "br-int", a.HostIface, b.HostIface)

	hook := logtest.NewGlobal()
	defer hook.Reset()
	if err := c.EnsureBridge(ctx, "br-int", ""); err != nil {
		t.Fatalf("EnsureBridge on a foreign bridge: %v", err)
	}
	if after := snapshot(t, o, "br-int", a.HostIface, b.HostIface); after != before {
		t.Errorf("adoption changed ports or bridge identity:\nbefore %s\nafter  %s", before, after)
	}
	got := vsctl(t, o, "get", "Bridge", "br-int", "protocols")
	for _, p := range ovsdb.Protocols {
		if !strings.Contains(got, p) {
			t.Errorf("protocols after adoption = %s, missing %s", got, p)
		}
	}
	if fm := vsctl(t, o, "get", "Bridge", "br-int", "fail_mode"); fm != "[]" {
		t.Errorf("fail_mode changed to %s; adoption must leave it", fm)
	}
	if dt := vsctl(t, o, "get", "Bridge", "br-int", "datapath_type"); dt != "netdev" {
		t.Errorf("datapath_type changed to %s; adoption must leave it", dt)
	}
	if after := normFlows(ofctl(t, o, "dump-flows", "br-int")); after != flowsBefore {
		t.Errorf("adoption changed flows:\nbefore %s\nafter  %s", flowsBefore, after)
	}
	if !a.ProbeTCP(dst, 5*time.Second) {
		t.Error("traffic stopped after adoption")
	}
	var warned []string
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			warned = append(warned, e.Message)
		}
	}
	if !slices.ContainsFunc(warned, func(m string) bool { return strings.Contains(m, "fail_mode") }) ||
		!slices.ContainsFunc(warned, func(m string) bool { return strings.Contains(m, "datapath_type") }) {
		t.Errorf("want warnings about fail_mode and datapath_type, got %q", warned)
	}
}

func TestEnsureBridgeKeepsDefaultProtocols(t *testing.T) {
	o, c, ctx := connect(t)
	// No protocols set: ovs-vswitchd enables every version it knows.
	vsctl(t, o, "add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev", "fail_mode=secure")
	if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
		t.Fatal(err)
	}
	if got := vsctl(t, o, "get", "Bridge", "br-int", "protocols"); got != "[]" {
		t.Errorf("protocols = %s; an empty (all versions) column must stay empty", got)
	}
	for _, v := range []string{"OpenFlow11", "OpenFlow12", "OpenFlow15"} {
		ofctl(t, o, "-O", v, "dump-flows", "br-int")
	}
}

// snapshot describes what adoption must not change: the bridge row, the
// ports' and interfaces' identities and their OpenFlow port numbers.
func snapshot(t *testing.T, o *sandbox.OVS, br string, ifaces ...string) string {
	t.Helper()
	parts := []string{
		vsctl(t, o, "get", "Bridge", br, "_uuid"),
		vsctl(t, o, "get", "Bridge", br, "ports"),
	}
	for _, i := range ifaces {
		parts = append(parts,
			i,
			vsctl(t, o, "get", "Port", i, "_uuid"),
			vsctl(t, o, "get", "Interface", i, "_uuid"),
			vsctl(t, o, "get", "Interface", i, "ofport"),
		)
	}
	return strings.Join(parts, " ")
}

// normFlows strips the counters from a dump so two dumps compare.
func normFlows(dump string) string {
	var out []string
	for _, l := range strings.Split(dump, "\n") {
		if !strings.Contains(l, "actions=") {
			continue
		}
		var keep []string
		for _, f := range strings.Fields(strings.ReplaceAll(l, ", ", " ")) {
			switch {
			case strings.HasPrefix(f, "duration="), strings.HasPrefix(f, "n_packets="),
				strings.HasPrefix(f, "n_bytes="), strings.HasPrefix(f, "idle_age="), strings.HasPrefix(f, "hard_age="):
			default:
				keep = append(keep, f)
			}
		}
		out = append(out, strings.Join(keep, " "))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

func tableNames() map[uint8]string {
	names := map[uint8]string{}
	for _, t := range compiler.Tables {
		names[t.ID] = t.Name
	}
	return names
}

func TestNameTables(t *testing.T) {
	o, c, ctx := connect(t)
	if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
		t.Fatal(err)
	}
	names := tableNames()
	if err := c.NameTables(ctx, "br-int", names); err != nil {
		t.Fatalf("NameTables: %v", err)
	}
	// Names travel in OpenFlow 1.0 table stats and 1.3+ table features.
	tables := ofctl(t, o, "-O", "OpenFlow10", "dump-tables", "br-int")
	features := ofctl(t, o, "-O", "OpenFlow15", "dump-table-features", "br-int")
	for id, name := range names {
		want := fmt.Sprintf("table %d (%q)", id, name)
		if !strings.Contains(tables, want) {
			t.Errorf("dump-tables lacks %s:\n%s", want, tables)
		}
		if !strings.Contains(features, want) {
			t.Errorf("dump-table-features lacks %s", want)
		}
	}
	ofctl(t, o, "-O", "OpenFlow15", "add-flow", "br-int", "table=31,priority=7,reg7=1,actions=drop")
	if d := ofctl(t, o, "-O", "OpenFlow15", "dump-flows", "--names", "br-int"); !strings.Contains(d, `table="egress_rules"`) && !strings.Contains(d, "table=egress_rules") {
		t.Errorf("dump-flows --names does not name table 31:\n%s", d)
	}

	// Idempotent: the same names again write nothing.
	rows := vsctl(t, o, "--columns=_uuid,name", "list", "Flow_Table")
	if err := c.NameTables(ctx, "br-int", names); err != nil {
		t.Fatalf("NameTables again: %v", err)
	}
	if again := vsctl(t, o, "--columns=_uuid,name", "list", "Flow_Table"); again != rows {
		t.Errorf("second NameTables changed Flow_Table:\n%s\nthen\n%s", rows, again)
	}

	// A renamed table keeps its row; other tables are untouched.
	uuid31 := vsctl(t, o, "get", "Bridge", "br-int", "flow_tables:31")
	uuid61 := vsctl(t, o, "get", "Bridge", "br-int", "flow_tables:61")
	if err := c.NameTables(ctx, "br-int", map[uint8]string{31: "egress_rules_v2"}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if got := vsctl(t, o, "get", "Bridge", "br-int", "flow_tables:31"); got != uuid31 {
		t.Errorf("renaming replaced the row: %s -> %s", uuid31, got)
	}
	if got := vsctl(t, o, "get", "Flow_Table", uuid31, "name"); got != `egress_rules_v2` && got != `"egress_rules_v2"` {
		t.Errorf("table 31 name = %s", got)
	}
	if got := vsctl(t, o, "get", "Bridge", "br-int", "flow_tables:61"); got != uuid61 {
		t.Errorf("table 61 touched: %s -> %s", uuid61, got)
	}
	if err := c.NameTables(ctx, "nope", names); err == nil {
		t.Error("NameTables on a missing bridge succeeded")
	}
}

// waitFor waits on w until cond holds, re-checking after every signal.
func waitFor(t *testing.T, w <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for !cond() {
		select {
		case _, ok := <-w:
			if !ok {
				t.Fatalf("watch closed while waiting for %s", what)
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestInterfacesAndWatch(t *testing.T) {
	o, c, ctx := connect(t)
	if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
		t.Fatal(err)
	}
	w := c.Watch()
	m := mac(t, "02:00:00:00:01:01")
	wl, err := o.AddWorkload("br-int", "web", "prod/web", m, netip.MustParsePrefix("10.1.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	find := func() (ovsdb.Interface, bool) {
		for _, i := range c.Interfaces("br-int") {
			if i.Name == wl.HostIface {
				return i, true
			}
		}
		return ovsdb.Interface{}, false
	}
	waitFor(t, w, "the workload port with its ofport", func() bool {
		i, ok := find()
		return ok && i.OFPort == wl.OFPort && i.LinkUp && i.MACInUse != ""
	})
	i, _ := find()
	if i.ExternalIDs["iface-id"] != "prod/web" || i.ExternalIDs["attached-mac"] != m.String() || i.Bridge != "br-int" || i.Type != "" {
		t.Errorf("interface = %+v", i)
	}
	if got := c.Interfaces("br-int"); len(got) != 2 || got[0].Name != "br-int" || got[1].Name != wl.HostIface {
		t.Errorf("Interfaces not sorted by name or incomplete: %+v", got)
	}
	if got := c.Interfaces("br-other"); len(got) != 0 {
		t.Errorf("unknown bridge has interfaces %+v", got)
	}

	// An external id edited later is seen too.
	vsctl(t, o, "set", "Interface", wl.HostIface, "external_ids:iface-id=prod/web-2")
	waitFor(t, w, "the edited iface-id", func() bool {
		i, ok := find()
		return ok && i.ExternalIDs["iface-id"] == "prod/web-2"
	})

	if err := o.RemoveWorkload(wl); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "the port to disappear", func() bool { _, ok := find(); return !ok })

	// Watch is one channel (a select loop may call it every time), and
	// changes made while nobody reads it coalesce into a pending signal
	// instead of blocking the monitor.
	if c.Watch() != w {
		t.Error("Watch returned another channel")
	}
	for i, n := range []string{"db", "cache"} {
		m := mac(t, fmt.Sprintf("02:00:00:00:01:%02x", i+2))
		ip := netip.MustParsePrefix(fmt.Sprintf("10.1.0.%d/24", i+2))
		if _, err := o.AddWorkload("br-int", n, "prod/"+n, m, ip); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, w, "the two new workloads", func() bool { return len(c.Interfaces("br-int")) == 3 })
	c.Close()
	timeout := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-w:
		case <-timeout:
			t.Fatal("Close did not close the watch channel")
		}
	}
}

// TestReconnect restarts ovsdb-server under a connected client: the
// client reconnects by itself, its monitor resumes (changes made after
// the restart reach Interfaces and Watch), and writes work again.
func TestReconnect(t *testing.T) {
	o, c, ctx := connect(t)
	if err := c.EnsureBridge(ctx, "br-int", "netdev"); err != nil {
		t.Fatal(err)
	}
	w := c.Watch()
	if err := o.RestartOVSDB(); err != nil {
		t.Fatal(err)
	}
	wl, err := o.AddWorkload("br-int", "late", "prod/late", mac(t, "02:00:00:00:02:01"), netip.MustParsePrefix("10.2.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "the port added after the restart", func() bool {
		for _, i := range c.Interfaces("br-int") {
			if i.Name == wl.HostIface && i.OFPort == wl.OFPort {
				return true
			}
		}
		return false
	})
	if err := c.NameTables(ctx, "br-int", tableNames()); err != nil {
		t.Fatalf("NameTables after reconnect: %v", err)
	}
}

func TestSetFlowRestoreWait(t *testing.T) {
	o, c, ctx := connect(t)
	if err := c.SetFlowRestoreWait(ctx, true); err != nil {
		t.Fatalf("on: %v", err)
	}
	if got := vsctl(t, o, "get", "Open_vSwitch", ".", "other_config:flow-restore-wait"); strings.Trim(got, `"`) != "true" {
		t.Errorf("flow-restore-wait = %s", got)
	}
	if err := c.SetFlowRestoreWait(ctx, true); err != nil {
		t.Fatalf("on again: %v", err)
	}
	if err := c.SetFlowRestoreWait(ctx, false); err != nil {
		t.Fatalf("off: %v", err)
	}
	if got := vsctl(t, o, "get", "Open_vSwitch", ".", "other_config"); strings.Contains(got, "flow-restore-wait") {
		t.Errorf("other_config still has flow-restore-wait: %s", got)
	}
}
