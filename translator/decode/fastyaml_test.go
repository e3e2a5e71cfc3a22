package decode

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// checkFastYAML fails t when the fast path takes data and says anything
// other than what YAMLToJSONStrict says of it; it reports whether the fast
// path took it.
func checkFastYAML(t testing.TB, data []byte) bool {
	t.Helper()
	got, ok := fastYAMLToJSON(data)
	if !ok {
		return false
	}
	want, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("fast path took YAML the parser refuses (%v):\n%s\nfast: %s", err, data, got)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("fast path differs from the YAML parser for:\n%s\nfast:   %s\nparser: %s", data, got, want)
	}
	return true
}

// TestFastYAMLAgreesOnRepositoryYAML runs every YAML document of the
// repository's examples and test data through both paths. It also fails
// when the fast path takes too few of them: a fast path that declines
// everything would be correct and useless.
func TestFastYAMLAgreesOnRepositoryYAML(t *testing.T) {
	var docs, taken int
	for _, root := range []string{"testdata", "../../examples", "../../integration/testdata", "../compiler/testdata", "../evaluator"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, doc := range splitDocuments(data) {
				docs++
				if checkFastYAML(t, doc.data) {
					taken++
				}
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	t.Logf("%d of %d documents taken by the fast path", taken, docs)
	if docs < 100 || taken*2 < docs {
		t.Fatalf("fast path took %d of %d documents; want at least half", taken, docs)
	}
}

// TestFastYAMLScalars covers the scalars YAML 1.1 resolves to something
// other than a string, quoting, comments and layouts: each is either
// declined or converted exactly as the YAML parser converts it, and the
// common shapes are taken.
func TestFastYAMLScalars(t *testing.T) {
	values := []string{
		"a", "app-1", "10.128.0.3", "10.0.0.0/8", "5432", "0", "-1", "-0", "+1", "010", "0x1F", "0o17", "0b101", "-0b1",
		"1_000", "1e3", "1.5", ".5", "1.", "-.inf", ".nan", ".NaN", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "1234-x",
		"y", "Y", "n", "yes", "No", "on", "OFF", "true", "False", "null", "Null", "~", "<<", "a: b", "a #c", "a#b", "a:",
		"http://x", "'it''s'", "'a'b'", "''", `""`, `"a b"`, `"a\"b"`, `"a\nb"`, `"<&>"`, "<&>", "{}", "[]", "{a: 1}",
		"[1, 2]", "- a", "-a", "-", "?", ":", "*x", "&x", "!!str 1", "|", ">", "%x", "@x", "`x", "9223372036854775807",
		"9223372036854775808", "18446744073709551616", "-9223372036854775808", "1.2.3", "0.0.0.0", "00", "1e", "e1",
		"Infinity", "inf", "NaN", "a  b", "TCP", "ns-0195/pod-006795",
	}
	var taken []string
	for _, v := range values {
		for _, doc := range []string{
			"k: " + v + "\n",
			"k:\n- " + v + "\n",
			"k:\n  - " + v + "\n  - x\n",
			"a:\n  b: " + v + "\n  c: d\n",
		} {
			if checkFastYAML(t, []byte(doc)) {
				taken = append(taken, v)
			}
		}
	}
	for _, v := range []string{"a", "10.128.0.3", "5432", "-1", "true", "null", "'it''s'", `"<&>"`, "{}", "[]", "TCP"} {
		if !strings.Contains(strings.Join(taken, "\x00")+"\x00", v+"\x00") {
			t.Errorf("fast path declined %q", v)
		}
	}
	for _, doc := range []string{
		"a: 1\na: 2\n", "a:\n  b: 1\n c: 2\n", "a:\n    b: 1\n  c: 2\n", "a: b\n  c\n", "- a\n- b\n", "a:\n- b\n- c\nd: e\n",
		"a:\n-\n  b: 1\n- c\n", "a:\n  -   b: 1\n      c: 2\n", "a:\n  - b: 1\n   c: 2\n", "a: 1 # c\n", "# only\n", "a:\tb\n",
		"a:\n  - - b\n", "a: |\n  x\n", "a: >\n  x\n", "a: 'x\n  y'\n", "a: \"x\n  y\"\n", "a:\n\n  b: 1\n\n", "a:\r\n  b: 1\r\n",
		"a:\n  b:\n  c:\n", "on: 1\n", "y: 1\n", "1: a\n", "\"a\": b\n", "a b: c\n", "a: b: c\n", "...\n", "%YAML 1.1\n",
		"a: é\n", "a:\n  - b\n  -\n  - c\n", "metadata:\n  labels:\n    kubernetes.io/metadata.name: ns-0002\n",
	} {
		checkFastYAML(t, []byte(doc))
	}
}

// FuzzFastYAML: whatever the fast path takes, it converts exactly as the
// YAML parser does.
func FuzzFastYAML(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: n\n  labels:\n    app: a\nspec:\n  nodeName: node-1\nstatus:\n  podIP: 10.0.0.1\n  podIPs:\n  - ip: 10.0.0.1\n",
		"spec:\n  podSelector: {}\n  policyTypes:\n  - Ingress\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          team: team-1\n    ports:\n    - protocol: TCP\n      port: 5432\n",
		"a: 'x'\nb: \"y\"\nc: ~\nd: true\ne:\n-\n  f: 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastYAML(t, data)
	})
}

// BenchmarkFastYAMLPod converts one pod document as kubectl writes it.
func BenchmarkFastYAMLPod(b *testing.B) {
	doc := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-006795\n  namespace: ns-0195\n  labels:\n    app: app-4\n    tier: backend\nspec:\n  nodeName: node-1\n  containers:\n  - name: c\n    image: registry.k8s.io/pause:3.9\nstatus:\n  podIP: 10.128.0.3\n  podIPs:\n  - ip: 10.128.0.3\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := fastYAMLToJSON(doc); !ok {
			b.Fatal("declined")
		}
	}
}

// TestYAMLStyleFloat: the hand-written matcher accepts exactly what
// go-yaml v2's regular expression accepts.
func TestYAMLStyleFloat(t *testing.T) {
	re := regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
	for _, s := range []string{"", "1", "-1", "+1", "1.", "1.5", ".5", "-.5", ".", "-", "+", "1e5", "1E-5", "1.5e+5", "1e", "e1", ".e1",
		"1.2.3", "10.128.0.3", "1_0", "0x1", "1e5x", "--1", "1..", ".5.", "5e5e5", "0.0", "00.00e00"} {
		if got, want := yamlStyleFloat(s), re.MatchString(s); got != want {
			t.Errorf("yamlStyleFloat(%q) = %t, the regexp says %t", s, got, want)
		}
	}
}

// TestFastYAMLAllocations guards the fast path's allocations per pod
// document (50,000 at OVN's scenario): 98 before its parser kept entries
// on stacks and scalars as substrings, 36 after.
func TestFastYAMLAllocations(t *testing.T) {
	doc := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-006795\n  namespace: ns-0195\n  labels:\n    app: app-4\n    tier: backend\nspec:\n  nodeName: node-1\n  containers:\n  - name: c\n    image: registry.k8s.io/pause:3.9\nstatus:\n  podIP: 10.128.0.3\n  podIPs:\n  - ip: 10.128.0.3\n")
	if allocs := testing.AllocsPerRun(100, func() { fastYAMLToJSON(doc) }); allocs > 40 {
		t.Errorf("fastYAMLToJSON of a pod: %.0f allocations, want at most 40", allocs)
	}
}
