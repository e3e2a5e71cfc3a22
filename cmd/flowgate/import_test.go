package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/neutron"
	"github.com/flowgate/flowgate/translator/policy"
)

const neutronSample = "../../translator/neutron/testdata/two-tenants/"

var neutronFilesArgs = []string{
	"-f", neutronSample + "security-groups.json",
	"-f", neutronSample + "ports.json",
	"-f", neutronSample + "address-groups.json",
}

// runBoth runs flowgate in-process and returns stdout, stderr and the exit code.
func runBoth(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	app := newApp()
	var stdout, stderr bytes.Buffer
	app.Writer, app.ErrWriter = &stdout, &stderr
	app.Reader = strings.NewReader(stdin)
	app.ExitErrHandler = func(*cli.Context, error) {}
	err := app.Run(append([]string{"flowgate", "--log-level", "error"}, args...))
	code := 0
	if err != nil {
		code = exitCode(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestImportOpenStackMatrix: the YAML `flowgate import openstack` prints
// passes `flowgate check`, and `flowgate matrix` on it prints the same truth
// table as the evaluator on the native Neutron import.
func TestImportOpenStackMatrix(t *testing.T) {
	out, stderr, code := runBoth(t, "", append([]string{"import", "openstack"}, neutronFilesArgs...)...)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, stderr)
	}
	dir := t.TempDir()
	yamlFile := writeFile(t, dir, "neutron.yaml", out)
	if r := run(t, "check", "-f", yamlFile); r.code != 0 || !strings.HasSuffix(r.stdout, "all valid\n") {
		t.Fatalf("check on the imported YAML: exit %d: %s", r.code, r.stdout)
	}
	extra := "10.1.2.3,203.0.113.9,192.0.2.10,10.99.0.5"
	r := run(t, "matrix", "-f", yamlFile, "-o", "json", "--ports", "22,80,5432,8080", "--protocols", "tcp,icmp", "--extra-addresses", extra)
	if r.code != 0 {
		t.Fatalf("matrix: exit %d: %v", r.code, r.err)
	}
	var got []evaluator.MatrixRow
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}

	// The native import, evaluated in-process.
	in := &neutron.Input{}
	for i := 1; i < len(neutronFilesArgs); i += 2 {
		data, err := os.ReadFile(neutronFilesArgs[i])
		if err != nil {
			t.Fatal(err)
		}
		part, errs := neutron.Decode(neutronFilesArgs[i], data)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		in.Add(part)
	}
	im, errs := neutron.Convert(in)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w, errs := decode.Build(im.Objects())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	var outside []netip.Addr
	for _, s := range strings.Split(extra, ",") {
		outside = append(outside, netip.MustParseAddr(s))
	}
	var services []evaluator.Service
	for _, p := range []uint16{22, 80, 5432, 8080} {
		services = append(services, evaluator.Service{Protocol: policy.TCP, Port: p})
	}
	services = append(services, evaluator.Service{Protocol: policy.ICMP})
	want := ev.Matrix(ev.Participants(outside), services)
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("matrix of the imported YAML (%d rows) differs from the native import (%d rows)", len(got), len(want))
	}
}

// TestImportOpenStackProblems: a bad rule is reported with file, line,
// object and field on stderr, the exit code is 1, and nothing is written.
func TestImportOpenStackProblems(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.json", `{"security_groups": [{"id": "0b5e1f0a-1111-4222-8333-944455556666", "name": "web",
  "security_group_rules": [
    {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80},
    {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 0, "port_range_max": 22}
  ]}]}`)
	out, stderr, code := runBoth(t, "", "import", "openstack", "-f", bad)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := bad + ":4: SecurityGroup 0b5e1f0a-1111-4222-8333-944455556666 (web): security_group_rules[1].port_range_min: port 0 out of range 1-65535"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	if out != "" {
		t.Errorf("YAML written despite the problem:\n%s", out)
	}
	if _, stderr, code := runBoth(t, "", "import", "openstack", "-f", filepath.Join(dir, "missing.json")); code != 1 || !strings.Contains(stderr, "missing.json") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}

// TestImportOpenStackOutputFile: -o writes the same YAML as stdout, and
// stdin and directories are read.
func TestImportOpenStackOutputFile(t *testing.T) {
	stdout, _, code := runBoth(t, "", append([]string{"import", "openstack"}, neutronFilesArgs...)...)
	if code != 0 {
		t.Fatal("import failed")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "neutron.yaml")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runBoth(t, "", append([]string{"import", "openstack", "-o", target}, neutronFilesArgs...)...); code != 0 {
		t.Fatalf("import -o: exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != stdout {
		t.Error("-o wrote something else than stdout")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// The same data from a directory and from stdin.
	groups, _ := os.ReadFile(neutronSample + "security-groups.json")
	fromDir, _, code := runBoth(t, string(groups), "import", "openstack", "-f", neutronSample, "-f", "-")
	if code != 0 {
		t.Fatal("import from a directory and stdin failed")
	}
	body := func(s string) string { return s[strings.Index(s, "\n# Neutron's fixed rules"):] }
	if body(fromDir) != body(stdout) {
		t.Error("reading the directory (and the groups again on stdin) imported something else")
	}
}

// TestImportOpenStackTruncatedKeepsFile: an export cut short (a full disk,
// a killed pipe) never replaces the good file the agent reads: the import
// exits 1 and the file stays byte-identical, with no temporary left beside.
func TestImportOpenStackTruncatedKeepsFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "neutron.yaml")
	if _, stderr, code := runBoth(t, "", append([]string{"import", "openstack", "-o", out}, neutronFilesArgs...)...); code != 0 {
		t.Fatalf("good import: exit %d\n%s", code, stderr)
	}
	good, err := os.ReadFile(out)
	if err != nil || len(good) == 0 {
		t.Fatalf("good import wrote %d bytes: %v", len(good), err)
	}
	groups, err := os.ReadFile(neutronSample + "security-groups.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{len(groups) / 2, len(groups) - 2} {
		_, stderr, code := runBoth(t, string(groups[:cut]), "import", "openstack", "-o", out,
			"-f", "-", "-f", neutronSample+"ports.json", "-f", neutronSample+"address-groups.json")
		if code != 1 || !strings.Contains(stderr, "-: invalid JSON") {
			t.Errorf("truncated at %d: exit %d, stderr %q", cut, code, stderr)
		}
		if now, err := os.ReadFile(out); err != nil || !bytes.Equal(now, good) {
			t.Errorf("truncated at %d: the good file changed (%d bytes, was %d): %v", cut, len(now), len(good), err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only neutron.yaml", len(entries))
	}
}
