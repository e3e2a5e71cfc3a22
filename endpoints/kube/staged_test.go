package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	fakediscovery "k8s.io/client-go/discovery/fake"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestSourceStagedPolicies: the staged kinds are watched when served, a
// valid one reaches the snapshot as a staged policy (which decode.Build
// keeps out of the enforced policies), and an invalid one is reported as
// an Event on it.
func TestSourceStagedPolicies(t *testing.T) {
	staged := func(kind, name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "projectcalico.org/v3", "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": "prod", "uid": "uid-" + name},
			"spec":     spec,
		}}
	}
	s, cs, _, rec := fakeSource(t, nil,
		staged("StagedKubernetesNetworkPolicy", "sknp", map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress"}}),
		staged("StagedNetworkPolicy", "bad", map[string]any{"stagedAction": "Apply"}))
	cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: CalicoGroupVersion,
		APIResources: []metav1.APIResource{
			{Name: "stagednetworkpolicies", Kind: "StagedNetworkPolicy"},
			{Name: "stagedkubernetesnetworkpolicies", Kind: "StagedKubernetesNetworkPolicy"},
		},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snap := next(t, s.Watch(ctx))
	o, ok := refs(snap)["StagedKubernetesNetworkPolicy prod/sknp"]
	if !ok {
		t.Fatalf("staged policy not in the snapshot: %v", refs(snap))
	}
	if sp, ok := o.Value.(*policy.StagedPolicy); !ok || sp.Action != policy.StagedSet {
		t.Fatalf("value %#v", o.Value)
	}
	w, errs := decode.Build(snap.Objects)
	if len(errs) > 0 || len(w.Policies) != 0 || len(w.Staged) != 1 {
		t.Errorf("built: %d policies, %d staged, errors %v", len(w.Policies), len(w.Staged), errs)
	}
	select {
	case e := <-rec.Events:
		if !strings.HasPrefix(e, "Warning InvalidPolicy spec.stagedAction: ") {
			t.Errorf("event %q", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Event for the invalid staged policy")
	}
}
