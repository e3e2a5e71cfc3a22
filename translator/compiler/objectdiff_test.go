package compiler

import (
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// objects lists the model's objects as a source hands them over: in a
// stable order (kind, then ID), unchanged objects as the same values.
func (g *randWorld) objects() []decode.Object {
	var out []decode.Object
	add := func(kind, ns, name string, v any) {
		out = append(out, decode.NewObject(decode.ObjectInfo{Kind: kind, Namespace: ns, Name: name, Value: v}))
	}
	for _, k := range sortedKeys(g.tiers) {
		add("Tier", "", k, g.tiers[k])
	}
	for _, k := range sortedKeys(g.namespaces) {
		add("Namespace", "", k, g.namespaces[k])
	}
	for _, k := range sortedKeys(g.serviceAccounts) {
		sa := g.serviceAccounts[k]
		add("ServiceAccount", sa.Namespace, sa.Name, sa)
	}
	for _, k := range sortedKeys(g.sets) {
		add("NetworkSet", "", k, g.sets[k])
	}
	for _, k := range sortedKeys(g.endpoints) {
		e := g.endpoints[k]
		add("Endpoint", e.Namespace, e.Name, e)
	}
	for _, k := range sortedKeys(g.policies) {
		add("Policy", "", k, g.policies[k])
	}
	return out
}

// TestObjectTrackerEqualsFullCompile: random changes, made to the objects
// a source hands over, are turned into Changes by the ObjectTracker where
// it takes them (and by a world diff where it refuses them), compiled
// through Update, and after every change the flows are exactly those of a
// fresh compile of the world.
func TestObjectTrackerEqualsFullCompile(t *testing.T) {
	tracked, refused := 0, 0
	for seed := uint64(1); seed <= 12; seed++ {
		g := newRandWorld(t, seed, smallWorld)
		w, opts := g.world(), g.options()
		c, _ := New(w, opts)
		objs, locals := g.objects(), opts.Locals
		tr := NewObjectTracker(objs, g.world())
		for step := 0; step < 60; step++ {
			g.change()
			next, nextLocals := g.objects(), g.options().Locals
			up, down, ok := tr.Changes(next)
			var changes []Change
			if ok {
				tracked++
				changes = append(append(append(changes, up...), BindingChanges(locals, nextLocals)...), down...)
			} else {
				refused++
				if len(tr.Objects()) != len(objs) {
					t.Fatalf("seed %d step %d: a refused change moved the tracker", seed, step)
				}
				changes = Changes(worldOf(t, objs), worldOf(t, next), locals, nextLocals)
				tr = NewObjectTracker(next, worldOf(t, next))
			}
			for _, ch := range changes {
				c.Update(ch)
			}
			want, _ := New(g.world(), g.options())
			if d := Diff(want.Flows(), c.Flows()); !d.Empty() {
				t.Fatalf("seed %d step %d (tracked: %v, %d changes): flows differ from a full compile: %d to add, %d to delete, %d to modify",
					seed, step, ok, len(changes), len(d.Add), len(d.Delete), len(d.Modify))
			}
			objs, locals = next, nextLocals
		}
	}
	if tracked < refused {
		t.Errorf("the tracker took %d changes and refused %d: the test no longer exercises it", tracked, refused)
	}
	t.Logf("tracked %d changes, refused %d", tracked, refused)
}

// worldOf is the world the model's objects make, with no default tier
// unless one was made (as randWorld.world).
func worldOf(t *testing.T, objs []decode.Object) *policy.World {
	w := policy.NewWorld()
	delete(w.Tiers, policy.DefaultTier)
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *policy.Tier:
			w.Tiers[v.Name] = v
		case *policy.Namespace:
			w.Namespaces[v.Name] = v
		case *policy.ServiceAccount:
			w.ServiceAccounts[v.Namespace+"/"+v.Name] = v
		case *policy.NetworkSet:
			w.NetworkSets = append(w.NetworkSets, v)
		case *policy.Endpoint:
			w.Endpoints = append(w.Endpoints, v)
		case *policy.Policy:
			w.Policies = append(w.Policies, v)
		default:
			t.Fatalf("unexpected object %T", v)
		}
	}
	return w
}

// TestObjectTrackerRefusesDuplicates: an object defined twice — a new
// one with an existing name, or one document repeated (the same value
// twice) — is left to decode.Build, which reports it.
func TestObjectTrackerRefusesDuplicates(t *testing.T) {
	ns := func(name string) decode.Object {
		return decode.NewObject(decode.ObjectInfo{Kind: "Namespace", Name: name, Value: &policy.Namespace{Name: name}})
	}
	a, b, c, d, e := ns("a"), ns("b"), ns("c"), ns("d"), ns("e")
	other := decode.NewObject(decode.ObjectInfo{Kind: "Namespace", Name: "a", Value: &policy.Namespace{Name: "a", Labels: map[string]string{"x": "y"}}})
	for name, lists := range map[string][2][]decode.Object{
		"same value twice":              {{a, b}, {a, a, b}},
		"same value twice, among moves": {{c, a, d}, {a, e, a}},
		"same name, new one":            {{a, b}, {a, b, other}},
	} {
		tr := NewObjectTracker(lists[0], policy.NewWorld())
		if _, _, ok := tr.Changes(lists[1]); ok {
			t.Errorf("%s: taken", name)
		}
	}
	tr := NewObjectTracker([]decode.Object{a, b}, policy.NewWorld())
	if up, _, ok := tr.Changes([]decode.Object{other, b}); !ok || len(up) != 1 {
		t.Errorf("a plain replacement: ok %v, %d upserts", ok, len(up))
	}
}
