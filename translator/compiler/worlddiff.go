package compiler

import (
	"reflect"
	"sort"

	"github.com/flowgate/flowgate/endpoints"
	"github.com/flowgate/flowgate/translator/policy"
)

// Changes lists the updates that turn world a (with local bindings la) into
// world b (with lb), in an order Update accepts: tiers, namespaces, service
// accounts, network sets, endpoints and policies are upserted first, then
// bindings change, then what is gone is deleted. Objects are compared by
// value, so a source that rebuilds its world from scratch on every change
// still yields only the real differences; the same pointer in both worlds
// is the same object (objects handed to the compiler never change), so a
// source that keeps the objects it did not reread (the file source keeps
// every unchanged file's) pays the value comparison only for what it
// decoded again.
func Changes(a, b *policy.World, la, lb map[string]Binding) []Change {
	var up, down []Change
	diff := func(old, new map[string]any, upsert func(v any) Change, del func(id string) Change) {
		for _, id := range sortedIDs(new) {
			if o, ok := old[id]; !ok || o != new[id] && !reflect.DeepEqual(o, new[id]) {
				up = append(up, upsert(new[id]))
			}
		}
		for _, id := range sortedIDs(old) {
			if _, ok := new[id]; !ok {
				down = append(down, del(id))
			}
		}
	}
	tiers := func(w *policy.World) map[string]any {
		m := map[string]any{}
		for name, t := range w.Tiers {
			m[name] = t
		}
		return m
	}
	diff(tiers(a), tiers(b), func(v any) Change { return Change{UpsertTier: v.(*policy.Tier)} },
		func(id string) Change { return Change{DeleteTier: id} })
	namespaces := func(w *policy.World) map[string]any {
		m := map[string]any{}
		for name, ns := range w.Namespaces {
			m[name] = ns
		}
		return m
	}
	diff(namespaces(a), namespaces(b), func(v any) Change { return Change{UpsertNamespace: v.(*policy.Namespace)} },
		func(id string) Change { return Change{DeleteNamespace: id} })
	accounts := func(w *policy.World) map[string]any {
		m := map[string]any{}
		for key, sa := range w.ServiceAccounts {
			m[key] = sa
		}
		return m
	}
	diff(accounts(a), accounts(b), func(v any) Change { return Change{UpsertServiceAccount: v.(*policy.ServiceAccount)} },
		func(id string) Change { return Change{DeleteServiceAccount: id} })
	sets := func(w *policy.World) map[string]any {
		m := map[string]any{}
		for _, s := range w.NetworkSets {
			m[s.ID()] = s
		}
		return m
	}
	diff(sets(a), sets(b), func(v any) Change { return Change{UpsertNetworkSet: v.(*policy.NetworkSet)} },
		func(id string) Change { return Change{DeleteNetworkSet: id} })
	eps := func(w *policy.World) map[string]any {
		m := map[string]any{}
		for _, e := range w.Endpoints {
			m[e.ID()] = e
		}
		return m
	}
	diff(eps(a), eps(b), func(v any) Change { return Change{UpsertEndpoint: v.(*endpoints.Endpoint)} },
		func(id string) Change { return Change{DeleteEndpoint: id} })
	pols := func(w *policy.World) map[string]any {
		m := map[string]any{}
		for _, p := range w.Policies {
			m[p.ID()] = p
		}
		return m
	}
	diff(pols(a), pols(b), func(v any) Change { return Change{UpsertPolicy: v.(*policy.Policy)} },
		func(id string) Change { return Change{DeletePolicy: id} })

	var binds []Change
	for _, id := range sortedKeys(lb) {
		if old, ok := la[id]; !ok || !reflect.DeepEqual(old, lb[id]) {
			binds = append(binds, Change{Bind: &LocalBinding{EndpointID: id, Binding: lb[id]}})
		}
	}
	for _, id := range sortedKeys(la) {
		if _, ok := lb[id]; !ok {
			binds = append(binds, Change{Unbind: id})
		}
	}
	// Deletes run in the reverse of the upsert order: policies before the
	// endpoints they select, tiers last.
	for i, j := 0, len(down)-1; i < j; i, j = i+1, j-1 {
		down[i], down[j] = down[j], down[i]
	}
	return append(append(up, binds...), down...)
}

func sortedIDs(m map[string]any) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
