package policy

import (
	"testing"

	"github.com/flowgate/flowgate/translator/selector"
)

// TestEndpointLabelsAllocations guards the compiler's per-endpoint label
// map (kept for every endpoint, 50,000 at OVN's scenario): one map, sized
// exactly, and the namespace label keys interned (their concatenation is
// temporary).
func TestEndpointLabelsAllocations(t *testing.T) {
	w := &World{Namespaces: map[string]*Namespace{"ns-1": {Name: "ns-1", Labels: map[string]string{"team": "t1", "kubernetes.io/metadata.name": "ns-1"}}}}
	e := &Endpoint{Kind: PodEndpoint, Namespace: "ns-1", Name: "p", Labels: map[string]string{"app": "a"}, Orchestrator: OrchestratorKubernetes}
	var l selector.Set
	allocs := testing.AllocsPerRun(100, func() { l = w.EndpointLabels(e) })
	want := map[string]string{"app": "a", "pcns.team": "t1", "pcns.kubernetes.io/metadata.name": "ns-1", "pcns." + LabelName: "ns-1",
		LabelNamespace: "ns-1", LabelOrchestrator: OrchestratorKubernetes}
	if len(l) != len(want) {
		t.Fatalf("labels %v, want %v", l, want)
	}
	for k, v := range want {
		if l[k] != v {
			t.Fatalf("labels %v, want %v", l, want)
		}
	}
	if allocs > 3 {
		t.Errorf("EndpointLabels: %.0f allocations, want at most 3 (one small map; a spare-entry hint makes it a table: 4)", allocs)
	}
}
