package evaluator

import (
	"maps"
	"net/netip"
	"reflect"
	"sort"

	"github.com/flowgate/flowgate/translator/policy"
)

// ChangedConnection is one connection whose verdict differs between two
// worlds, with both verdicts and what decided them.
type ChangedConnection struct {
	// From and To name the participants; FromNamespace and ToNamespace
	// are their namespaces ("" for host endpoints and outside addresses).
	From, To                   string
	FromNamespace, ToNamespace string
	// Protocol is the protocol's lower-case name; Port the destination
	// port (0 for ICMP).
	Protocol string
	Port     uint16
	// Before and After are the row and verdict in each world.
	Before, After Cell
}

// Opened reports whether the connection is allowed after and was not
// before.
func (c ChangedConnection) Opened() bool { return c.After.Allowed }

// WorldDiff is what changes between two worlds' matrices.
type WorldDiff struct {
	// Changed lists the connections whose verdict differs, grouped by
	// source namespace, destination namespace, source, destination,
	// protocol and port.
	Changed []ChangedConnection
	// Added and Removed are the participants only in the after or the
	// before world; their connections are not compared.
	Added, Removed []string
	// Participants are the participants of both worlds (as in the after
	// world), for views that draw the whole matrix.
	Participants []Participant
	// Probes counts the connections evaluated in each world.
	Probes int
}

// Diff compares the matrices of two worlds for services, between every
// endpoint present in both and the outside addresses. Only connections
// from or to a participant that a changed object can affect are evaluated:
// a changed policy affects the endpoints it selects in either world (only
// their decisions read it), and only in the directions it has (an
// ingress-only policy changes its endpoints' columns, never their rows), a
// changed tier those its policies select, a
// changed endpoint itself and the endpoints sharing one of its addresses,
// a changed namespace or service account the endpoints in it, a changed
// network set the participants with an address in it. Everything else is
// the same in both worlds, so a one-policy change in a world of thousands
// of endpoints costs a few rows and columns instead of the whole matrix.
func Diff(before, after *policy.World, opts Options, services []Service, outside []netip.Addr) WorldDiff {
	evB, evA := New(before, opts), New(after, opts)
	psB, psA := evB.Participants(outside), evA.Participants(outside)
	var d WorldDiff
	inB := make(map[string]Participant, len(psB))
	for _, p := range psB {
		inB[p.Name] = p
	}
	inA := make(map[string]bool, len(psA))
	var pairsB, pairsA []Participant
	for _, p := range psA {
		inA[p.Name] = true
		if b, ok := inB[p.Name]; ok {
			pairsB, pairsA = append(pairsB, b), append(pairsA, p)
		} else {
			d.Added = append(d.Added, p.Name)
		}
	}
	for _, p := range psB {
		if !inA[p.Name] {
			d.Removed = append(d.Removed, p.Name)
		}
	}
	d.Participants = pairsA
	touched := affected(evB, evA, before, after)
	// hot says in which directions each participant's decisions may
	// differ: a row is re-evaluated when its source's egress may, a
	// column when its destination's ingress may.
	hot := make([]policy.Direction, len(pairsA))
	for i, p := range pairsA {
		hot[i] = touched[p.Name]
		if p.Endpoint != nil && p.Name == p.Endpoint.ID() {
			continue
		}
		// An outside address stands for whichever endpoint owns it.
		b := pairsB[i]
		if touched[outsideMarker] != 0 || (p.Endpoint == nil) != (b.Endpoint == nil) ||
			p.Endpoint != nil && p.Endpoint.ID() != b.Endpoint.ID() {
			hot[i] = both
		} else if p.Endpoint != nil {
			hot[i] = touched[p.Endpoint.ID()] | touched[b.Endpoint.ID()]
		}
	}
	for i := range pairsA {
		for j := range pairsA {
			if i == j || (hot[i]&policy.Egress == 0 && hot[j]&policy.Ingress == 0) || (pairsA[i].Endpoint == nil && pairsA[j].Endpoint == nil) {
				continue
			}
			for _, svc := range services {
				d.Probes++
				b := evB.probe(pairsB[i], pairsB[j], svc)
				a := evA.probe(pairsA[i], pairsA[j], svc)
				if a.Allowed == b.Allowed {
					continue
				}
				d.Changed = append(d.Changed, ChangedConnection{
					From: a.From, To: a.To, FromNamespace: pairsA[i].Namespace(), ToNamespace: pairsA[j].Namespace(),
					Protocol: a.Protocol, Port: a.Port, Before: b, After: a,
				})
			}
		}
	}
	sort.SliceStable(d.Changed, func(i, j int) bool {
		x, y := d.Changed[i], d.Changed[j]
		switch {
		case x.FromNamespace != y.FromNamespace:
			return x.FromNamespace < y.FromNamespace
		case x.ToNamespace != y.ToNamespace:
			return x.ToNamespace < y.ToNamespace
		case x.From != y.From:
			return x.From < y.From
		case x.To != y.To:
			return x.To < y.To
		case x.Protocol != y.Protocol:
			return x.Protocol < y.Protocol
		}
		return x.Port < y.Port
	})
	return d
}

// both is every direction.
const both = policy.Ingress | policy.Egress

// affected names the endpoints (by ID) whose decisions a difference between
// the worlds can change, with the directions they can change in (a changed
// policy only affects the directions it has, in either version; anything
// else both); outsideMarker stands for every outside address.
func affected(evB, evA *Evaluator, before, after *policy.World) map[string]policy.Direction {
	touched := map[string]policy.Direction{}
	// Policies, by kind and ID.
	type pkey struct {
		kind policy.Kind
		id   string
	}
	polsB := map[pkey]*policy.Policy{}
	for _, p := range before.Policies {
		polsB[pkey{p.Kind, p.ID()}] = p
	}
	polsA := map[pkey]*policy.Policy{}
	for _, p := range after.Policies {
		polsA[pkey{p.Kind, p.ID()}] = p
	}
	var changedB, changedA []*policy.Policy
	for k, p := range polsB {
		if q, ok := polsA[k]; !ok || p != q && !reflect.DeepEqual(p, q) {
			changedB = append(changedB, p)
		}
	}
	for k, q := range polsA {
		if p, ok := polsB[k]; !ok || p != q && !reflect.DeepEqual(p, q) {
			changedA = append(changedA, q)
		}
	}
	// Tiers: a changed tier affects what its policies select.
	for name, t := range before.Tiers {
		if u := after.Tier(name); u == nil || !reflect.DeepEqual(t, u) {
			changedB = append(changedB, evB.policies[name]...)
			changedA = append(changedA, evA.policies[name]...)
		}
	}
	for name, u := range after.Tiers {
		if t := before.Tier(name); t == nil || !reflect.DeepEqual(t, u) {
			changedB = append(changedB, evB.policies[name]...)
			changedA = append(changedA, evA.policies[name]...)
		}
	}
	markSelected(evB, changedB, touched)
	markSelected(evA, changedA, touched)
	// Endpoints, by ID.
	epsB := map[string]int{}
	for i, e := range before.Endpoints {
		epsB[e.ID()] = i
	}
	epsA := map[string]int{}
	for i, e := range after.Endpoints {
		epsA[e.ID()] = i
	}
	changedEndpoint := func(id string, ipsB, ipsA []netip.Addr) {
		touched[id] = both
		for _, a := range append(ipsB, ipsA...) {
			for _, e := range evB.byAddr[a] {
				touched[e.ID()] = both
			}
			for _, e := range evA.byAddr[a] {
				touched[e.ID()] = both
			}
		}
	}
	for id, i := range epsB {
		e := before.Endpoints[i]
		if j, ok := epsA[id]; !ok {
			changedEndpoint(id, e.IPs, nil)
		} else if f := after.Endpoints[j]; e != f && !reflect.DeepEqual(e, f) || !maps.Equal(evB.labels[e], evA.labels[f]) {
			changedEndpoint(id, e.IPs, f.IPs)
		}
	}
	for id, j := range epsA {
		if _, ok := epsB[id]; !ok {
			changedEndpoint(id, nil, after.Endpoints[j].IPs)
		}
	}
	// Network sets: the participants with an address in the set, in
	// either version.
	setsB := map[string]*policy.NetworkSet{}
	for _, s := range before.NetworkSets {
		setsB[s.ID()] = s
	}
	setsA := map[string]*policy.NetworkSet{}
	for _, s := range after.NetworkSets {
		setsA[s.ID()] = s
	}
	var nets []netip.Prefix
	for id, s := range setsB {
		if t, ok := setsA[id]; !ok || s != t && !reflect.DeepEqual(s, t) || !maps.Equal(before.NetworkSetLabels(s), after.NetworkSetLabels(t)) {
			nets = append(nets, s.Nets...)
			if ok {
				nets = append(nets, t.Nets...)
			}
		}
	}
	for id, t := range setsA {
		if _, ok := setsB[id]; !ok {
			nets = append(nets, t.Nets...)
		}
	}
	if len(nets) > 0 {
		for _, ev := range []*Evaluator{evB, evA} {
			for e := range ev.labels {
				for _, a := range e.IPs {
					if inAny(nets, a) {
						touched[e.ID()] = both
					}
				}
			}
		}
		// Outside addresses are not endpoints; the caller cannot tell
		// which of them a set covers without the list, so a set change
		// re-evaluates everything that involves an outside address too.
		touched[outsideMarker] = both
	}
	// Namespaces and service accounts reach endpoints through their
	// labels, which the endpoint comparison above already saw
	// (EndpointLabels folds them in); a namespace appearing or going also
	// changes its endpoints' default (World.DefaultAllow).
	for name := range before.Namespaces {
		if _, ok := after.Namespaces[name]; !ok {
			markNamespace(evB, evA, name, touched)
		}
	}
	for name := range after.Namespaces {
		if _, ok := before.Namespaces[name]; !ok {
			markNamespace(evB, evA, name, touched)
		}
	}
	return touched
}

// outsideMarker marks, in the affected set, that every outside address is
// affected.
const outsideMarker = "\x00outside"

func markSelected(ev *Evaluator, pols []*policy.Policy, touched map[string]policy.Direction) {
	if len(pols) == 0 {
		return
	}
	for e, labels := range ev.labels {
		for _, p := range pols {
			if p.AppliesTo.Matches(labels) {
				touched[e.ID()] |= p.Types
			}
		}
	}
}

func markNamespace(evB, evA *Evaluator, ns string, touched map[string]policy.Direction) {
	for _, ev := range []*Evaluator{evB, evA} {
		for e := range ev.labels {
			if e.Namespace == ns {
				touched[e.ID()] = both
			}
		}
	}
}
