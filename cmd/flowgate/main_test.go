package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

const examples = "../../examples"

// result is what one in-process run of the CLI produced.
type result struct {
	stdout string
	stderr string
	err    error
	code   int
}

// run runs flowgate in-process with args, stdout captured, and returns
// the exit code main would use. Logs go to the process's stderr, never to
// stdout.
func run(t *testing.T, args ...string) result {
	t.Helper()
	app := newApp()
	var stdout, stderr bytes.Buffer
	app.Writer, app.ErrWriter = &stdout, &stderr
	app.ExitErrHandler = func(*cli.Context, error) {} // no os.Exit in tests
	err := app.Run(append([]string{"flowgate", "--log-level", "error"}, args...))
	r := result{stdout: stdout.String(), stderr: stderr.String(), err: err}
	if err != nil {
		r.code = exitCode(err)
	}
	return r
}

// exampleDirs lists every example directory (one world each).
func exampleDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(examples, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "world.yaml" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return err
	})
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no example directories (%v)", err)
	}
	return dirs
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckExamples(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		r := run(t, "check", "-f", dir)
		if r.code != 0 || !regexp.MustCompile(`^\d+ object\(s\), all valid\n$`).MatchString(r.stdout) {
			t.Errorf("check -f %s: exit %d, output %q, err %v", dir, r.code, r.stdout, r.err)
		}
	}
}

func TestCheckBadInput(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: good
spec:
  selector: app == 'web'
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: typo
  namespace: prod
spec:
  ingress:
  - action: Allow
    sourc: {}
`)
	b := writeFile(t, dir, "b.yaml", `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: good
spec: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ports
  namespace: prod
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: 70000
`)
	writeFile(t, dir, "notes.txt", "not read: not YAML or JSON\n")
	r := run(t, "check", "-f", dir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (err %v)", r.code, r.err)
	}
	want := []string{
		a + ":8: NetworkPolicy prod/typo: spec.ingress[0].sourc: unknown field",
		b + ":7: NetworkPolicy.networking.k8s.io prod/ports: spec.ingress[0].ports[0].port: port 70000 out of range 1-65535",
		b + ":1: GlobalNetworkPolicy good: metadata.name: duplicate name: already defined at " + a + ":1",
	}
	if got := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", r.stdout, strings.Join(want, "\n"))
	}
	if r.err == nil || r.err.Error() != "3 problem(s) in 2 valid object(s)" {
		t.Errorf("error %v", r.err)
	}
}

func TestCheckMissingFile(t *testing.T) {
	r := run(t, "check", "-f", filepath.Join(t.TempDir(), "nope.yaml"))
	if r.code != 1 || !strings.Contains(r.stdout, "nope.yaml") {
		t.Errorf("exit %d, output %q", r.code, r.stdout)
	}
}

func TestCheckStdin(t *testing.T) {
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = rd
	defer func() { os.Stdin = old }()
	fmt.Fprint(wr, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-stdin\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: Bad_Name\n")
	wr.Close()
	r := run(t, "check", "-f", "-")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "-:6: Namespace Bad_Name: metadata.name: invalid namespace") {
		t.Errorf("exit %d, output %q", r.code, r.stdout)
	}
}

func TestVerdict(t *testing.T) {
	db := filepath.Join(examples, "seeds/database-allow-backends")
	cases := []struct {
		args []string
		want []string // lines, in order
	}{
		{[]string{"-f", db, "--from", "dev/backend", "--to", "prod/database", "--port", "8080"}, []string{
			"ALLOWED  tcp 10.2.1.11:40000 -> 10.2.0.10:8080 (dev/backend -> prod/database)",
			"  egress  of dev/backend: default allow (no policy decided)",
			"  ingress of prod/database: default/prod/knp.default.database-allow-backends ingress[0] Allow",
		}},
		{[]string{"-f", db, "--from", "dev/frontend", "--to", "prod/database", "--port", "8080"}, []string{
			"DENIED  tcp 10.2.1.12:40000 -> 10.2.0.10:8080 (dev/frontend -> prod/database)",
			"  egress  of dev/frontend: default allow (no policy decided)",
			"  ingress of prod/database: tier default: no policy decided (end of tier)",
		}},
		// An address resolves to the endpoint owning it; one outside the
		// world has no policy of its own.
		{[]string{"-f", db, "--from", "203.0.113.9", "--to", "10.2.0.10", "--proto", "udp", "--port", "8080"}, []string{
			"DENIED  udp 203.0.113.9:40000 -> 10.2.0.10:8080 (203.0.113.9 -> prod/database)",
			"  ingress of prod/database: tier default: no policy decided (end of tier)",
		}},
		{[]string{"-f", filepath.Join(examples, "seeds/calico-getting-started/log-and-deny"), "--from", "production/frontend", "--to", "production/database", "--port", "6379"}, []string{
			"DENIED  tcp 10.0.0.11:40000 -> 10.0.0.10:6379 (production/frontend -> production/database)",
			"  egress  of production/frontend: default allow (no policy decided)",
			"  ingress of production/database: default/production/allow-tcp-6379 ingress[1] Deny",
			"           logged by default/production/allow-tcp-6379 ingress[0] Log",
		}},
		{[]string{"-f", db, "--from", "prod/database", "--to", "dev/backend", "--proto", "icmp"}, []string{
			"ALLOWED  icmp 10.2.0.10 -> 10.2.1.11 type 8 code 0 (prod/database -> dev/backend)",
			"  egress  of prod/database: default allow (no policy decided)",
			"  ingress of dev/backend: default allow (no policy decided)",
		}},
	}
	for _, c := range cases {
		r := run(t, append([]string{"verdict"}, c.args...)...)
		if r.code != 0 {
			t.Errorf("verdict %v: exit %d (%v)", c.args, r.code, r.err)
			continue
		}
		if got := strings.TrimRight(r.stdout, "\n"); got != strings.Join(c.want, "\n") {
			t.Errorf("verdict %v:\n%s\nwant:\n%s", c.args, got, strings.Join(c.want, "\n"))
		}
	}
}

func TestUsageErrors(t *testing.T) {
	db := filepath.Join(examples, "seeds/database-allow-backends")
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"verdict", "-f", db, "--from", "prod/nobody", "--to", "prod/database", "--port", "80"}, `--from: no endpoint "prod/nobody"`},
		{[]string{"verdict", "-f", db, "--from", "prod/backend", "--to", "prod/database"}, "--port: port 0 out of range"},
		{[]string{"verdict", "-f", db, "--from", "prod/backend", "--to", "prod/database", "--proto", "tpc", "--port", "80"}, "--proto: unknown protocol"},
		{[]string{"matrix", "-f", db, "--ports", "0"}, "--ports: port 0 out of range"},
		{[]string{"matrix", "-f", db, "--protocols", "gre"}, "--protocols: unknown protocol"},
		{[]string{"matrix", "-f", db, "-o", "xml"}, "--output: want table, json or html"},
		{[]string{"matrix", "-f", db, "--extra-addresses", "10.0.0.300"}, "--extra-addresses"},
	}
	for _, c := range cases {
		r := run(t, c.args...)
		if r.code != 2 || r.err == nil || !strings.Contains(r.err.Error(), c.msg) {
			t.Errorf("%v: exit %d, err %v, want exit 2 and %q", c.args, r.code, r.err, c.msg)
		}
	}
}

// matrixRow mirrors the JSON rows `matrix -o json` prints.
type matrixRow struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Allowed  bool   `json:"allowed"`
	Reason   string `json:"reason"`
}

func decodeRows(t *testing.T, stdout string) []matrixRow {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var rows []matrixRow
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("stdout is not a JSON list of rows: %v\n%s", err, stdout)
	}
	if rest := strings.TrimSpace(stdout[dec.InputOffset():]); rest != "" {
		t.Fatalf("stdout has more than the JSON: %q", rest)
	}
	// Every row carries every field, none of them empty where it matters.
	var raw []map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, m := range raw {
		for _, k := range []string{"from", "to", "protocol", "port", "allowed", "reason"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("row %v has no %q", m, k)
			}
		}
		if len(m) != 6 {
			t.Fatalf("row %v has fields beyond the six", m)
		}
	}
	return rows
}

func TestMatrixJSON(t *testing.T) {
	dir := t.TempDir()
	// A broken file beside the example, skipped with --skip-invalid: its
	// problem and the PARTIAL notice are on stderr, never on stdout, whose
	// JSON keeps its shape; the rest is still evaluated.
	bad := writeFile(t, dir, "bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n  namespace: customer1\nspec:\n  containerz: []\n")
	outside := []string{"203.0.113.7", "198.51.100.1"}
	r := run(t, "matrix", "-f", filepath.Join(examples, "seeds/namespace-isolation"), "-f", bad, "--skip-invalid",
		"--protocols", "tcp,udp,icmp", "--ports", "80,443", "--extra-addresses", strings.Join(outside, ","), "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	if !strings.Contains(r.stderr, "bad.yaml:1: Pod customer1/broken: spec.containerz: unknown field") || !strings.Contains(r.stderr, "PARTIAL:") {
		t.Errorf("stderr lacks the problem or the PARTIAL notice:\n%s", r.stderr)
	}
	rows := decodeRows(t, r.stdout)

	pods := []string{"customer1/nginx", "customer1/client", "customer2/nginx", "customer2/client"}
	participants := append(append([]string{}, pods...), outside...)
	services := []struct {
		proto string
		port  int
	}{{"tcp", 80}, {"tcp", 443}, {"udp", 80}, {"udp", 443}, {"icmp", 0}}
	byKey := map[string]matrixRow{}
	for _, row := range rows {
		key := fmt.Sprintf("%s|%s|%s|%d", row.From, row.To, row.Protocol, row.Port)
		if _, dup := byKey[key]; dup {
			t.Errorf("row %s twice", key)
		}
		byKey[key] = row
		if row.Reason == "" {
			t.Errorf("row %s has no reason", key)
		}
	}
	want := 0
	for _, from := range participants {
		for _, to := range participants {
			outsideToOutside := !strings.Contains(from, "/") && !strings.Contains(to, "/")
			for _, s := range services {
				key := fmt.Sprintf("%s|%s|%s|%d", from, to, s.proto, s.port)
				_, ok := byKey[key]
				switch {
				case from == to || outsideToOutside:
					if ok {
						t.Errorf("unexpected row %s", key)
					}
				case !ok:
					t.Errorf("missing row %s", key)
				default:
					want++
				}
			}
		}
	}
	if len(rows) != want || want != (6*5-2)*len(services) {
		t.Errorf("%d rows, want %d", len(rows), (6*5-2)*len(services))
	}
	cells := []struct {
		key     string
		allowed bool
		reason  string
	}{
		{"customer1/client|customer1/nginx|tcp|80", true, "ingress: default/customer1/knp.default.deny-from-other-namespaces ingress[0] Allow"},
		{"customer1/client|customer2/nginx|udp|443", false, "ingress: tier default: no policy decided (end of tier)"},
		{"203.0.113.7|customer2/nginx|icmp|0", false, "ingress: tier default: no policy decided (end of tier)"},
		{"customer2/client|198.51.100.1|tcp|443", true, "egress: default allow (no policy decided)"},
	}
	for _, c := range cells {
		row, ok := byKey[c.key]
		if !ok || row.Allowed != c.allowed || !strings.Contains(row.Reason, c.reason) {
			t.Errorf("%s = %+v, want allowed=%v with reason %q", c.key, row, c.allowed, c.reason)
		}
	}
}

func TestMatrixEmptyAndTable(t *testing.T) {
	dir := t.TempDir()
	ns := writeFile(t, dir, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: empty\n")
	r := run(t, "matrix", "-f", ns, "-o", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("no endpoints: exit %d, stdout %q, want []", r.code, r.stdout)
	}
	r = run(t, "matrix", "-f", filepath.Join(examples, "seeds/namespace-isolation"))
	want := []string{
		"tcp/80  (rows: from, columns: to; . allowed, X denied)",
		"                  customer1/nginx  customer1/client  customer2/nginx  customer2/client",
		"customer1/nginx   -                .                 X                X",
		"customer1/client  .                -                 X                X",
		"customer2/nginx   X                X                 -                .",
		"customer2/client  X                X                 .                -",
	}
	if r.code != 0 || strings.TrimRight(r.stdout, "\n") != strings.Join(want, "\n") {
		t.Errorf("table: exit %d\n%s\nwant:\n%s", r.code, r.stdout, strings.Join(want, "\n"))
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "version")
	if r.code != 0 || r.stdout != "flowgate "+version+"\n" {
		t.Errorf("version: exit %d, %q", r.code, r.stdout)
	}
}
