package ovsbind

import (
	"fmt"
	"net"
	"testing"

	"github.com/flowgate/flowgate/translator/compiler"
)

// TestHoldFlowsWorkloadPorts: with the file mode's rule every port with an
// iface-id that no endpoint is bound to is held, whatever the iface-id
// looks like; ports without one (uplinks) and bound ports are not.
func TestHoldFlowsWorkloadPorts(t *testing.T) {
	ports := []Port{
		{Name: "a", OFPort: 1, IfaceID: "prod/db", AttachedMAC: "02:00:00:00:00:01"},      // bound: no hold
		{Name: "b", OFPort: 2, IfaceID: "prod/new", AttachedMAC: "02:00:00:00:00:02"},     // unknown pod: held
		{Name: "c", OFPort: 3, IfaceID: "vm-uuid-1234", AttachedMAC: "02:00:00:00:00:03"}, // unknown VM port: held
		{Name: "d", OFPort: 4, IfaceID: ""},                                               // uplink: left alone
		{Name: "e", OFPort: -1, IfaceID: "prod/x"},                                        // not usable yet
		{Name: "f", OFPort: 6, IfaceID: "wep-1"},                                          // held without MAC
	}
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	locals := map[string]compiler.Binding{"prod/db": {OFPort: 1, MAC: mac}}
	var got []string
	for _, f := range compiler.HoldFlows(Held(ports, locals, IsWorkloadPort), compiler.Options{Locals: locals, Generation: 7}) {
		got = append(got, f.String())
		if f.Cookie.Category() != compiler.CategoryHold || f.Cookie.Generation() != 7 {
			t.Errorf("cookie %#x", uint64(f.Cookie))
		}
	}
	ck := func(port uint32) compiler.Cookie { return compiler.NewCookie(7, compiler.CategoryHold, false, port) }
	flow := func(table uint8, match string, port uint32) string {
		return compiler.Flow{Table: table, Priority: 50, Match: match, Actions: "drop", Cookie: ck(port)}.String()
	}
	want := fmt.Sprint([]string{
		flow(compiler.TableClassify.ID, "in_port=2", 2),
		flow(compiler.TableClassify.ID, "in_port=3", 3),
		flow(compiler.TableClassify.ID, "in_port=6", 6),
		flow(compiler.TableDestination.ID, "dl_dst=02:00:00:00:00:02", 2),
		flow(compiler.TableDestination.ID, "dl_dst=02:00:00:00:00:03", 3),
	})
	if fmt.Sprint(got) != want {
		t.Errorf("hold flows\n got %v\nwant %s", got, want)
	}
	if n := len(compiler.HoldFlows(Held(ports, map[string]compiler.Binding{}, func(Port) bool { return false }), compiler.Options{Locals: nil, Generation: 7})); n != 0 {
		t.Errorf("a rule holding nothing gave %d flows", n)
	}
}
