package neutron

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
)

// fuzzNeutronSeeds are the sample exports and a rule with every optional
// field.
func fuzzNeutronSeeds(f *testing.F) {
	for _, name := range append(append([]string(nil), twoTenants...), "testdata/osc/security-groups.json", "testdata/osc/port-list-long.json") {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(groupWith(`"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp", "port_range_min": 0, "port_range_max": 0`)))
}

// FuzzConvert: no Neutron JSON makes decoding or converting it panic, and
// every problem names the file. It stops at the objects (FuzzImport also
// writes and rereads the YAML), so it runs several times as many inputs.
func FuzzConvert(f *testing.F) {
	fuzzNeutronSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, errs := Decode("fuzz.json", data)
		im, cerrs := Convert(in)
		for _, err := range append(errs, cerrs...) {
			if !strings.HasPrefix(err.Error(), "fuzz.json") {
				t.Fatalf("error %q does not name the file", err)
			}
		}
		im.Objects()
	})
}

// FuzzImport: no input makes the import panic, and whatever it accepts
// becomes YAML that flowgate's decoders accept without a single problem
// (the import never writes policy its own tools would refuse).
func FuzzImport(f *testing.F) {
	fuzzNeutronSeeds(f)
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
