package decode_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
)

// TestDecoderReusesUnchangedDocuments: decoding a file again with a
// Decoder gives what Decode gives — objects, origins (moved lines
// included), warnings and errors — and the unchanged documents' values are
// the very values decoded before, while a changed document is decoded
// anew.
func TestDecoderReusesUnchangedDocuments(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: ns}\nstatus: {podIP: %s}\n"
	const warned = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: ns}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  egress: [{}]\n"
	doc := func(name, ip string) string { return fmt.Sprintf(pod, name, ip) }
	v1 := "---\n" + doc("a", "10.0.0.1") + "---\n" + warned + "---\n" + doc("b", "10.0.0.2")
	// The first pod changes its address, a comment moves everything else
	// down, and a broken document joins.
	// A List with one good and one bad item gives an object and an error.
	const list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: ns}}\n- {apiVersion: v1, kind: Namespace}\n"
	v2 := "# moved\n---\n" + list + "---\n" + doc("a", "10.0.0.9") + "---\n" + warned + "---\n" + doc("b", "10.0.0.2") + "---\nkind: [\n"
	d := decode.NewDecoder()
	first, errs := d.Decode("f.yaml", []byte(v1))
	if len(errs) > 0 || len(first) != 3 {
		t.Fatalf("first decode: %d objects, errors %v", len(first), errs)
	}
	if len(first[1].Warnings) == 0 {
		t.Fatal("the policy has no warning: the test no longer checks that warnings move")
	}
	second, errs2 := d.Decode("f.yaml", []byte(v2))
	want, wantErrs := decode.Decode("f.yaml", []byte(v2))
	if got, w := texts(errs2), texts(wantErrs); !reflect.DeepEqual(got, w) || len(got) == 0 {
		t.Errorf("errors %q, want %q", got, w)
	}
	if len(second) != len(want) {
		t.Fatalf("%d objects, want %d", len(second), len(want))
	}
	for i := range want {
		g, w := second[i], want[i]
		if g.Origin != w.Origin || g.Ref() != w.Ref() || !reflect.DeepEqual(g.Value, w.Value) || !reflect.DeepEqual(texts(g.Warnings), texts(w.Warnings)) {
			t.Errorf("object %d: %+v, want %+v", i, g, w)
		}
	}
	if second[1].Value == first[0].Value {
		t.Error("the changed pod was not decoded again")
	}
	if second[2].Value != first[1].Value || second[3].Value != first[2].Value {
		t.Error("unchanged documents were decoded again")
	}
	// Again, unchanged: every valid document's objects are reused, those
	// after a document with errors included.
	third, _ := d.Decode("f.yaml", []byte(v2))
	for i := 1; i < len(third); i++ {
		if third[i].Value != second[i].Value || third[i].Origin != second[i].Origin {
			t.Errorf("object %d (%s) decoded again or moved", i, third[i].Ref())
		}
	}
	d.Forget("f.yaml")
	fourth, _ := d.Decode("f.yaml", []byte(v2))
	if fourth[3].Value == second[3].Value {
		t.Error("a forgotten file's documents were reused")
	}
}

func texts(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
