package decode_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
)

// fuzzSeeds are every example and test-data file, and every bad input.
func fuzzSeeds(f *testing.F) {
	for _, root := range []string{"../../examples", "testdata"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
				return err
			}
			data, err := os.ReadFile(path)
			if err == nil {
				f.Add(data)
			}
			return err
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	for _, c := range badInputs {
		f.Add([]byte(c.yaml))
	}
	f.Add([]byte("---\n---\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]}`))
}

// FuzzDecode: decoding never panics, is deterministic, and every problem
// (and every warning) is a *decode.Error naming the file, a line inside it
// and an object; Build
// never panics either and is deterministic too.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, errs := decode.Decode("fuzz.yaml", data)
		objs2, errs2 := decode.Decode("fuzz.yaml", data)
		if !reflect.DeepEqual(objs, objs2) {
			t.Fatalf("decoding twice gave different objects")
		}
		if msgs(errs) != msgs(errs2) {
			t.Fatalf("decoding twice gave different errors:\n%s\n---\n%s", msgs(errs), msgs(errs2))
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, err := range errs {
			var de *decode.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is a %T", err, err)
			}
			if de.File != "fuzz.yaml" || de.Line < 1 || de.Line > lines || de.Object == "" || de.Err == nil {
				t.Fatalf("badly located error: %#v", de)
			}
			_ = de.Error()
		}
		for _, o := range objs {
			for _, w := range o.Warnings {
				var de *decode.Error
				if !errors.As(w, &de) || de.File != "fuzz.yaml" || de.Line != o.Origin.Line || de.Object == "" || de.Field == "" || de.Err == nil {
					t.Fatalf("badly located warning %#v", w)
				}
			}
			if o.Value == nil || o.Name == "" || o.Kind == "" || o.Origin.Line < 1 || o.Origin.Line > lines {
				t.Fatalf("bad object %+v", o)
			}
		}
		w, berrs := decode.Build(objs)
		w2, berrs2 := decode.Build(objs)
		if !reflect.DeepEqual(w, w2) || msgs(berrs) != msgs(berrs2) {
			t.Fatalf("building twice gave different worlds")
		}
		// Nothing is lost: every object is in the world or has an error.
		// The default tier exists anyway; a Tier object named default
		// replaces it.
		tiers := len(w.Tiers) - 1
		for _, o := range objs {
			if o.Kind == "Tier" && o.Name == "default" {
				tiers++
				break
			}
		}
		if kept := len(w.Policies) + len(w.Staged) + len(w.Endpoints) + len(w.NetworkSets) + len(w.Namespaces) + len(w.ServiceAccounts) + tiers; kept+len(berrs) != len(objs) {
			t.Fatalf("%d objects became %d in the world and %d errors", len(objs), kept, len(berrs))
		}
	})
}

func msgs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}
