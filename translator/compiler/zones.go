package compiler

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// Networks and conntrack zones.
//
// Each network with a local endpoint (policy.LabelNetwork) gets a conntrack
// zone of its own, so that two networks reusing an address never share a
// conntrack entry, and a rule peer's addresses that come from endpoints of
// a network match only packets of that network (reg8 = its zone). A zone is
// FNV-1a of the network ID folded into 1–65535 (the default zone skipped),
// probing upwards on a collision with the networks before it in ID order:
// it depends on the network's ID alone unless two hash alike, so it stays
// the same across agent restarts and as other networks come and go, and
// established connections keep their conntrack entries.

// NetworkZones assigns a conntrack zone to each network, never
// defaultZone or 0. It is how the compiler numbers the networks of its
// local endpoints; tools use it to say which zone a network's
// connections are in (`ovs-appctl dpctl/dump-conntrack zone=N`).
func NetworkZones(networks []string, defaultZone uint16) map[string]uint16 {
	sorted := append([]string(nil), networks...)
	sort.Strings(sorted)
	out := make(map[string]uint16, len(sorted))
	taken := map[uint16]bool{0: true, defaultZone: true}
	for _, n := range sorted {
		if _, dup := out[n]; dup {
			continue
		}
		h := fnv.New32a()
		h.Write([]byte(n))
		z := uint16(h.Sum32()%65535) + 1
		for taken[z] {
			z++
			if z == 0 {
				z = 1
			}
		}
		taken[z] = true
		out[n] = z
	}
	return out
}

// localZones numbers the networks of the local endpoints.
func (c *Compiler) localZones() map[string]uint16 {
	var nets []string
	for _, id := range c.locals() {
		if e := c.endpoint(id); e != nil {
			if n := policy.EndpointNetwork(e); n != "" {
				nets = append(nets, n)
			}
		}
	}
	return NetworkZones(nets, c.opts.DefaultZone)
}

// endpointZone is the conntrack zone of a local endpoint: its binding's
// when set, else its network's, else the default.
func (c *Compiler) endpointZone(e *policy.Endpoint, b Binding) uint16 {
	if b.Zone != 0 {
		return b.Zone
	}
	if z, ok := c.zones[policy.EndpointNetwork(e)]; ok {
		return z
	}
	return c.opts.DefaultZone
}

// Priorities of the conntrack table's per-destination flows: above an
// unfiltered port's switching (prioUnfiltered) so that packets to a filtered
// endpoint are tracked, below an untracked source's skipping of conntrack.
const (
	prioZoneUnfiltered = 65
	prioZoneKept       = 60
	prioZoneCross      = 50
)

// arrivalFlows decide how packets to one of an endpoint's MACs are tracked.
// Packets from ports that are no endpoint (uplink, tunnel, patch) are
// tracked in the endpoint's zone, where its replies are. When networks have
// zones, a packet to the endpoint keeps the zone it was classified in only
// when that is the endpoint's own (from its network, or from a port that is
// no endpoint); one crossing from another network's endpoint, which only a
// bridge without L2 isolation carries, is tracked in the default zone, as
// its replies will be. An untracked endpoint's packets skip conntrack.
func (c *Compiler) arrivalFlows(f func(Table, uint16, string, string) Flow, zone uint16, mac string, untracked bool) []Flow {
	var out []Flow
	if zone != c.opts.DefaultZone {
		out = append(out, f(TableClassify, prioDefault, "dl_dst="+mac, setField(uint32(zone), regZone)+fmt.Sprintf(",goto_table:%d", c.opts.table(TableConntrack))))
	}
	ct := fmt.Sprintf("ct(table=%d,zone=%s)", c.opts.table(TableConntrackState), regZone)
	for _, proto := range []string{"ip", "ipv6"} {
		switch {
		case untracked:
			out = append(out, f(TableConntrack, prioEndpoint, "dl_dst="+mac+","+proto, fmt.Sprintf("goto_table:%d", c.opts.table(TableEgressDispatch))))
		case len(c.zones) == 0:
			out = append(out, f(TableConntrack, prioZoneCross, proto+",dl_dst="+mac, ct))
		default:
			if zone != c.opts.DefaultZone {
				out = append(out, f(TableConntrack, prioZoneKept, fmt.Sprintf("%s,dl_dst=%s,reg8=%#x", proto, mac, zone), ct))
			}
			out = append(out, f(TableConntrack, prioZoneCross, proto+",dl_dst="+mac, setField(uint32(c.opts.DefaultZone), regZone)+","+ct))
		}
	}
	return out
}

// scope says in which packets a rule side's addresses are matched: all
// (unqualified), or only those of one zone (reg8). filter restricts the
// side's selectors to the entities whose addresses belong there.
type scope struct {
	qualified bool
	zone      uint16
	filter    selector.Selector
}

// noScope leaves a side as it is: nets alone need no network.
var noScope = scope{}

// restrict confines sel to the scope's entities.
func (sc scope) restrict(sel selector.Selector) selector.Selector {
	if sc.filter.IsAll() {
		return sel
	}
	return selector.And(sel, sc.filter)
}

// qualify limits a fragment to the scope's packets.
func (sc scope) qualify(f fragment) fragment {
	if !sc.qualified {
		return f
	}
	f.text = fmt.Sprintf("reg8=%#x,%s", sc.zone, f.text)
	return f
}

func (sc scope) qualifyAll(fs fragmentSet) fragmentSet {
	if !sc.qualified {
		return fs
	}
	out := make(fragmentSet, len(fs))
	for i, f := range fs {
		out[i] = sc.qualify(f)
	}
	return out
}

// unscoped selects the entities whose addresses match in every network:
// those in no network, and those whose addresses no other network uses.
var unscoped = selector.Not(selector.Has(policy.LabelScopedNetwork))

// pureScopes split a selector whose members a rule side matches as they
// are: the unscoped members match everywhere, those scoped to a local
// network only in its zone (members scoped to a network with no local
// endpoint can never be in a packet this host filters).
func (c *Compiler) pureScopes() []scope {
	if !c.scoping {
		return []scope{noScope}
	}
	out := []scope{{filter: unscoped}}
	for _, n := range sortedKeys(c.zones) {
		out = append(out, scope{qualified: true, zone: c.zones[n], filter: selector.Equal(policy.LabelScopedNetwork, n)})
	}
	return out
}

// staticScopes split a side that combines selectors with nets or
// negations: the packets of each zone see the members in no network
// together with those scoped to their own network, so that a negation of
// one network's member never excludes another network's packets. Without
// local networks every packet is in the default zone and the side stays
// unqualified.
func (c *Compiler) staticScopes() []scope {
	if !c.scoping {
		return []scope{noScope}
	}
	if len(c.zones) == 0 {
		return []scope{{filter: unscoped}}
	}
	out := []scope{{qualified: true, zone: c.opts.DefaultZone, filter: unscoped}}
	for _, n := range sortedKeys(c.zones) {
		f := selector.MustParse(fmt.Sprintf("!has(%s) || %s == '%s'", policy.LabelScopedNetwork, policy.LabelScopedNetwork, n))
		out = append(out, scope{qualified: true, zone: c.zones[n], filter: f})
	}
	return out
}

// entityScope is the scope of one entity's own addresses (named-port
// tuples): its network's zone when they are scoped to it, unqualified
// otherwise; ok is false for a network with no local endpoint.
func (c *Compiler) entityScope(e *entity) (scope, bool) {
	n, scoped := e.labels[policy.LabelScopedNetwork]
	if !scoped {
		return noScope, true
	}
	z, ok := c.zones[n]
	return scope{qualified: true, zone: z}, ok
}

// unfilteredArrivalFlows keep the zones of connections to an unfiltered
// endpoint as arrivalFlows does for a filtered one: its replies must meet
// the entry the request made, in the default zone when the request crossed
// from another network's endpoint. What comes from no endpoint (unfiltered
// ports, whatever their network, and the uplink) is switched untracked, as
// it meets no policy on either side.
func (c *Compiler) unfilteredArrivalFlows(f func(Table, uint16, string, string) Flow, zone uint16, mac string) []Flow {
	var out []Flow
	if zone != c.opts.DefaultZone {
		out = append(out, f(TableClassify, prioDefault, "dl_dst="+mac, setField(uint32(zone), regZone)+fmt.Sprintf(",goto_table:%d", c.opts.table(TableConntrack))))
	}
	ct := fmt.Sprintf("ct(table=%d,zone=%s)", c.opts.table(TableConntrackState), regZone)
	for _, proto := range []string{"ip", "ipv6"} {
		out = append(out, f(TableConntrack, prioZoneUnfiltered, fmt.Sprintf("%s,reg0=0,dl_dst=%s", proto, mac), c.opts.normal()))
		if zone != c.opts.DefaultZone {
			out = append(out, f(TableConntrack, prioZoneKept, fmt.Sprintf("%s,dl_dst=%s,reg8=%#x", proto, mac, zone), ct))
		}
		out = append(out, f(TableConntrack, prioZoneCross, proto+",dl_dst="+mac, setField(uint32(c.opts.DefaultZone), regZone)+","+ct))
	}
	return out
}
