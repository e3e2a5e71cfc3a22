package compiler

import (
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// BenchmarkObjectUpdateScale measures what the agent does with one
// changed object on the scale worlds ("target": 100,000 remote pods, 200
// local, 10,000 policies): find the change among every object
// (ObjectTracker), its bindings (BindingChanges over the local pods) and
// compile it (Update) — build + diff + compile, without building or
// diffing a world. Each iteration flips one object between two versions.
//
//	go test ./translator/compiler -run '^$' -bench ObjectUpdateScale -benchtime 200x
func BenchmarkObjectUpdateScale(b *testing.B) {
	for _, size := range scaleSizes {
		for _, what := range []string{"local-pod-relabelled", "remote-pod-relabelled", "policy-changed"} {
			b.Run(size.name+"/"+what, func(b *testing.B) {
				sw := sharedScale(b, size.name, size.cfg)
				w := cloneWorld(sw.world)
				objs := objectsOf(w)
				c, _ := New(w, sw.opts)
				// The object that changes: its index in objs and two versions.
				var at int
				var versions [2]any
				for i, o := range objs {
					switch v := o.Value.(type) {
					case *policy.Endpoint:
						_, local := sw.opts.Locals[v.ID()]
						if versions[0] == nil && (what == "local-pod-relabelled") == local && what != "policy-changed" {
							e := *v
							e.Labels = map[string]string{"app": otherApp(v.Labels["app"]), "tier": v.Labels["tier"], "version": v.Labels["version"]}
							at, versions = i, [2]any{v, &e}
						}
					case *policy.Policy:
						if versions[0] == nil && what == "policy-changed" && v.Namespace != "" && c.compiled(v.ID()) {
							p := *v
							p.Order = v.Order + 1
							at, versions = i, [2]any{v, &p}
						}
					}
				}
				if versions[0] == nil {
					b.Fatal("no object to change")
				}
				lists := [2][]decode.Object{objs, append([]decode.Object(nil), objs...)}
				changed := *lists[1][at].ObjectInfo // the lists share their objects' fields
				changed.Value = versions[1]
				lists[1][at] = decode.NewObject(changed)
				tr := NewObjectTracker(lists[0], w)
				ops := 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					up, down, ok := tr.Changes(lists[(i+1)%2])
					if !ok || len(up) != 1 {
						b.Fatalf("tracker: ok %v, %d upserts", ok, len(up))
					}
					changes := append(append(up, BindingChanges(sw.opts.Locals, sw.opts.Locals)...), down...)
					for _, ch := range changes {
						d, _ := c.Update(ch)
						ops += d.Len()
					}
				}
				b.ReportMetric(float64(len(objs)), "objects")
				b.ReportMetric(float64(ops)/float64(b.N), "flows/op")
			})
		}
	}
}

// objectsOf lists a world's objects as a source would hand them over.
func objectsOf(w *policy.World) []decode.Object {
	var out []decode.Object
	add := func(kind, ns, name string, v any) {
		out = append(out, decode.NewObject(decode.ObjectInfo{Kind: kind, Namespace: ns, Name: name, Value: v}))
	}
	for _, k := range sortedKeys(w.Tiers) {
		add("Tier", "", k, w.Tiers[k])
	}
	for _, k := range sortedKeys(w.Namespaces) {
		add("Namespace", "", k, w.Namespaces[k])
	}
	for _, s := range w.NetworkSets {
		add("NetworkSet", s.Namespace, s.ID(), s)
	}
	for _, p := range w.Policies {
		add("Policy", "", p.ID(), p)
	}
	for _, e := range w.Endpoints {
		add("Pod", e.Namespace, e.Name, e)
	}
	return out
}
