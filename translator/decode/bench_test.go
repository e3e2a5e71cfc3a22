package decode_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/flowgate/flowgate/translator/compiler/scalegen"
	"github.com/flowgate/flowgate/translator/decode"
)

// The decode benchmarks read the scale worlds (translator/compiler/scalegen:
// pods spread over namespaces, policies of every kind) as the agent and
// `flowgate apply` do, from one YAML file of documents and from one JSON
// kind: List (what `kubectl get -o json` writes):
//
//	go test ./translator/decode -run '^$' -bench Decode -benchtime 5x
//
// docs/benchmarks.md ("Decoding") records the runs.

var benchInputs = struct {
	sync.Mutex
	m map[string]benchInput
}{m: map[string]benchInput{}}

type benchInput struct {
	yaml, json []byte
	objects    int
}

// decodeScales are the scenarios: 10k and 50k pods.
var decodeScales = []struct {
	name string
	cfg  scalegen.Config
}{
	{"10k", scalegen.Config{Remote: 10_000, Local: 50, Policies: 1_000}},
	{"50k", scalegen.Config{Remote: 50_000, Local: 50, Policies: 2_000}},
}

// scaleInput generates a scale world's input once per test binary.
func scaleInput(b *testing.B, name string, cfg scalegen.Config) benchInput {
	benchInputs.Lock()
	defer benchInputs.Unlock()
	if in, ok := benchInputs.m[name]; ok {
		return in
	}
	g := scalegen.Generate(1, cfg)
	var y bytes.Buffer
	y.WriteString(g.YAML)
	if err := g.WritePods(&y); err != nil {
		b.Fatal(err)
	}
	objs, errs := decode.Decode("world.yaml", y.Bytes())
	if len(errs) > 0 {
		b.Fatal(errs[0])
	}
	var j bytes.Buffer
	j.WriteString(`{"apiVersion": "v1", "kind": "List", "items": [`)
	for i, o := range objs {
		if i > 0 {
			j.WriteString(",\n")
		}
		j.Write(o.Document)
	}
	j.WriteString("]}\n")
	in := benchInput{yaml: y.Bytes(), json: j.Bytes(), objects: len(objs)}
	benchInputs.m[name] = in
	return in
}

// BenchmarkDecode decodes a whole scale world, as a cold `flowgate apply`
// or agent start does.
func BenchmarkDecode(b *testing.B) {
	for _, sc := range decodeScales {
		for _, format := range []string{"yaml", "json"} {
			b.Run(sc.name+"/"+format, func(b *testing.B) {
				in := scaleInput(b, sc.name, sc.cfg)
				data := in.yaml
				if format == "json" {
					data = in.json
				}
				b.SetBytes(int64(len(data)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					objs, errs := decode.Decode("world."+format, data)
					if len(errs) > 0 || len(objs) != in.objects {
						b.Fatalf("%d objects, %d errors, want %d objects", len(objs), len(errs), in.objects)
					}
				}
				b.ReportMetric(float64(in.objects), "objects")
			})
		}
	}
}

// BenchmarkDecodeOneChanged decodes a whole scale world file again after
// one pod in it changed, with the decode.Decoder the agent's file source
// keeps: only the changed document is validated.
func BenchmarkDecodeOneChanged(b *testing.B) {
	for _, sc := range decodeScales {
		b.Run(sc.name, func(b *testing.B) {
			in := scaleInput(b, sc.name, sc.cfg)
			// Two versions of the file, differing in one pod's address.
			i := bytes.LastIndex(in.yaml, []byte("podIP: "))
			changed := bytes.Clone(in.yaml)
			changed[i+len("podIP: ")] = '9'
			versions := [][]byte{in.yaml, changed}
			d := decode.NewDecoder()
			d.Decode("world.yaml", in.yaml)
			b.SetBytes(int64(len(in.yaml)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				objs, errs := d.Decode("world.yaml", versions[(i+1)%2])
				if len(errs) > 0 || len(objs) != in.objects {
					b.Fatalf("%d objects, %d errors, want %d objects", len(objs), len(errs), in.objects)
				}
			}
		})
	}
}
