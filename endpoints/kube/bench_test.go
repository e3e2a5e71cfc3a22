package kube

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// benchObjects turns a generated world into what informers deliver: typed
// pods and namespaces (trimmed), unstructured Calico objects.
func benchObjects(b *testing.B, pods, policies int) []struct {
	res *resource
	obj any
} {
	b.Helper()
	gen := evaltest.Generate(1, pods, policies)
	var out []struct {
		res *resource
		obj any
	}
	for _, part := range strings.Split(gen.YAML, "\n---") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(part), &u.Object); err != nil || u.Object == nil {
			continue
		}
		switch u.GetKind() {
		case "Pod":
			var p corev1.Pod
			if err := yaml.Unmarshal([]byte(part), &p); err != nil {
				b.Fatal(err)
			}
			t, _ := trim(&p)
			out = append(out, struct {
				res *resource
				obj any
			}{&resPods, t})
		case "Namespace":
			var n corev1.Namespace
			yaml.Unmarshal([]byte(part), &n)
			t, _ := trim(&n)
			out = append(out, struct {
				res *resource
				obj any
			}{&resNamespaces, t})
		default:
			var res *resource
			for i := range calicoResources {
				if calicoResources[i].kind == u.GetKind() && u.GetAPIVersion() == CalicoGroupVersion {
					res = &calicoResources[i]
				}
			}
			if u.GetAPIVersion() == "networking.k8s.io/v1" {
				res = &resKubePolicies
			}
			if res == nil {
				continue
			}
			out = append(out, struct {
				res *resource
				obj any
			}{res, &u})
		}
	}
	return out
}

// BenchmarkStoreInitialList measures what the source spends on an
// informer's initial list: trimming is done by the caller (as informers
// do); each object is encoded, hashed and decoded, then one snapshot is
// taken. Reported per object, with the heap the store holds afterwards.
func BenchmarkStoreInitialList(b *testing.B) {
	for _, size := range []struct{ pods, policies int }{{5000, 500}, {50000, 2000}} {
		b.Run(fmt.Sprintf("pods=%d/policies=%d", size.pods, size.policies), func(b *testing.B) {
			objs := benchObjects(b, size.pods, size.policies)
			log := logrus.New()
			log.SetLevel(logrus.ErrorLevel)
			b.ResetTimer()
			var heap uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				s := newStore(logrus.NewEntry(log))
				for _, o := range objs {
					s.upsert(o.res, o.obj)
				}
				for _, r := range append([]resource{resPods, resNamespaces, resKubePolicies}, calicoResources...) {
					s.ready[r.name] = true
				}
				snap, _ := s.snapshot()
				s.checkCrossObject(snap)
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - before.HeapAlloc
				runtime.KeepAlive(s)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(objs))/1000, "µs/object")
			b.ReportMetric(float64(heap)/(1<<20), "store-MiB")
		})
	}
}
