package neutron

import (
	"bytes"
	"os"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
)

// FuzzImport: no input makes the import panic, and whatever it accepts
// becomes YAML that flowgate's decoders accept without a single problem
// (the import never writes policy its own tools would refuse).
func FuzzImport(f *testing.F) {
	for _, name := range append(append([]string(nil), twoTenants...), "testdata/osc/security-groups.json", "testdata/osc/port-list-long.json") {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(groupWith(`"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp", "port_range_min": 0, "port_range_max": 0`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, _ := Decode("fuzz.json", data)
		im, _ := Convert(in)
		im.Objects()
		var b bytes.Buffer
		if err := im.WriteYAML(&b); err != nil {
			t.Fatal(err)
		}
		objs, errs := decode.Decode("import.yaml", b.Bytes())
		if len(errs) > 0 {
			t.Fatalf("the import wrote YAML flowgate refuses: %v\n%s", errs, b.String())
		}
		if _, errs := decode.Build(objs); len(errs) > 0 {
			t.Fatalf("the import wrote YAML flowgate refuses: %v", errs)
		}
	})
}
