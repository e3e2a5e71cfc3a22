package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/compiler/flowcheck"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// seedsDir holds the examples reconstructed from the seed pages, one world
// per directory with a world.yaml.
const seedsDir = "../../examples/seeds"

// checkOverlaps fails the test with every flow pair OVS could choose
// between (see flowcheck).
func checkOverlaps(t testing.TB, name string, fs []Flow) {
	t.Helper()
	in := make([]flowcheck.Flow, len(fs))
	for i, f := range fs {
		in[i] = flowcheck.Flow{Table: f.Table, Priority: f.Priority, Match: f.Match, Actions: f.Actions}
	}
	problems := flowcheck.Check(in)
	for i, p := range problems {
		if i == 5 {
			t.Errorf("%s: … and %d more problems", name, len(problems)-i)
			break
		}
		t.Errorf("%s: [%s] %s", name, TableName(p.Table), p)
	}
}

// TestNoOverlapRandomWorlds compiles random worlds (every rule feature the
// generator knows: tiers, Log, Pass, negations, named ports, network sets,
// both families) and checks that no two flows of one table and priority
// can both match a packet with different outcomes, before and after random
// incremental changes.
func TestNoOverlapRandomWorlds(t *testing.T) {
	seeds, steps := 60, 40
	if testing.Short() {
		seeds = 10
	}
	flows := 0
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		g := newRandWorld(t, 1000+seed, smallWorld)
		c, _ := New(g.world(), g.options())
		checkOverlaps(t, fmt.Sprintf("seed %d", seed), c.Flows())
		for step := 0; step < steps; step++ {
			ch, _ := g.change()
			c.Update(ch)
		}
		fs := c.Flows()
		flows += len(fs)
		checkOverlaps(t, fmt.Sprintf("seed %d after %d changes", seed, steps), fs)
		if t.Failed() {
			return
		}
	}
	if flows < 150*seeds {
		t.Errorf("only %d flows in %d worlds checked: the worlds are too small to mean much", flows, seeds)
	}
}

// TestNoOverlapScenariosAndSeeds checks the Kubernetes truth-table
// scenarios and the seed examples, every endpoint local.
func TestNoOverlapScenariosAndSeeds(t *testing.T) {
	worlds := map[string]*policy.World{}
	for _, sc := range evaltest.Scenarios() {
		w, err := evaltest.BuildWorld(sc.Name, sc.YAML())
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		worlds["scenario "+sc.Name] = w
	}
	for _, dir := range seedDirs(t) {
		worlds["example "+dir] = loadExample(t, dir)
	}
	if len(worlds) < 60 {
		t.Fatalf("only %d worlds found", len(worlds))
	}
	for name, w := range worlds {
		c, errs := New(w, Options{Locals: AllLocal(w, ""), FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()})
		if len(errs) > 0 {
			t.Errorf("%s: %v", name, errs)
		}
		checkOverlaps(t, name, c.Flows())
	}
}

// TestOverlapCheckerCatchesSharedPriority breaks compiled flows the way a
// careless compiler would, giving every rule of a policy one priority, and
// wants the checker to object: a test that could not fail would prove
// nothing.
func TestOverlapCheckerCatchesSharedPriority(t *testing.T) {
	w, err := evaltest.BuildWorld("two-rules", evaltest.WorldYAML()+`---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: two-rules, namespace: x}
spec:
  selector: pod == 'a'
  ingress:
  - action: Deny
    protocol: TCP
    source: {selector: pod == 'b'}
  - action: Allow
    protocol: TCP
    destination: {ports: [80]}
  - action: Log
    source: {selector: pod == 'c'}
`)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := New(w, Options{Locals: AllLocal(w, "")})
	fs := c.Flows()
	checkOverlaps(t, "intact", fs)
	for i := range fs {
		if fs[i].Table == TableIngressRules.ID && fs[i].Cookie.Category() == CategoryRule {
			fs[i].Priority = rulePriorityTop
		}
	}
	in := make([]flowcheck.Flow, len(fs))
	for i, f := range fs {
		in[i] = flowcheck.Flow{Table: f.Table, Priority: f.Priority, Match: f.Match, Actions: f.Actions}
	}
	problems := flowcheck.Check(in)
	if len(problems) == 0 {
		t.Fatal("rules sharing one priority passed the overlap check")
	}
	found := false
	for _, p := range problems {
		found = found || strings.Contains(p.What, "can both match") || strings.Contains(p.What, "overlap")
	}
	if !found {
		t.Errorf("problems do not name the overlap: %v", problems)
	}
}

// seedDirs lists the example directories (relative to seedsDir) that hold
// a world.yaml, sorted.
func seedDirs(t testing.TB) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(seedsDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "world.yaml" {
			rel, _ := filepath.Rel(seedsDir, filepath.Dir(path))
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// loadExample reads one example directory as the file source does (in path order).
func loadExample(t testing.TB, dir string) *policy.World {
	t.Helper()
	path := filepath.Join(seedsDir, dir)
	objs, errs := evaltest.DecodeFS(os.DirFS(filepath.Dir(path)), filepath.Base(path))
	w, berrs := decode.Build(objs)
	for _, err := range append(errs, berrs...) {
		t.Fatalf("%s: %v", dir, err)
	}
	return w
}
