package compiler

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/flowgate/flowgate/translator/policy"
)

// Shared places the pipeline on a bridge whose other tables belong to
// another controller — the Neutron OVS agent on br-int — so that both can
// program it at once, as Neutron's own OVS firewall driver does.
//
// The compiler binds the layout as it builds each flow (Options.Shared),
// so that full compiles, incremental deltas and every table a future stage
// adds are laid out the same way:
//
//   - flowgate's table N becomes TableBase+N, in every flow and in every
//     table its actions name (goto_table, resubmit, ct(table=...));
//   - the NORMAL action, which ends flowgate's pipeline, becomes the
//     hand-back to the other controller (HandBack);
//   - every cookie carries SharedCookieMark, so that flowgate reads,
//     counts and deletes only its own flows (cookie=SharedCookieMark/
//     SharedCookieMask) and never the other controller's;
//   - EntryFlows divert the traffic of bound ports from EntryTable into
//     flowgate's classify table: from the port (in_port) and to its MAC
//     (dl_dst), above the other controller's own flows there. Traffic that
//     concerns no bound port never enters flowgate.
//
// Nothing in flowgate's pipeline reads or writes VLAN tags: a packet comes
// back to the other controller carrying the VLAN its table 0 gave it (or
// none, from an access port) and its in_port unchanged, so NORMAL switches
// it within its network exactly as it would have without flowgate.
type Shared struct {
	// TableBase is added to every flowgate table number. Neutron uses
	// tables 0–94 on br-int; the default 100 puts classify at 100,
	// spoof_guard at 110, ..., commit at 170.
	TableBase uint8
	// EntryTable is the other controller's table that hands traffic to a
	// firewall: Neutron's TRANSIENT_TABLE, 60, where its OVS firewall
	// driver's per-port flows sit (and which only switches with NORMAL
	// when firewall_driver = noop).
	EntryTable uint8
	// HandBack is the table accepted traffic is resubmitted to when
	// flowgate is done with it; 0 means the NORMAL action itself (Neutron
	// with firewall_driver = noop installs nothing in its firewall's
	// ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE, 94, so NORMAL is the default).
	HandBack uint8
}

// DefaultShared is the layout for Neutron's br-int (see NeutronTables).
func DefaultShared() Shared { return Shared{TableBase: 100, EntryTable: 60} }

// NeutronTables are the tables the Neutron OVS agent (and its OVS firewall
// driver) programs on br-int: neutron_lib.plugins.ml2.ovs_constants
// INT_BR_ALL_TABLES and ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE. Shared
// refuses to place a flowgate table on one of them.
var NeutronTables = map[uint8]string{
	0: "LOCAL_SWITCHING", 1: "DVR_TO_SRC_MAC", 2: "DVR_TO_SRC_MAC_PHYSICAL",
	3: "ARP_DVR_MAC_TO_DST_MAC", 4: "ARP_DVR_MAC_TO_DST_MAC_PHYSICAL",
	23: "CANARY_TABLE", 24: "ARP_SPOOF_TABLE", 25: "MAC_SPOOF_TABLE",
	30: "LOCAL_EGRESS_TABLE", 31: "LOCAL_IP_TABLE", 59: "PACKET_RATE_LIMIT",
	60: "TRANSIENT_TABLE", 61: "LOCAL_MAC_DIRECT", 62: "TRANSIENT_EGRESS_TABLE",
	71: "BASE_EGRESS_TABLE", 72: "RULES_EGRESS_TABLE", 73: "ACCEPT_OR_INGRESS_TABLE",
	77: "DHCP_IPV4_TABLE", 78: "DHCP_IPV6_TABLE",
	81: "BASE_INGRESS_TABLE", 82: "RULES_INGRESS_TABLE",
	91: "ACCEPTED_EGRESS_TRAFFIC_TABLE", 92: "ACCEPTED_INGRESS_TRAFFIC_TABLE",
	93: "DROPPED_TRAFFIC_TABLE", 94: "ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE",
}

// SharedCookieMark and SharedCookieMask reserve cookie bits 33–47 (unused
// by the cookie layout, see Cookie) for flowgate in shared mode. Neutron's
// cookies are random 64-bit values (one per agent start, plus one per
// extension), so one of them carries the mark by chance with probability
// 2^-15; flowgate would then count that controller's flows as its own.
const (
	SharedCookieMark uint64 = 0xf6f6 << 32
	SharedCookieMask uint64 = 0xfffe << 32
)

// Entry flow priorities in EntryTable: those of Neutron's OVS firewall
// (in_port 100, local MAC 90), above its NORMAL (3) and DVR (20) flows and
// below its OpenFlow DHCP responder (101).
const (
	entryPrioPort = 100
	entryPrioMAC  = 90
)

// Owns reports whether a cookie carries flowgate's shared-mode mark.
func Owns(c Cookie) bool { return uint64(c)&SharedCookieMask == SharedCookieMark }

// marked is c with flowgate's shared-mode mark.
func marked(c Cookie) Cookie { return Cookie(uint64(c)&^SharedCookieMask | SharedCookieMark) }

// Validate checks that the layout fits in OpenFlow's table space, that no
// flowgate table lands on a Neutron table, and that the entry and hand-back
// tables cannot loop.
func (s Shared) Validate() error {
	last := 0
	for _, t := range Tables {
		last = max(last, int(t.ID))
	}
	if int(s.TableBase)+last > 253 {
		return fmt.Errorf("tableBase %d: flowgate's tables would end at %d, past OpenFlow's last table 253", s.TableBase, int(s.TableBase)+last)
	}
	for _, t := range Tables {
		id := s.Table(t.ID)
		if n, ok := NeutronTables[id]; ok {
			return fmt.Errorf("tableBase %d: flowgate's %s would be table %d, Neutron's %s", s.TableBase, t.Name, id, n)
		}
		if id == s.EntryTable || id == s.HandBack {
			return fmt.Errorf("tableBase %d: flowgate's %s would be table %d, the entry or hand-back table", s.TableBase, t.Name, id)
		}
	}
	if s.Table(TableClassify.ID) <= s.EntryTable {
		return fmt.Errorf("tableBase %d: flowgate's tables must come after entryTable %d (goto_table only goes forward)", s.TableBase, s.EntryTable)
	}
	if s.HandBack != 0 && s.HandBack == s.EntryTable {
		return fmt.Errorf("handBack %d: the entry table would send the traffic back into flowgate", s.HandBack)
	}
	return nil
}

// Table is where flowgate's table id is installed.
func (s Shared) Table(id uint8) uint8 { return s.TableBase + id }

// TableNames names the placed tables (for Flow_Table) and nothing else:
// the other controller's tables keep whatever names it gave them.
func (s Shared) TableNames() map[uint8]string {
	out := make(map[uint8]string, len(Tables))
	for _, t := range Tables {
		out[s.Table(t.ID)] = t.Name
	}
	return out
}

// ForeignTables are Neutron's tables flowgate never writes: all but the
// entry table. No placement of flowgate's tables may land on them (see
// Validate), whatever TableBase a previous run used, so a flow carrying
// flowgate's cookie mark there is Neutron's.
func (s Shared) ForeignTables() []uint8 {
	var out []uint8
	for _, t := range slices.Sorted(maps.Keys(NeutronTables)) {
		if t != s.EntryTable {
			out = append(out, t)
		}
	}
	return out
}

// TableName names an installed table: flowgate's own by its name, a
// Neutron table by Neutron's constant, anything else by its number.
func (s Shared) TableName(id uint8) string {
	if id >= s.TableBase {
		if n := TableName(id - s.TableBase); n != strconv.Itoa(int(id-s.TableBase)) {
			return n
		}
	}
	if n, ok := NeutronTables[id]; ok {
		return "neutron:" + n
	}
	return strconv.Itoa(int(id))
}

// Named formats an installed flow as Flow.Named does, with the table
// named by TableName.
func (s Shared) Named(f Flow) string { return f.format(quoteTableName(s.TableName(f.Table))) }

// handBack is the action list that replaces NORMAL.
func (s Shared) handBack() string {
	if s.HandBack == 0 {
		return "NORMAL"
	}
	// Neutron's firewall keeps the port in reg5 and the network in reg6,
	// and its accepted-traffic tables may match them: flowgate's values
	// there (guard bits, a verdict) must not be read as a port or network.
	return setField(0, "NXM_NX_REG5[]") + "," + setField(0, "NXM_NX_REG6[]") + fmt.Sprintf(",resubmit(,%d)", s.HandBack)
}

// EntryFlows divert bound ports' traffic from EntryTable into flowgate's
// classify table: what a port sends (in_port) and what is sent to its MAC
// or to one of its address pairs' MACs (dl_dst, whatever the VLAN:
// flowgate's destination table recognises endpoints by MAC alone; Neutron's
// OVS firewall diverts every allowed MAC of a port too). Two bindings
// sharing a MAC share one flow. w names the bound endpoints' pairs. Held
// ports are diverted too, from the port and to its MAC, or their hold
// flows would never see their traffic: the other controller's NORMAL
// would switch it unfiltered.
func (s Shared) EntryFlows(w *policy.World, locals map[string]Binding, held []HeldPort, generation uint8) []Flow {
	if len(held) > 0 {
		locals = maps.Clone(locals)
		for _, p := range held {
			// Not an endpoint ID (those have no NUL), so w names no pairs.
			locals["\x00held/"+p.Name] = Binding{OFPort: p.OFPort, MAC: p.MAC}
		}
	}
	into := fmt.Sprintf("goto_table:%d", s.Table(TableClassify.ID))
	seen := map[FlowKey]bool{}
	var out []Flow
	add := func(f Flow) {
		f.Cookie = marked(f.Cookie)
		if !seen[f.Key()] {
			seen[f.Key()] = true
			out = append(out, f)
		}
	}
	pairs := map[string][]policy.AddressPair{}
	if w != nil {
		for _, e := range w.Endpoints {
			if _, ok := locals[e.ID()]; ok && len(e.AddressPairs) > 0 {
				pairs[e.ID()] = e.AddressPairs
			}
		}
	}
	ids := slices.Collect(maps.Keys(locals))
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(locals[a].OFPort, locals[b].OFPort), cmp.Compare(a, b))
	})
	for _, id := range ids {
		b := locals[id]
		if b.OFPort == 0 {
			continue
		}
		add(Flow{Table: s.EntryTable, Priority: entryPrioPort, Match: fmt.Sprintf("in_port=%d", b.OFPort),
			Actions: into, Cookie: NewCookie(generation, CategoryEntry, false, b.OFPort)})
		if len(b.MAC) != 6 {
			continue
		}
		for _, mac := range append([]net.HardwareAddr{b.MAC}, pairMACs(pairs[id])...) {
			add(Flow{Table: s.EntryTable, Priority: entryPrioMAC, Match: "dl_dst=" + mac.String(),
				Actions: into, Cookie: NewCookie(generation, CategoryEntry, true, b.OFPort)})
		}
	}
	SortFlows(out)
	return out
}

// pairMACs are the MACs address pairs name.
func pairMACs(ps []policy.AddressPair) []net.HardwareAddr {
	var out []net.HardwareAddr
	for _, p := range ps {
		if len(p.MAC) == 6 {
			out = append(out, p.MAC)
		}
	}
	return out
}
