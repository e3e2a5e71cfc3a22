package compiler

import (
	"net"

	"github.com/flowgate/flowgate/translator/policy"
)

// Binding ties a local endpoint to its port on the bridge.
type Binding struct {
	// OFPort is the endpoint's OpenFlow port; it also serves as the
	// endpoint's number in registers.
	OFPort uint32
	// MAC is the endpoint's MAC address: the spoof guard admits only it
	// and the destination table recognises the endpoint by it.
	MAC net.HardwareAddr
	// Zone, when set, overrides the endpoint's conntrack zone, which is
	// otherwise its network's (NetworkZones) or, in no network,
	// Options.DefaultZone. Rules still scope shared addresses by network
	// zone, so set it only for endpoints in no network.
	Zone uint16
}

// Options are what the compiler needs besides the world.
type Options struct {
	// Locals binds local endpoints, by endpoint ID; every other endpoint
	// is remote and matched by address only.
	Locals map[string]Binding
	// FailsafeInbound are always allowed into local host endpoints.
	FailsafeInbound []policy.Failsafe
	// FailsafeOutbound are always allowed out of local host endpoints.
	FailsafeOutbound []policy.Failsafe
	// DefaultZone is the conntrack zone for ports that are no endpoint
	// and endpoints without one of their own.
	DefaultZone uint16
	// Generation goes into every cookie, so that an agent restarting can
	// tell the flows it installs from those of the previous run.
	Generation uint8
	// Established says whether open connections survive a policy change
	// (the default) or are cut when the new policy denies them.
	Established Established
	// LogDenied sends a copy of every packet that policy denies to the
	// controller — at a Deny rule, a tier's default deny and the
	// endpoint's default deny — for the agent's audit log (Antrea's
	// enableLogging). The userdata carries the denied flag (userdata).
	LogDenied bool
	// LogDeniedTiers names the tiers whose default deny is logged as
	// LogDenied logs it (the agent's audit.logDeniedTiers), leaving the
	// other denials unlogged.
	LogDeniedTiers map[string]bool
	// Shared, when set, lays the pipeline out on a bridge shared with
	// another controller (the Neutron OVS agent): every table number, the
	// end of the pipeline (NORMAL or the hand-back) and every cookie's mark
	// are bound as the flows are built, as Antrea binds its table ids when
	// it lays its pipeline out. Nil is a bridge of flowgate's own: table N
	// is table N.
	Shared *Shared
}

// Table is where the pipeline's table t is installed.
func (o Options) Table(t Table) uint8 { return o.table(t) }

// table is where the pipeline's table t is installed.
func (o Options) table(t Table) uint8 {
	if o.Shared == nil {
		return t.ID
	}
	return o.Shared.Table(t.ID)
}

// normal is the action list that ends the pipeline for accepted traffic:
// NORMAL, or on a shared bridge the hand-back to the other controller.
func (o Options) normal() string {
	if o.Shared == nil {
		return "NORMAL"
	}
	return o.Shared.handBack()
}

// cookie packs a cookie (NewCookie) and, on a shared bridge, marks it as
// flowgate's.
func (o Options) cookie(category uint8, ingress bool, id uint32) Cookie {
	ck := NewCookie(o.Generation, category, ingress, id)
	if o.Shared != nil {
		ck = marked(ck)
	}
	return ck
}
