package compiler

import (
	"reflect"
	"sort"

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
	// diff compares two sets of objects: those in both by pointer are the
	// same (no ID is even built for them), the rest by ID and then value.
	// A source that keeps unchanged objects pays only for what changed.
	diff := func(old, new []any, id func(any) string, upsert func(v any) Change, del func(id string) Change) {
		inOld := make(map[any]struct{}, len(old))
		for _, o := range old {
			inOld[o] = struct{}{}
		}
		inNew := make(map[any]struct{}, len(new))
		added := map[string]any{}
		for _, n := range new {
			inNew[n] = struct{}{}
			if _, same := inOld[n]; !same {
				added[id(n)] = n
			}
		}
		gone := map[string]any{}
		for _, o := range old {
			if _, same := inNew[o]; !same {
				gone[id(o)] = o
			}
		}
		for _, k := range sortedIDs(added) {
			if o, ok := gone[k]; !ok || !reflect.DeepEqual(o, added[k]) {
				up = append(up, upsert(added[k]))
			}
		}
		for _, k := range sortedIDs(gone) {
			if _, ok := added[k]; !ok {
				down = append(down, del(k))
			}
		}
	}
	values := func(n int, at func(i int) any) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	tiers := func(w *policy.World) []any {
		var out []any
		for _, t := range w.Tiers {
			out = append(out, t)
		}
		return out
	}
	diff(tiers(a), tiers(b), func(v any) string { return v.(*policy.Tier).Name },
		func(v any) Change { return Change{UpsertTier: v.(*policy.Tier)} },
		func(id string) Change { return Change{DeleteTier: id} })
	namespaces := func(w *policy.World) []any {
		var out []any
		for _, ns := range w.Namespaces {
			out = append(out, ns)
		}
		return out
	}
	diff(namespaces(a), namespaces(b), func(v any) string { return v.(*policy.Namespace).Name },
		func(v any) Change { return Change{UpsertNamespace: v.(*policy.Namespace)} },
		func(id string) Change { return Change{DeleteNamespace: id} })
	accounts := func(w *policy.World) []any {
		var out []any
		for _, sa := range w.ServiceAccounts {
			out = append(out, sa)
		}
		return out
	}
	diff(accounts(a), accounts(b), func(v any) string { sa := v.(*policy.ServiceAccount); return sa.Namespace + "/" + sa.Name },
		func(v any) Change { return Change{UpsertServiceAccount: v.(*policy.ServiceAccount)} },
		func(id string) Change { return Change{DeleteServiceAccount: id} })
	sets := func(w *policy.World) []any {
		return values(len(w.NetworkSets), func(i int) any { return w.NetworkSets[i] })
	}
	diff(sets(a), sets(b), func(v any) string { return v.(*policy.NetworkSet).ID() },
		func(v any) Change { return Change{UpsertNetworkSet: v.(*policy.NetworkSet)} },
		func(id string) Change { return Change{DeleteNetworkSet: id} })
	eps := func(w *policy.World) []any {
		return values(len(w.Endpoints), func(i int) any { return w.Endpoints[i] })
	}
	diff(eps(a), eps(b), func(v any) string { return v.(*policy.Endpoint).ID() },
		func(v any) Change { return Change{UpsertEndpoint: v.(*policy.Endpoint)} },
		func(id string) Change { return Change{DeleteEndpoint: id} })
	pols := func(w *policy.World) []any {
		return values(len(w.Policies), func(i int) any { return w.Policies[i] })
	}
	diff(pols(a), pols(b), func(v any) string { return v.(*policy.Policy).ID() },
		func(v any) Change { return Change{UpsertPolicy: v.(*policy.Policy)} },
		func(id string) Change { return Change{DeletePolicy: id} })

	binds := BindingChanges(la, lb)
	// Deletes run in the reverse of the upsert order: policies before the
	// endpoints they select, tiers last.
	for i, j := 0, len(down)-1; i < j; i, j = i+1, j-1 {
		down[i], down[j] = down[j], down[i]
	}
	return append(append(up, binds...), down...)
}

// BindingChanges lists the binds and unbinds that turn bindings la into
// lb, by endpoint ID.
func BindingChanges(la, lb map[string]Binding) []Change {
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
	return binds
}

func sortedIDs(m map[string]any) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
