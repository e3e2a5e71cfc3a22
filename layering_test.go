package flowgate

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering fails when a package imports, directly or through another
// package (tests included), what its layer may not depend on: the
// translator nothing under endpoints/, ovs/ or cmd/; ovs/ nothing under
// endpoints/ or cmd/. `go list -deps` is the judge, as the issue that drew
// these lines (issue 11) asks.
func TestLayering(t *testing.T) {
	const module = "github.com/flowgate/flowgate/"
	for _, rule := range []struct {
		packages  string
		forbidden []string
	}{
		{"./translator/...", []string{"endpoints", "ovs", "cmd"}},
		{"./ovs/...", []string{"endpoints", "cmd"}},
	} {
		out, err := exec.Command("go", "list", "-test", "-f", "{{.ImportPath}}:{{join .Deps \" \"}}", rule.packages).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", rule.packages, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 2 {
			t.Fatalf("go list %s listed %d packages: %s", rule.packages, len(lines), out)
		}
		for _, line := range lines {
			pkg, deps, _ := strings.Cut(line, ":")
			for _, dep := range strings.Fields(deps) {
				for _, f := range rule.forbidden {
					if dep == module+f || strings.HasPrefix(dep, module+f+"/") {
						t.Errorf("%s depends on %s: %s may not depend on anything under %s/", pkg, dep, rule.packages, f)
					}
				}
			}
		}
	}
}
