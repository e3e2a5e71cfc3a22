package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// denyWithBadCIDR is a deny-all GlobalNetworkPolicy with a mistyped CIDR
// in a second rule: invalid as a whole. Left out, database-allow-backends
// alone allows prod/backend → prod/database.
const denyWithBadCIDR = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-all
spec:
  order: 1
  selector: all()
  types: [Ingress]
  ingress:
  - action: Deny
  - action: Deny
    source:
      nets: [10.0.0.0/33]
`

// TestInvalidInputRefused: with any invalid input verdict, matrix and
// compile answer nothing on stdout, list every problem on stderr and exit
// 1; --skip-invalid answers, marked PARTIAL.
func TestInvalidInputRefused(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(examples, "seeds/database-allow-backends")
	bad := writeFile(t, dir, "deny.yaml", denyWithBadCIDR)
	other := writeFile(t, dir, "other.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Bad_Name\n")
	commands := map[string][]string{
		"verdict": {"verdict", "--from", "prod/backend", "--to", "prod/database", "--port", "8080"},
		"matrix":  {"matrix"},
		"compile": {"compile"},
	}
	for name, args := range commands {
		args = append(args, "-f", db, "-f", bad, "-f", other)
		r := run(t, args...)
		if r.code != 1 || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q; want 1 and nothing", name, r.code, r.stdout)
		}
		for _, want := range []string{
			bad + ":1: GlobalNetworkPolicy deny-all: spec.ingress[1].source.nets[0]",
			other + ":1: Namespace Bad_Name: metadata.name",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", name, want, r.stderr)
			}
		}
		r = run(t, append(args, "--skip-invalid")...)
		if r.code != 0 || !strings.Contains(r.stderr, "PARTIAL:") {
			t.Errorf("%s --skip-invalid: exit %d, stderr %q", name, r.code, r.stderr)
		}
		first, _, _ := strings.Cut(r.stdout, "\n")
		if strings.TrimPrefix(first, "# ") != partialLine {
			t.Errorf("%s --skip-invalid: first line %q, want the PARTIAL line", name, first)
		}
	}
}

// TestDuplicateObjectsRefused: two objects with one kind/namespace/name
// are an error naming both places, and nothing is answered (the first no
// longer silently wins over a later Deny).
func TestDuplicateObjectsRefused(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(examples, "seeds/database-allow-backends")
	deny := strings.Replace(denyWithBadCIDR, "  - action: Deny\n    source:\n      nets: [10.0.0.0/33]\n", "", 1)
	a := writeFile(t, dir, "a.yaml", strings.Replace(deny, "action: Deny", "action: Pass", 1))
	b := writeFile(t, dir, "b.yaml", "# the real one\n---\n"+deny)
	r := run(t, "verdict", "-f", db, "-f", a, "-f", b, "--from", "prod/backend", "--to", "prod/database", "--port", "8080")
	want := b + ":3: GlobalNetworkPolicy deny-all: metadata.name: duplicate name: already defined at " + a + ":1"
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, %q", r.code, r.stdout, r.stderr, want)
	}
}

// TestCheckWarns: check accepts rules of a direction types leaves out (as
// Calico does), exit 0, and prints a WARNING naming file:line, object and
// field.
func TestCheckWarns(t *testing.T) {
	const file = "../../translator/decode/testdata/calicoctl-get-gnp.yaml"
	r := run(t, "check", "-f", file)
	want := "WARNING: " + file + ":1: List item 1: GlobalNetworkPolicy ingress-only: spec.types: egress rules are given but types does not include Egress"
	if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.HasSuffix(r.stdout, "2 object(s), all valid, 1 warning(s)\n") {
		t.Errorf("exit %d, stdout %q; want 0 and %q", r.code, r.stdout, want)
	}
}

// TestExitCodes: 0 ok, 1 invalid input, 2 usage errors, 3 for DENIED with
// verdict --exit-code.
func TestExitCodes(t *testing.T) {
	db := filepath.Join(examples, "seeds/database-allow-backends")
	bad := writeFile(t, t.TempDir(), "bad.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Bad_Name\n")
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"check", "-f", db}, 0},
		{[]string{"check", "-f", bad}, 1},
		{[]string{"check"}, 2},
		{[]string{"check", "-f", db, "--no-such-flag"}, 2},
		{[]string{"--no-such-flag", "check", "-f", db}, 2},
		{[]string{"matrix", "-f", db, "-o", "xml"}, 2},
		{[]string{"compile", "-f", db, "-o", "xml"}, 2},
		{[]string{"compile", "-f", bad, "-o", "xml"}, 2},
		{[]string{"matrix", "-f", bad, "-o", "xml"}, 2},
		{[]string{"verdict", "-f", db, "--from", "prod/backend", "--to", "prod/nope", "--port", "8080"}, 2},
		{[]string{"verdict", "-f", db, "--from", "prod/backend", "--to", "prod/database", "--port", "8080", "--exit-code"}, 0},
		{[]string{"verdict", "-f", db, "--from", "prod/frontend", "--to", "prod/database", "--port", "8080", "--exit-code"}, 3},
		{[]string{"verdict", "-f", db, "--from", "prod/frontend", "--to", "prod/database", "--port", "8080"}, 0},
		{[]string{"verdict", "-f", bad, "--from", "a/b", "--to", "c/d", "--exit-code"}, 1},
		{[]string{"--max-input-mib", "0", "check", "-f", db}, 2},
		{[]string{"diff", "--before", db, "--after", db, "--ports", "8080"}, 0},
		{[]string{"diff", "--before", db + "," + filepath.Join(examples, "staged"), "--ports", "8080"}, 3},
		{[]string{"diff", "--before", db, "--after", bad, "--ports", "8080"}, 1},
	} {
		if r := run(t, c.args...); r.code != c.want {
			t.Errorf("flowgate %s: exit %d (%v), want %d", strings.Join(c.args, " "), r.code, r.err, c.want)
		}
	}
}

// TestInputSizeLimit: an endless or huge input is refused with a clear
// error, not read until memory runs out: a file, /dev/zero, stdin.
func TestInputSizeLimit(t *testing.T) {
	big := writeFile(t, t.TempDir(), "big.yaml", "# "+strings.Repeat("x", 2<<20)+"\n")
	if r := run(t, "--max-input-mib", "1", "check", "-f", big); r.code != 1 || !strings.Contains(r.stdout, big+": larger than the input size limit of 1 MiB") {
		t.Errorf("big file: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := run(t, "check", "-f", "/dev/zero"); r.code != 1 || !strings.Contains(r.stdout, "/dev/zero: larger than the input size limit of 256 MiB") {
		t.Errorf("/dev/zero: exit %d, stdout %q", r.code, r.stdout)
	}
	t.Setenv("FLOWGATE_MAX_INPUT_MIB", "1")
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = rd
	defer func() { os.Stdin = old }()
	go func() {
		// Endless: only the limit ends the read.
		zeros := bytes.Repeat([]byte{' '}, 64<<10)
		for {
			if _, err := wr.Write(zeros); err != nil {
				return
			}
		}
	}()
	defer rd.Close()
	defer wr.Close()
	if r := run(t, "check", "-f", "-"); r.code != 1 || !strings.Contains(r.stdout, "read -: larger than the input size limit of 1 MiB") {
		t.Errorf("stdin: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestLiveTraceRefusesInvalidInput: trace and verify refuse invalid
// input before touching the bridge (an evaluator without a broken Deny
// would call the bridge wrong), listing every problem, exit 1.
func TestLiveTraceRefusesInvalidInput(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(examples, "seeds/database-allow-backends")
	bad := writeFile(t, dir, "deny.yaml", denyWithBadCIDR)
	for name, args := range map[string][]string{
		"trace":  {"trace", "--from", "prod/backend", "--to", "prod/database", "--port", "8080"},
		"verify": {"verify"},
	} {
		r := run(t, append(args, "--ovsdb", "unix:"+filepath.Join(dir, "no-ovsdb.sock"), "-f", db, "-f", bad)...)
		want := bad + ":1: GlobalNetworkPolicy deny-all: spec.ingress[1].source.nets[0]"
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "OVSDB") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1, nothing, the problem, and the bridge untouched", name, r.code, r.stdout, r.stderr)
		}
	}
}
