package scalegen

import (
	"reflect"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestWritePodsDecodesToThePods: the pod documents the agent's benchmark
// reads are the pods the compiler's benchmarks build directly, and the
// policy YAML decodes without a problem.
func TestWritePodsDecodesToThePods(t *testing.T) {
	g := Generate(1, Tiny)
	var b strings.Builder
	if err := g.WritePods(&b); err != nil {
		t.Fatal(err)
	}
	objs, errs := decode.Decode("pods.yaml", []byte(b.String()))
	if len(errs) > 0 {
		t.Fatalf("pods do not decode: %v", errs[0])
	}
	if len(objs) != len(g.Pods) {
		t.Fatalf("%d pod objects, want %d", len(objs), len(g.Pods))
	}
	for i, o := range objs {
		if e := o.Value.(*policy.Endpoint); !reflect.DeepEqual(e, g.Pods[i]) {
			t.Fatalf("pod %d decodes to %+v, want %+v", i, e, g.Pods[i])
		}
	}
	if _, errs := decode.Decode("scale.yaml", []byte(g.YAML)); len(errs) > 0 {
		t.Fatalf("policy does not decode: %v", errs[0])
	}
	if len(g.Local) != Tiny.Local {
		t.Fatalf("%d local pods, want %d", len(g.Local), Tiny.Local)
	}
}
