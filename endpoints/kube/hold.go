package kube

import (
	"fmt"
	"net"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/flowgate/flowgate/endpoints/ovsbind"
	"github.com/flowgate/flowgate/translator/compiler"
)

// CategoryHold is the cookie category of hold flows (the compiler's own
// categories are 1–5).
const CategoryHold = 0x10

// holdPriority sits between the classify and destination tables' misses
// (priority 0: "no endpoint, no policy") and an endpoint's own flows
// (priority 100), so a port's hold yields to its endpoint flows the moment
// they exist, in the same bundle that removes the hold.
const holdPriority = 50

// HoldFlows returns the flows that hold the traffic of pod ports the agent
// has not realized: ports whose external_ids:iface-id names a pod
// ("namespace/name", as flowgate-cni and the OVS integration convention set
// it) but that are bound to no local endpoint — the pod is unknown yet, or
// on another node, or has no MAC. Without them such a port is, to the
// pipeline, no endpoint at all: its traffic would skip the spoof guard and
// egress policy (classify's miss) and reach it without ingress policy
// (destination's miss). With them, everything from the port is dropped in
// classify and everything addressed to its attached-mac in destination,
// until the pod's own flows replace the hold.
//
// A pod that is known and bound but has no IP yet needs no hold: its spoof
// guard admits only its own addresses, which is none.
func HoldFlows(ports []ovsbind.Port, locals map[string]compiler.Binding, generation uint8) []compiler.Flow {
	boundPort := map[uint32]bool{}
	boundMAC := map[string]bool{}
	for _, b := range locals {
		boundPort[b.OFPort] = true
		boundMAC[b.MAC.String()] = true
	}
	var out []compiler.Flow
	seen := map[compiler.FlowKey]bool{}
	add := func(f compiler.Flow) {
		if !seen[f.Key()] {
			seen[f.Key()] = true
			out = append(out, f)
		}
	}
	for _, p := range ports {
		if p.OFPort <= 0 || !IsPodIfaceID(p.IfaceID) || boundPort[uint32(p.OFPort)] {
			continue
		}
		ck := compiler.NewCookie(generation, CategoryHold, false, uint32(p.OFPort))
		add(compiler.Flow{Table: compiler.TableClassify.ID, Priority: holdPriority,
			Match: fmt.Sprintf("in_port=%d", p.OFPort), Actions: "drop", Cookie: ck})
		if mac, err := net.ParseMAC(p.AttachedMAC); err == nil && len(mac) == 6 && !boundMAC[mac.String()] {
			add(compiler.Flow{Table: compiler.TableDestination.ID, Priority: holdPriority,
				Match: "dl_dst=" + mac.String(), Actions: "drop", Cookie: ck})
		}
	}
	compiler.SortFlows(out)
	return out
}

// IsPodIfaceID reports whether an iface-id names a pod: "namespace/name"
// with a valid namespace and pod name.
func IsPodIfaceID(id string) bool {
	ns, name, ok := strings.Cut(id, "/")
	return ok && len(validation.IsDNS1123Label(ns)) == 0 && len(validation.IsDNS1123Subdomain(name)) == 0
}
