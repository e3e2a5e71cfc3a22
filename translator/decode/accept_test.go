package decode_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestToolOutputsDecode: what kubectl and calicoctl print for `get -o yaml`
// — status: {} (Kubernetes 1.24–1.27), managedFields, resourceVersion,
// uid, generation, creationTimestamp, last-applied-configuration, and the
// typed lists NetworkPolicyList and GlobalNetworkPolicyList — decodes as it
// is, with no error.
func TestToolOutputsDecode(t *testing.T) {
	for file, want := range map[string][]string{
		"testdata/kubectl-get-netpol-1.26.yaml": {"NetworkPolicy.networking.k8s.io prod/default-deny", "NetworkPolicy.networking.k8s.io prod/api-from-web"},
		"testdata/api-networkpolicylist.yaml":   {"NetworkPolicy.networking.k8s.io prod/default-deny"},
		"testdata/calicoctl-get-gnp.yaml":       {"GlobalNetworkPolicy deny-egress-metadata", "GlobalNetworkPolicy ingress-only"},
		"testdata/calicoctl-get-np.yaml":        {"NetworkPolicy prod/allow-dns"},
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, errs := decode.Decode(file, data)
		for _, e := range errs {
			t.Errorf("%s: %v", file, e)
		}
		_, berrs := decode.Build(objs)
		for _, e := range berrs {
			t.Errorf("%s: %v", file, e)
		}
		var got []string
		for _, o := range objs {
			got = append(got, o.Ref())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: decoded %q, want %q", file, got, want)
		}
	}
}

// TestRulesOutsideTypesWarn: as Calico does, a policy whose types leaves
// out a direction it has rules for is accepted and those rules are
// ignored; the object carries a warning naming the file, line, object and
// field.
func TestRulesOutsideTypesWarn(t *testing.T) {
	const file = "testdata/calicoctl-get-gnp.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := decode.Decode(file, data)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	for _, o := range objs {
		p := o.Value.(*policy.Policy)
		switch o.Name {
		case "deny-egress-metadata":
			if len(o.Warnings) > 0 {
				t.Errorf("%s: unexpected warnings %v", o.Ref(), o.Warnings)
			}
		case "ingress-only":
			if p.Types != policy.Ingress || len(p.Egress) != 0 || len(p.Ingress) != 1 {
				t.Errorf("%s: types %v, %d ingress and %d egress rules; want Ingress only, 1 and 0", o.Ref(), p.Types, len(p.Ingress), len(p.Egress))
			}
			if len(o.Warnings) != 1 {
				t.Fatalf("%s: warnings %v, want one", o.Ref(), o.Warnings)
			}
			var de *decode.Error
			if !errors.As(o.Warnings[0], &de) {
				t.Fatalf("warning is a %T", o.Warnings[0])
			}
			if de.File != file || de.Line != 1 || de.Object != "List item 1: GlobalNetworkPolicy ingress-only" || de.Field != "spec.types" ||
				!strings.Contains(de.Err.Error(), "egress rules are given but types does not include Egress") {
				t.Errorf("warning %q", de.Error())
			}
		}
	}
}

// TestDuplicateNamesNameBothPlaces: two objects with one kind, namespace
// and name are an error at the second naming the first, and the agent can
// get both origins with errors.As.
func TestDuplicateNamesNameBothPlaces(t *testing.T) {
	gnp := "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: deny\nspec:\n  selector: all()\n"
	a, _ := decode.Decode("a.yaml", []byte(gnp))
	b, _ := decode.Decode("b.yaml", []byte("# second\n---\n"+gnp))
	_, errs := decode.Build(append(a, b...))
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one", errs)
	}
	var de *decode.Error
	var dup *decode.DuplicateError
	if !errors.As(errs[0], &de) || !errors.As(errs[0], &dup) {
		t.Fatalf("error %v is no *Error wrapping a *DuplicateError", errs[0])
	}
	if de.File != "b.yaml" || de.Line != 3 || dup.First != (decode.Origin{File: "a.yaml", Line: 1}) ||
		errs[0].Error() != "b.yaml:3: GlobalNetworkPolicy deny: metadata.name: duplicate name: already defined at a.yaml:1" {
		t.Errorf("error %q", errs[0])
	}
}

// TestKubernetesRulesOutsidePolicyTypesWarn: the same for a Kubernetes
// NetworkPolicy, which Kubernetes accepts with those rules ignored.
func TestKubernetesRulesOutsidePolicyTypesWarn(t *testing.T) {
	np := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: prod\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  egress:\n  - {}\n"
	objs, errs := decode.Decode("np.yaml", []byte(np))
	if len(errs) > 0 || len(objs) != 1 {
		t.Fatalf("objects %v, errors %v", objs, errs)
	}
	if p := objs[0].Value.(*policy.Policy); p.Types != policy.Ingress {
		t.Errorf("types %v, want Ingress", p.Types)
	}
	if w := objs[0].Warnings; len(w) != 1 || w[0].Error() != "np.yaml:1: NetworkPolicy.networking.k8s.io prod/p: spec.policyTypes: egress rules are given but policyTypes does not include Egress: they are ignored, as Kubernetes ignores them" {
		t.Errorf("warnings %v", w)
	}
}
