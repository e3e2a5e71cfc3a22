package compiler

import (
	"reflect"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// ObjectTracker turns the decoded objects of one realization and those of
// the next into the Changes between them without building or diffing a
// world: an agent's change is one file's objects, and building 100,000
// objects into a world (15–34 ms) and diffing it (5–20 ms) cost a hundred
// times the compile of one pod. Sources keep the objects they did not
// decode again (the same values, see decode.Decoder), so the changed ones
// are found by comparing the two lists from both ends by value pointer —
// a pass over pointers, no hashing — and only the objects in between are
// looked at.
//
// It only takes changes whose effect on a world decode.Build would make is
// plain: endpoints (not host endpoints, whose addresses the agent
// resolves), policies in a tier that exists, namespaces, service accounts
// and network sets, none of them defined twice. Anything else (a tier, a
// staged policy, a duplicate, a bulk change) is refused, and the caller
// builds and diffs the whole world as before.
type ObjectTracker struct {
	objs []decode.Object
	refs map[objectKey]struct{}
	// tiers answers whether a policy's tier exists: tiers never change
	// through the tracker.
	tiers *policy.World
}

type objectKey struct{ kind, namespace, name string }

func keyOf(o *decode.Object) objectKey { return objectKey{o.Kind, o.Namespace, o.Name} }

// maxTrackedObjects is the most changed objects (old and new) the tracker
// takes; beyond it a rebuild costs little more than the change itself.
const maxTrackedObjects = 1024

// NewObjectTracker starts from objs, which decode.Build assembled into w
// without a problem (with one, the tracker cannot know which of two
// objects Build kept: do not track).
func NewObjectTracker(objs []decode.Object, w *policy.World) *ObjectTracker {
	t := &ObjectTracker{objs: objs, refs: make(map[objectKey]struct{}, len(objs)), tiers: &policy.World{Tiers: map[string]*policy.Tier{}}}
	for i := range objs {
		t.refs[keyOf(&objs[i])] = struct{}{}
	}
	for name, tier := range w.Tiers {
		t.tiers.Tiers[name] = tier
	}
	return t
}

// Objects are the objects the tracker is at.
func (t *ObjectTracker) Objects() []decode.Object { return t.objs }

// Changes returns the changes that turn the tracked objects into objs —
// upserts, then deletes, each in the order Changes gives them (bindings
// go between the two) — and moves the tracker to objs. ok is false when
// the change is not one the tracker takes; the tracker is then unchanged.
func (t *ObjectTracker) Changes(objs []decode.Object) (up, down []Change, ok bool) {
	old := t.objs
	// same: the objects at i (old) and j (new) have the same value — the
	// same fields (an unchanged document, no need to read them), or a
	// document moved to another line (its fields copied, the value kept).
	// Comparing the handles first reads two 8-byte slices in order; the
	// fields are read only where the handles differ.
	same := func(i, j int) bool { return old[i].ObjectInfo == objs[j].ObjectInfo || old[i].Value == objs[j].Value }
	p := 0
	for p < len(old) && p < len(objs) && same(p, p) {
		p++
	}
	s := 0
	for s < len(old)-p && s < len(objs)-p && same(len(old)-1-s, len(objs)-1-s) {
		s++
	}
	oldMid, newMid := old[p:len(old)-s], objs[p:len(objs)-s]
	if len(oldMid)+len(newMid) > maxTrackedObjects {
		return nil, nil, false
	}
	// Objects that only moved within the changed stretch are the same.
	inOld := make(map[any]struct{}, len(oldMid))
	for _, o := range oldMid {
		inOld[o.Value] = struct{}{}
	}
	inNew := make(map[any]struct{}, len(newMid))
	for _, o := range newMid {
		if _, twice := inNew[o.Value]; twice {
			// One object twice (a document repeated): Build reports it.
			return nil, nil, false
		}
		inNew[o.Value] = struct{}{}
	}
	var removed, added []*decode.Object
	for i := range oldMid {
		if _, same := inNew[oldMid[i].Value]; !same {
			removed = append(removed, &oldMid[i])
		}
	}
	for i := range newMid {
		if _, same := inOld[newMid[i].Value]; !same {
			added = append(added, &newMid[i])
		}
	}
	gone := map[objectKey]struct{}{}
	for _, o := range removed {
		if !trackable(o.Value) {
			return nil, nil, false
		}
		gone[keyOf(o)] = struct{}{}
	}
	seen := map[objectKey]struct{}{}
	for _, o := range added {
		k := keyOf(o)
		_, exists := t.refs[k]
		_, leaving := gone[k]
		_, twice := seen[k]
		if !trackable(o.Value) || twice || (exists && !leaving) {
			return nil, nil, false
		}
		seen[k] = struct{}{}
		if pol, isPolicy := o.Value.(*policy.Policy); isPolicy && t.tiers.Tier(pol.Tier) == nil {
			return nil, nil, false
		}
	}
	up, down = objectChanges(removed, added)
	for k := range gone {
		delete(t.refs, k)
	}
	for k := range seen {
		t.refs[k] = struct{}{}
	}
	t.objs = objs
	return up, down, true
}

// trackable: a value whose upsert and delete are plain (see ObjectTracker).
func trackable(v any) bool {
	switch v := v.(type) {
	case *policy.Endpoint:
		return v.Kind != policy.HostEndpoint
	case *policy.Policy, *policy.Namespace, *policy.ServiceAccount, *policy.NetworkSet:
		return true
	}
	return false
}

// objectKinds are the kinds of change in Changes' order, with each value's
// ID and its upsert and delete.
var objectKinds = []struct {
	is     func(v any) bool
	id     func(v any) string
	upsert func(v any) Change
	del    func(id string) Change
}{
	{func(v any) bool { _, ok := v.(*policy.Namespace); return ok },
		func(v any) string { return v.(*policy.Namespace).Name },
		func(v any) Change { return Change{UpsertNamespace: v.(*policy.Namespace)} },
		func(id string) Change { return Change{DeleteNamespace: id} }},
	{func(v any) bool { _, ok := v.(*policy.ServiceAccount); return ok },
		func(v any) string { sa := v.(*policy.ServiceAccount); return sa.Namespace + "/" + sa.Name },
		func(v any) Change { return Change{UpsertServiceAccount: v.(*policy.ServiceAccount)} },
		func(id string) Change { return Change{DeleteServiceAccount: id} }},
	{func(v any) bool { _, ok := v.(*policy.NetworkSet); return ok },
		func(v any) string { return v.(*policy.NetworkSet).ID() },
		func(v any) Change { return Change{UpsertNetworkSet: v.(*policy.NetworkSet)} },
		func(id string) Change { return Change{DeleteNetworkSet: id} }},
	{func(v any) bool { _, ok := v.(*policy.Endpoint); return ok },
		func(v any) string { return v.(*policy.Endpoint).ID() },
		func(v any) Change { return Change{UpsertEndpoint: v.(*policy.Endpoint)} },
		func(id string) Change { return Change{DeleteEndpoint: id} }},
	{func(v any) bool { _, ok := v.(*policy.Policy); return ok },
		func(v any) string { return v.(*policy.Policy).ID() },
		func(v any) Change { return Change{UpsertPolicy: v.(*policy.Policy)} },
		func(id string) Change { return Change{DeletePolicy: id} }},
}

// objectChanges: upserts of the added values that differ from the removed
// one with their ID, deletes of the removed IDs nothing replaces.
func objectChanges(removed, added []*decode.Object) (up, down []Change) {
	for _, kind := range objectKinds {
		was := map[string]any{}
		for _, o := range removed {
			if kind.is(o.Value) {
				was[kind.id(o.Value)] = o.Value
			}
		}
		now := map[string]any{}
		for _, o := range added {
			if kind.is(o.Value) {
				now[kind.id(o.Value)] = o.Value
			}
		}
		for _, id := range sortedIDs(now) {
			if old, ok := was[id]; !ok || !reflect.DeepEqual(old, now[id]) {
				up = append(up, kind.upsert(now[id]))
			}
		}
		for _, id := range sortedIDs(was) {
			if _, ok := now[id]; !ok {
				down = append(down, kind.del(id))
			}
		}
	}
	// Deletes run in the reverse of the upsert order, as in Changes.
	for i, j := 0, len(down)-1; i < j; i, j = i+1, j-1 {
		down[i], down[j] = down[j], down[i]
	}
	return up, down
}
