package files

import (
	"os"
	"path/filepath"
	"testing"
)

const goodPolicy = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-web}
spec: {selector: "app == 'web'", ingress: [{action: Allow}]}
`

// TestSourceKeepsLastGoodState checks the file source's promise: a broken
// file keeps its last good objects in force and is reported; fixing it
// applies the fix; deleting it removes its objects.
func TestSourceKeepsLastGoodState(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(goodPolicy)
	src := NewSource([]string{dir})
	snap := src.Read()
	if len(snap.Objects) != 1 || len(snap.Problems) != 0 || !snap.Changed {
		t.Fatalf("first read: %+v", snap)
	}
	if snap = src.Read(); snap.Changed {
		t.Fatalf("unchanged file reported as changed")
	}
	write(goodPolicy + "  bogusField: 1\n")
	snap = src.Read()
	if len(snap.Objects) != 1 || len(snap.Problems) == 0 || snap.Changed {
		t.Fatalf("broken file: want last good object kept and a problem, got %+v", snap)
	}
	write(goodPolicy)
	snap = src.Read()
	if len(snap.Objects) != 1 || len(snap.Problems) != 0 {
		t.Fatalf("fixed: %+v", snap)
	}
	os.Remove(f)
	snap = src.Read()
	if len(snap.Objects) != 0 || !snap.Changed {
		t.Fatalf("deleted: %+v", snap)
	}
}
