package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// TestStagedPoliciesNeverCompiled: adding staged policies (a Set that
// would open the AND/OR trap, and a Delete of the enforced policy) to a
// world changes not one flow, though committing them would.
func TestStagedPoliciesNeverCompiled(t *testing.T) {
	base := loadExample(t, "database-allow-backends")
	objs, errs := evaltest.DecodeFS(os.DirFS(filepath.Join(seedsDir, "database-allow-backends")), ".")
	trap, terrs := evaltest.DecodeFS(os.DirFS("../../examples/staged"), "database-allow-backends-trap.yaml")
	objs, errs = append(objs, trap...), append(errs, terrs...)
	if len(trap) == 0 {
		t.Fatal("no staged policies read")
	}
	del, derrs := decode.Decode("delete.yaml", []byte(`apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: nothing-to-delete}
spec: {stagedAction: Delete}
`))
	staged, berrs := decode.Build(append(objs, del...))
	for _, err := range append(append(errs, derrs...), berrs...) {
		t.Fatal(err)
	}
	if len(staged.Staged) != 2 {
		t.Fatalf("want 2 staged policies, got %d", len(staged.Staged))
	}
	want, got := goldenText(t, base), goldenText(t, staged)
	if got != want {
		t.Fatalf("staged policies changed the compiled flows:\n%s\nwant\n%s", got, want)
	}
	if committed := goldenText(t, staged.WithStaged()); committed == want {
		t.Fatal("committing the staged policies changes no flow: the test proves nothing")
	}
}
