package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// ovsSnapshot is everything flowgate could change on a bridge: its OVSDB
// configuration (bridges, protocols, fail mode, table names, ports — not
// the counters ovs-vswitchd updates on its own) and its flows.
func ovsSnapshot(t *testing.T, o *sandbox.OVS, bridge string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range [][]string{
		{"Open_vSwitch", "bridges"},
		{"Bridge", "name", "protocols", "fail_mode", "datapath_type", "flow_tables", "ports", "other_config", "external_ids"},
		{"Flow_Table", "name", "flow_limit", "overflow_policy", "groups", "prefixes", "external_ids"},
		{"Port", "name", "interfaces", "external_ids"},
		{"Interface", "name", "type", "external_ids"},
	} {
		args := append([]string{"dump", o.DBAddr(), "Open_vSwitch"}, table...)
		out, err := exec.Command("ovsdb-client", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ovsdb-client %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		b.Write(out)
	}
	flows, err := o.Ofctl("-O", "OpenFlow13", "--no-stats", "--sort", "dump-flows", bridge)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(flows)
	return b.String()
}

// TestReadOnlyCommandsChangeNothing, against a real private Open vSwitch:
// status changes nothing in OVSDB or OpenFlow (no OpenFlow version added
// to a bridge that lacks 1.4, no table names, no bridge created), a
// missing bridge is an error at once, and apply with invalid input changes
// nothing either (nor creates its bridge).
func TestReadOnlyCommandsChangeNothing(t *testing.T) {
	o := sandboxtest.New(t)
	for _, kv := range o.Env() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "OVS_") {
			t.Setenv(k, v)
		}
	}
	const br = "br-ro"
	if err := o.AddBridge(br); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Ofctl("-O", "OpenFlow13", "add-flow", br, "table=0,priority=5,ip,actions=drop"); err != nil {
		t.Fatal(err)
	}
	before := ovsSnapshot(t, o, br)
	db := filepath.Join(examples, "seeds/database-allow-backends")

	if r := run(t, "status", "--ovsdb", o.DBAddr(), "--bridge", br); r.code != 0 || !strings.Contains(r.stdout, "TABLE") {
		t.Errorf("status: exit %d (%v)\n%s", r.code, r.err, r.stdout)
	}
	if r := run(t, "status", "--ovsdb", o.DBAddr(), "--bridge", br, "-f", db); r.code != 0 {
		t.Errorf("status -f: exit %d (%v)", r.code, r.err)
	}
	// Without OpenFlow 1.4/1.5 status cannot read the flows; it says so
	// and adds no version.
	if _, err := o.Vsctl("set", "Bridge", br, "protocols=OpenFlow10,OpenFlow13"); err != nil {
		t.Fatal(err)
	}
	before13 := ovsSnapshot(t, o, br)
	if r := run(t, "status", "--ovsdb", o.DBAddr(), "--bridge", br); r.code != 1 {
		t.Errorf("status on an OpenFlow 1.3 bridge: exit %d (%v), want 1", r.code, r.err)
	}
	if after := ovsSnapshot(t, o, br); after != before13 {
		t.Errorf("status changed an OpenFlow 1.3 bridge:\nbefore:\n%s\nafter:\n%s", before13, after)
	}
	if _, err := o.Vsctl("set", "Bridge", br, "protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15"); err != nil {
		t.Fatal(err)
	}

	r := run(t, "status", "--ovsdb", o.DBAddr(), "--bridge", "br-missing")
	if r.code != 1 || r.err == nil || !strings.Contains(r.err.Error(), "bridge br-missing does not exist") {
		t.Errorf("status on a missing bridge: exit %d, err %v", r.code, r.err)
	}
	// The old code created the bridge it was asked about (and waited for
	// it to come up): a read-only command must leave no bridge behind.
	if _, err := o.Vsctl("br-exists", "br-missing"); err == nil {
		t.Error("status on a missing bridge created it")
	}

	bad := writeFile(t, t.TempDir(), "deny.yaml", denyWithBadCIDR)
	for _, bridge := range []string{br, "br-new"} {
		r := run(t, "apply", "--ovsdb", o.DBAddr(), "--bridge", bridge, "--datapath-type", "netdev", "-f", db, "-f", bad)
		if r.code != 1 || !strings.Contains(r.stderr, "spec.ingress[1].source.nets[0]") {
			t.Errorf("apply with invalid input to %s: exit %d (%v), stderr %q", bridge, r.code, r.err, r.stderr)
		}
	}
	if after := ovsSnapshot(t, o, br); after != before {
		t.Errorf("status or a refused apply changed OVS:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
