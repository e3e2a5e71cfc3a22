package decode

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestJSONWithoutYAMLIsTheSame: a JSON document decoded as it is
// (asJSON) gives the objects, warnings and errors the YAML parser's way
// gives: every document of testdata as JSON, and JSON the fast path must
// refuse or get right (duplicate names, escaped ones, fractions, broken
// JSON, type errors, Lists).
func TestJSONWithoutYAMLIsTheSame(t *testing.T) {
	docs := []string{
		`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "name": "b"}}`,
		`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"x": "1", "y": "2", "x": "3"}}}`,
		`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"x": "1", "\u0078": "3"}}}`,
		`{"apiVersion": "v1", "kind": "List", "items": [], "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}]}`,
		`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 80.0}]}]}, "status": {"podIP": "10.0.0.1"}}`,
		`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 1e2}]}]}, "status": {"podIP": "10.0.0.1"}}`,
		`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": "80"}]}]}, "status": {"podIP": "10.0.0.1"}}`,
		`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n", "labels": {"a": true}}, "spec": {"hostNetwork": false}, "status": {"podIP": "10.0.0.1"}}`,
		`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}, "spec": {"bogus": 1}}`,
		`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"`,
		`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a\"b"}}`,
		`{"apiVersion": "v1", "kind": "Nothing", "metadata": {"name": "a"}}`,
		`["a", "b"]`,
		`{}`,
		`{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": "n"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}], "ingress": [{"ports": [{"port": 80, "endPort": 70}]}]}}`,
	}
	names, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range splitDocuments(data) {
			js, err := yaml.YAMLToJSON(d.data)
			if err != nil {
				t.Fatalf("%s:%d: %v", name, d.line, err)
			}
			docs = append(docs, string(js))
		}
	}
	for _, d := range docs {
		doc := document{line: 3, data: []byte(d)}
		fastObjs, fastErrs := decodeDocument("f.json", doc)
		slowObjs, slowErrs := decodeYAMLDocument("f.json", doc)
		if got, want := errorTexts(fastErrs), errorTexts(slowErrs); !reflect.DeepEqual(got, want) {
			t.Errorf("%.120s\nerrors as JSON: %q\nthrough YAML:   %q", d, got, want)
		}
		if len(fastObjs) != len(slowObjs) {
			t.Errorf("%.120s: %d objects as JSON, %d through YAML", d, len(fastObjs), len(slowObjs))
			continue
		}
		for i := range fastObjs {
			f, s := fastObjs[i], slowObjs[i]
			if f.Origin != s.Origin || f.Kind != s.Kind || f.Namespace != s.Namespace || f.Name != s.Name || !reflect.DeepEqual(f.Value, s.Value) ||
				!reflect.DeepEqual(errorTexts(f.Warnings), errorTexts(s.Warnings)) {
				t.Errorf("%.120s: object %d as JSON %+v, through YAML %+v", d, i, f, s)
			}
		}
	}
}

func errorTexts(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// FuzzScanners: wherever the header and List scanners read valid JSON,
// they read what encoding/json reads.
func FuzzScanners(f *testing.F) {
	for _, s := range []string{
		`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "b", "labels": {"kind": "x"}}}`,
		`{"Kind": "Pod", "kind": "Namespace"}`,
		`{"kind": "Pod", "KIND": "Namespace"}`,
		`{"kind": "P\u006fd", "metadata": {"nAme": "x"}}`,
		`{"kind": 1, "metadata": null}`,
		`{"metadata": {"name": "a", "name": "b"}, "metadata": {"namespace": "c"}}`,
		` { "items" : [ {"a": [1, {"b": "]"}]} , "x\"]" , 3 , null , true ] , "kind" : "List" } `,
		`{"items": null}`,
		`{"items": {}}`,
		`{"items": [], "items": [1]}`,
		`{"Items": [1]}`,
		`{"it\u0065ms": [1]}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		js = bytes.TrimSpace(js)
		if !json.Valid(js) {
			return
		}
		if h, ok := scanHeader(js); ok {
			var want header
			if err := json.Unmarshal(js, &want); err != nil || h != want {
				t.Errorf("%s: header scanned %+v, encoding/json %+v (%v)", js, h, want, err)
			}
		}
		if items, ok := scanItems(js); ok {
			var want struct {
				Items []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatalf("%s: items scanned, encoding/json: %v", js, err)
			}
			if len(items) != len(want.Items) {
				t.Fatalf("%s: %d items scanned, encoding/json %d", js, len(items), len(want.Items))
			}
			for i := range items {
				if !bytes.Equal(items[i], want.Items[i]) {
					t.Errorf("%s: item %d scanned %s, encoding/json %s", js, i, items[i], want.Items[i])
				}
			}
		}
	})
}
