package files

import "github.com/flowgate/flowgate/translator/decode"

// Format is what a Source reads: which files of a directory, how one
// file's content is decoded, and how the decoded files together become
// the objects in force. Policy YAML needs nothing of the files together;
// Neutron's JSON does (a rule's remote group names ports in another file),
// which is why the last step sees every file at once.
type Format struct {
	// Match picks the files a directory path stands for.
	Match func(name string) bool
	// Decode decodes one file. With any error the file's last good state
	// stays in force and the errors are reported.
	Decode func(name string, data []byte) (state any, errs []error)
	// Combine turns every file's last good state, in file name order, into
	// the objects in force; its errors are problems of the whole input,
	// reported beside the files' own.
	Combine func(states []any) ([]decode.Object, []error)
	// Keys names the objects a decoded state defines (kind/namespace/name),
	// or is nil where objects have no names of their own. With Keys, a
	// file whose new content defines an object another file already
	// defines is refused like a broken file: its last good state stays, so
	// an object in force is never silently replaced or dropped.
	Keys func(state any) []string
	// Forget, when set, is told that a file is gone, so that what Decode
	// remembers of it (PolicyFormat's decode.Decoder) goes too.
	Forget func(name string)
}

// ObjectKey is how Keys names a decoded object: kind, namespace, name.
func ObjectKey(o decode.Object) string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// PolicyFormat is policy and endpoint YAML (and JSON): each file's
// objects stand on their own. A file read again is validated only in the
// documents whose bytes changed (decode.Decoder).
func PolicyFormat() Format {
	dec := decode.NewDecoder()
	return Format{
		Match: IsPolicyFile,
		Decode: func(name string, data []byte) (any, []error) {
			objs, errs := dec.Decode(name, data)
			return objs, errs
		},
		Forget: dec.Forget,
		Combine: func(states []any) ([]decode.Object, []error) {
			n := 0
			for _, s := range states {
				n += len(s.([]decode.Object))
			}
			objs := make([]decode.Object, 0, n)
			for _, s := range states {
				objs = append(objs, s.([]decode.Object)...)
			}
			return objs, nil
		},
		Keys: func(state any) []string {
			objs := state.([]decode.Object)
			keys := make([]string, len(objs))
			for i, o := range objs {
				keys[i] = ObjectKey(o)
			}
			return keys
		},
	}
}
