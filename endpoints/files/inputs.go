package files

import (
	"io"

	"github.com/flowgate/flowgate/translator/decode"
)

// Input is one input file's content as read, or why it could not be read.
// `flowgate apply` reads its inputs first and decodes them after, so that
// it can fingerprint exactly the bytes it would enforce and skip decoding
// when the bridge already holds what they compile to.
type Input struct {
	Name string
	Data []byte
	Err  error
}

// ReadInputs reads every file paths name (directories recursively, as
// Read), in Read's order. An Input with Err set is a path or file that
// could not be read.
func ReadInputs(paths []string, stdin io.Reader) []Input {
	var ins []Input
	for _, p := range paths {
		names, err := Expand(p, IsPolicyFile)
		if err != nil {
			ins = append(ins, Input{Name: p, Err: err})
			continue
		}
		for _, name := range names {
			data, err := ReadInput(name, stdin)
			ins = append(ins, Input{Name: name, Data: data, Err: err})
		}
	}
	return ins
}

// DecodeInputs decodes what ReadInputs read; the objects and problems are
// Read's for the same files.
func DecodeInputs(ins []Input) ([]decode.Object, []error) {
	var objs []decode.Object
	var errs []error
	for _, in := range ins {
		if in.Err != nil {
			errs = append(errs, in.Err)
			continue
		}
		o, e := decode.Decode(in.Name, in.Data)
		objs = append(objs, o...)
		errs = append(errs, e...)
	}
	return objs, errs
}
