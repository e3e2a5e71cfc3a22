package evaltest

import (
	"testing"
)

func TestGenerate(t *testing.T) {
	w, g, err := GenerateWorld(7, 450, 40)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Namespaces) != 5 || len(g.Pods) != 450 || len(w.Endpoints) != 450 || len(w.Namespaces) != 5 {
		t.Errorf("%d namespaces, %d pods, %d endpoints", len(g.Namespaces), len(g.Pods), len(w.Endpoints))
	}
	if len(w.Policies) != 40 || len(w.PoliciesInOrder("security")) != 4 || len(w.NetworkSets) != 1 {
		t.Errorf("%d policies, %d in tier security, %d network sets", len(w.Policies), len(w.PoliciesInOrder("security")), len(w.NetworkSets))
	}
	seen := map[string]bool{}
	for _, p := range g.Pods {
		if seen[p.IP.String()] || p.IP.As4()[3] == 0 {
			t.Fatalf("address %s reused or ends in .0", p.IP)
		}
		seen[p.IP.String()] = true
	}
	if Generate(7, 450, 40).YAML != g.YAML {
		t.Error("the same seed gave different worlds")
	}
	if Generate(8, 450, 40).YAML == g.YAML {
		t.Error("different seeds gave the same world")
	}
}
