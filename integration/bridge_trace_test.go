package integration

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/compiler"
)

// maxLocalPorts is how many endpoint ports the test bridge has: enough
// for the largest seed example (8 endpoints), the scenario grid (9 pods)
// and the random worlds of the differential test.
const maxLocalPorts = 12

// sandboxTraceBridge starts a private OVS with the test bridge.
func sandboxTraceBridge(t *testing.T) *sandbox.OVS {
	t.Helper()
	o := sandboxtest.New(t)
	setupBridge(t, o)
	return o
}

// setupBridge creates br-int with endpoint ports 1..maxLocalPorts and the
// uplink, and names its tables as the compiler does.
func setupBridge(t *testing.T, o *sandbox.OVS) {
	t.Helper()
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	args := []string{}
	for i := 1; i <= maxLocalPorts; i++ {
		name := "p" + strconv.Itoa(i)
		args = append(args, "--", "add-port", "br-int", name, "--", "set", "interface", name, "type=internal", "ofport_request="+strconv.Itoa(i))
	}
	args = append(args, "--", "add-port", "br-int", "uplink", "--", "set", "interface", "uplink", "type=internal", "ofport_request="+strconv.Itoa(uplinkPort))
	if out, err := o.Vsctl(args[1:]...); err != nil {
		t.Fatalf("add ports: %v: %s", err, out)
	}
	if err := nameTables(o, "br-int"); err != nil {
		t.Fatal(err)
	}
}

// nameTables gives every pipeline table its name in OVS (a Flow_Table row
// per table, referenced from the bridge's flow_tables), so that dumps and
// traces say "ingress_rules" rather than 61.
func nameTables(o *sandbox.OVS, bridge string) error {
	var args, refs []string
	for _, tb := range compiler.Tables {
		id := fmt.Sprintf("@t%d", tb.ID)
		args = append(args, "--", "--id="+id, "create", "Flow_Table", "name="+tb.Name)
		refs = append(refs, fmt.Sprintf("flow_tables:%d=%s", tb.ID, id))
	}
	args = append(args, "--", "set", "Bridge", bridge)
	args = append(args, refs...)
	if out, err := o.Vsctl(args[1:]...); err != nil {
		return fmt.Errorf("name tables of %s: %w: %s", bridge, err, out)
	}
	return nil
}

// dumpTable finds the table field of a dumped flow; OVS quotes names that
// are not all letters and digits.
var dumpTable = regexp.MustCompile(`\btable=("[^"]+"|[^,\s]+)`)

// checkNamedDump reads the bridge's flows with `ovs-ofctl dump-flows
// --names` and wants as many flows in each table as the compiled set has,
// every one shown under its table's name (as Flow.Named writes it) and
// none under a bare table number.
func checkNamedDump(t *testing.T, o *sandbox.OVS, bridge string, flows []compiler.Flow) {
	t.Helper()
	out, err := o.Ofctl("-O", OpenFlow, "dump-flows", "--names", bridge)
	if err != nil {
		t.Fatalf("dump-flows: %v", err)
	}
	perTable := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		m := dumpTable.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, err := strconv.Atoi(m[1]); err == nil {
			t.Errorf("dump shows a table by number, not name: %s", line)
		}
		perTable[m[1]]++
	}
	want := map[string]int{}
	for _, f := range flows {
		want[tableField(f)]++
	}
	for name, n := range want {
		if perTable[name] != n {
			t.Errorf("dump-flows --names shows %d flows in table=%s, want %d", perTable[name], name, n)
		}
	}
	if want[`"ingress_rules"`] > 0 && !strings.Contains(out, `table="ingress_rules"`) {
		t.Errorf("dump-flows --names does not show table=\"ingress_rules\":\n%s", out)
	}
}

// tableField is the table field of a flow as Flow.Named writes it.
func tableField(f compiler.Flow) string {
	named := f.Named()
	m := dumpTable.FindStringSubmatch(named)
	if m == nil {
		panic("Flow.Named wrote no table field: " + named)
	}
	return m[1]
}
