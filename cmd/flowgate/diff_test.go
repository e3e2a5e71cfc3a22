package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

var (
	seedDB     = filepath.Join(examples, "seeds/database-allow-backends")
	seedDBTrap = filepath.Join(examples, "seeds/database-allow-backends-trap")
	stagedTrap = filepath.Join(examples, "staged/database-allow-backends-trap.yaml")
)

// trapTable is what the AND/OR trap opens, as diff prints it.
var trapTable = strings.Join([]string{
	"dev -> prod",
	"  + dev/frontend -> prod/database tcp/8080 opened",
	"      before: denied   ingress: tier default: no policy decided (end of tier)",
	"      after:  allowed  egress: default allow (no policy decided); ingress: default/prod/knp.default.database-allow-backends ingress[0] Allow",
	"",
	"1 connection(s) opened, 0 closed",
}, "\n")

// TestDiffAndOrTrap: the seed's trap, as two directories and as a staged
// policy beside the enforced one, opens exactly dev/frontend -> the
// database on 8080 and exits 3; the same state twice exits 0.
func TestDiffAndOrTrap(t *testing.T) {
	for _, args := range [][]string{
		{"--before", seedDB, "--after", seedDBTrap},
		{"--before", seedDB, "--after", seedDB, "--after", stagedTrap},
		{"--before", seedDB + "," + stagedTrap},
	} {
		r := run(t, append(append([]string{"diff"}, args...), "--ports", "8080,80")...)
		if r.code != 3 || strings.TrimRight(r.stdout, "\n") != trapTable {
			t.Errorf("%v: exit %d (%v)\n%s\nwant exit 3 and\n%s", args, r.code, r.err, r.stdout, trapTable)
		}
	}
	r := run(t, "diff", "--before", seedDB, "--after", seedDB, "--ports", "8080")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "0 connection(s) opened, 0 closed" {
		t.Errorf("no change: exit %d, %q", r.code, r.stdout)
	}
	r = run(t, "diff", "--before", seedDB, "--after", seedDBTrap, "--ports", "8080", "--namespace", "staging")
	if r.code != 0 {
		t.Errorf("--namespace staging hides the change: exit %d, %q", r.code, r.stdout)
	}
}

// TestDiffJSON: one row per changed connection, with matrix -o json's
// keys, both verdicts and each side's deciding rule.
func TestDiffJSON(t *testing.T) {
	r := run(t, "diff", "--before", seedDB, "--after", seedDBTrap, "--ports", "8080", "-o", "json")
	if r.code != 3 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	row := rows[0]
	for k, want := range map[string]any{"from": "dev/frontend", "to": "prod/database", "protocol": "tcp", "port": 8080.0, "before": false, "after": true} {
		if row[k] != want {
			t.Errorf("%s = %v, want %v", k, row[k], want)
		}
	}
	in := row["afterDecided"].(map[string]any)["ingress"].(map[string]any)
	if in["tier"] != "default" || in["policy"] != "prod/knp.default.database-allow-backends" || in["rule"] != 0.0 || in["action"] != "Allow" {
		t.Errorf("after ingress decided by %v", in)
	}
	if _, ok := row["beforeDecided"].(map[string]any)["ingress"].(map[string]any)["policy"]; ok {
		t.Errorf("before, a default decided ingress: %v", row["beforeDecided"])
	}
	r = run(t, "diff", "--before", seedDB, "--after", seedDB, "-o", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("no change: exit %d, %q", r.code, r.stdout)
	}
}

// TestDiffInvalidInput: a problem in either state is exit 1 and nothing
// is compared (fail closed: a broken change must not look harmless).
func TestDiffInvalidInput(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: p, namespace: prod}\nspec: {stagedAction: Apply}\n")
	for _, args := range [][]string{
		{"--before", seedDB, "--after", seedDB, "--after", bad},
		{"--before", seedDB + "," + bad, "--after", seedDB},
		{"--before", filepath.Join(dir, "missing.yaml"), "--after", seedDB},
	} {
		r := run(t, append([]string{"diff"}, args...)...)
		if r.code != 1 || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want 1 and nothing", args, r.code, r.stdout)
		}
	}
}

// TestDiffAgent: without --before, the before state is what the agent's
// health server says it enforces (GET /objects), read back through the
// decoders; before the agent's first realization that is an error.
func TestDiffAgent(t *testing.T) {
	var enforced agent.EnforcedObjects
	srv := httptest.NewServer(&enforced)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	r := run(t, "diff", "--agent", addr, "--after", seedDBTrap, "--ports", "8080,80")
	if r.code != 1 {
		t.Errorf("nothing enforced yet: exit %d, want 1", r.code)
	}
	objs, errs := files.Read([]string{seedDB}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	enforced.Set(objs)
	r = run(t, "diff", "--agent", addr, "--after", seedDBTrap, "--ports", "8080,80")
	if r.code != 3 || strings.TrimRight(r.stdout, "\n") != trapTable {
		t.Errorf("exit %d (%v)\n%s\nwant\n%s", r.code, r.err, r.stdout, trapTable)
	}
	r = run(t, "diff", "--agent", addr, "--after", seedDB, "--ports", "8080,80")
	if r.code != 0 {
		t.Errorf("the agent's objects against their own files: exit %d\n%s", r.code, r.stdout)
	}
}

// TestMatrixNamespaceFilter: --namespace keeps only its endpoints' rows
// and columns.
func TestMatrixNamespaceFilter(t *testing.T) {
	r := run(t, "matrix", "-f", filepath.Join(examples, "seeds/namespace-isolation"), "--namespace", "customer2")
	want := []string{
		"tcp/80  (rows: from, columns: to; . allowed, X denied)",
		"                  customer2/nginx  customer2/client",
		"customer2/nginx   -                .",
		"customer2/client  .                -",
	}
	if r.code != 0 || strings.TrimRight(r.stdout, "\n") != strings.Join(want, "\n") {
		t.Errorf("exit %d\n%s\nwant\n%s", r.code, r.stdout, strings.Join(want, "\n"))
	}
}

// TestVerdictWouldBe: with a staged policy in the input the verdict is
// still what is enforced now, followed by what committing it would do.
func TestVerdictWouldBe(t *testing.T) {
	r := run(t, "verdict", "-f", seedDB, "-f", stagedTrap, "--from", "dev/frontend", "--to", "prod/database", "--port", "8080")
	want := strings.Join([]string{
		"DENIED  tcp 10.2.1.12:40000 -> 10.2.0.10:8080 (dev/frontend -> prod/database)",
		"  egress  of dev/frontend: default allow (no policy decided)",
		"  ingress of prod/database: tier default: no policy decided (end of tier)",
		"would be ALLOWED with the 1 staged policy committed (changed):",
		"  egress  of dev/frontend: default allow (no policy decided)",
		"  ingress of prod/database: default/prod/knp.default.database-allow-backends ingress[0] Allow",
	}, "\n")
	if r.code != 0 || strings.TrimRight(r.stdout, "\n") != want {
		t.Errorf("exit %d\n%s\nwant\n%s", r.code, r.stdout, want)
	}
	r = run(t, "verdict", "-f", seedDB, "--from", "dev/frontend", "--to", "prod/database", "--port", "8080")
	if strings.Contains(r.stdout, "would be") {
		t.Errorf("no staged policy, yet: %s", r.stdout)
	}
}

// BenchmarkDiffCLI5000 is `flowgate diff` end to end at the issue's
// scale: two 5,000-pod, 500-policy worlds read from YAML, one Kubernetes
// policy's peer changed from app=backend to app=frontend — the selector
// typo the diff is for (docs/benchmarks.md).
func BenchmarkDiffCLI5000(b *testing.B) {
	g := evaltest.Generate(1, 5000, 500)
	dir := b.TempDir()
	before := filepath.Join(dir, "before.yaml")
	after := filepath.Join(dir, "after.yaml")
	changed, ok := editDocument(g.YAML, "  name: p-251\n", "app: backend", "app: frontend")
	if !ok {
		b.Fatal("no policy p-251 with an app=backend peer in the generated world")
	}
	if err := os.WriteFile(before, []byte(g.YAML), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(after, []byte(changed), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		app := newApp()
		var out bytes.Buffer
		app.Writer, app.ErrWriter = &out, &out
		app.ExitErrHandler = func(*cli.Context, error) {}
		err := app.Run([]string{"flowgate", "--log-level", "error", "diff", "--before", before, "--after", after, "--ports", "80,8027", "-o", "json"})
		if err == nil || exitCode(err) != 3 {
			b.Fatalf("want exit 3, got %v\n%s", err, out.String())
		}
	}
}

// editDocument replaces the first old with new in the YAML document that
// holds marker.
func editDocument(yaml, marker, old, new string) (string, bool) {
	docs := strings.Split(yaml, "\n---\n")
	for i, d := range docs {
		if strings.Contains(d, marker) && strings.Contains(d, old) {
			docs[i] = strings.Replace(d, old, new, 1)
			return strings.Join(docs, "\n---\n"), true
		}
	}
	return "", false
}
