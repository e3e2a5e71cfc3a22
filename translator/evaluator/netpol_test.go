package evaluator_test

import (
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestKubernetesTruthTables runs every upstream-style scenario through the
// reference evaluator and compares the full reachability grid for every
// protocol and port with the scenario's expectation.
func TestKubernetesTruthTables(t *testing.T) {
	scenarios := evaltest.Scenarios()
	if len(scenarios) < 25 {
		t.Fatalf("only %d scenarios", len(scenarios))
	}
	seen := map[string]bool{}
	for _, sc := range scenarios {
		if seen[sc.Name] {
			t.Errorf("scenario name %q used twice", sc.Name)
		}
		seen[sc.Name] = true
		t.Run(sc.Name, func(t *testing.T) {
			w, err := evaltest.BuildWorld(sc.Name+".yaml", sc.YAML())
			if err != nil {
				t.Fatal(err)
			}
			ev := evaluator.New(w, evaluator.DefaultOptions())
			for _, svc := range evaltest.Services() {
				want := sc.Expect(svc)
				got, err := evaltest.Observe(ev, svc)
				if err != nil {
					t.Fatal(err)
				}
				if diff := want.Diff(got); len(diff) > 0 {
					t.Errorf("%s: %d cell(s) differ:\n  %s\nwant:\n%s\ngot:\n%s", svc, len(diff), strings.Join(diff, "\n  "), want, got)
				}
			}
		})
	}
}

// TestTruthTablesDiscriminate guards against scenarios that cannot fail:
// every scenario but the allow-everything ones must deny something, and
// the expectations must differ from what the world does with no policy.
func TestTruthTablesDiscriminate(t *testing.T) {
	permissive := map[string]bool{
		"allow-from-all-namespaces":          true,
		"allow-all-ingress":                  true,
		"ingress-allow-all-takes-precedence": true,
		"egress-allow-all-takes-precedence":  true,
	}
	open := evaltest.NewReachability(true)
	for _, sc := range evaltest.Scenarios() {
		denies := false
		for _, svc := range evaltest.Services() {
			if len(open.Diff(sc.Expect(svc))) > 0 {
				denies = true
			}
		}
		if denies == permissive[sc.Name] {
			t.Errorf("%s: denies something = %v, want %v", sc.Name, denies, !permissive[sc.Name])
		}
	}
	// The permissive scenarios must still differ from a world whose
	// policies select nothing: check that their policies select pods by
	// removing the allow-all policy and seeing denials.
	for _, sc := range evaltest.Scenarios() {
		if !permissive[sc.Name] || !strings.Contains(sc.Policies, "port: 80") {
			continue
		}
		docs := strings.Split(sc.Policies, "---\n")
		w, err := evaltest.BuildWorld(sc.Name, evaltest.WorldYAML()+"---\n"+docs[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := evaltest.Observe(evaluator.New(w, evaluator.DefaultOptions()), evaltest.Service{Protocol: policy.TCP, Port: 81})
		if err != nil {
			t.Fatal(err)
		}
		if len(open.Diff(got)) == 0 {
			t.Errorf("%s: without the allow-all policy port 81 should be denied somewhere", sc.Name)
		}
	}
}

func TestReachabilityHelpers(t *testing.T) {
	r := evaltest.NewReachability(true).ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true).Expect("z", "y/c", false)
	for _, c := range []struct {
		from, to string
		want     bool
	}{
		{"x/b", "x/a", true}, {"x/c", "x/a", false}, {"y/a", "x/a", false},
		{"z/a", "y/c", false}, {"z/c", "y/c", false}, {"x/a", "y/c", true}, {"x/a", "x/b", true},
	} {
		if got := r.Allowed(c.from, c.to); got != c.want {
			t.Errorf("%s -> %s = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	other := evaltest.NewReachability(true)
	diff := r.Diff(other)
	// x/a has 8 sources, one of them allowed again; z has 3 pods to y/c.
	if len(diff) != 7+3 {
		t.Errorf("diff has %d lines, want 10: %v", len(diff), diff)
	}
	if len(diff) > 0 && diff[0] != "x/c -> x/a: want denied, got allowed" {
		t.Errorf("first diff line %q", diff[0])
	}
	grid := r.String()
	if !strings.Contains(grid, "x/a") || strings.Count(grid, "\n") != 10 {
		t.Errorf("grid has %d lines, want header + 9 rows:\n%s", strings.Count(grid, "\n"), grid)
	}
}
