package agent

import (
	"bytes"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/neutron"
)

// IsNeutronFile picks a directory's Neutron JSON: *.json, not hidden
// (the atomic writers' temporary files are hidden).
func IsNeutronFile(name string) bool {
	return !strings.HasPrefix(filepath.Base(name), ".") && strings.EqualFold(filepath.Ext(name), ".json")
}

// ConvertNeutron converts decoded Neutron files together — a rule's remote
// group names ports that may be in any of them. `import openstack` and the
// agent's neutronPaths both go through it, so the agent enforces exactly
// what the import writes.
func ConvertNeutron(inputs []*neutron.Input) (*neutron.Import, []error) {
	in := &neutron.Input{}
	for _, i := range inputs {
		in.Add(i)
	}
	return neutron.Convert(in)
}

// NeutronFormat is the agent's neutronPaths: each file decoded on its own
// (a bad one keeps its last good content, as a policy file does), then all
// converted together. Warnings (defaults assumed, groups named but absent)
// are logged at each conversion; they change nothing enforced.
func NeutronFormat() files.Format {
	return files.Format{
		Match: IsNeutronFile,
		Decode: func(name string, data []byte) (any, []error) {
			in, errs := neutron.Decode(name, data)
			return in, errs
		},
		Combine: func(states []any) ([]decode.Object, []error) {
			inputs := make([]*neutron.Input, len(states))
			for i, s := range states {
				inputs[i] = s.(*neutron.Input)
			}
			im, errs := ConvertNeutron(inputs)
			for _, w := range im.Warnings {
				logrus.WithError(w).Warn("Neutron input")
			}
			return withDocuments(im), errs
		},
	}
}

// withDocuments returns the import's objects, each with the Calico
// document `import openstack` writes for it, so that the agent can serve
// what it enforces (/objects) as it serves policy files. The objects
// themselves stay the native conversion's; the documents decode to the same
// policy (TestImportOpenStackMatrix). An object whose document cannot be
// found keeps none, and /objects then refuses to answer.
func withDocuments(im *neutron.Import) []decode.Object {
	objs := im.Objects()
	var b bytes.Buffer
	if err := im.WriteYAML(&b); err != nil {
		logrus.WithError(err).Warn("Neutron input: no documents to serve on /objects")
		return objs
	}
	docs, _ := decode.Decode("neutron", b.Bytes())
	byRef := make(map[string][]byte, len(docs))
	for _, d := range docs {
		byRef[d.Ref()] = d.Document
	}
	for i := range objs {
		objs[i].Document = byRef[objs[i].Ref()]
	}
	return objs
}
