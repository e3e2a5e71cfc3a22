package evaltest

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/flowgate/flowgate/translator/decode"
)

// DecodeFS decodes root in fsys — a file, or every YAML and JSON file of a
// directory (recursively, in path order, as the file source orders one) —
// with the decoder alone.
// Tests of the translator read the example directories through it, so that
// no translator package depends on a source (endpoints/files): the caller
// opens the directory (os.DirFS), this package stays free of I/O.
func DecodeFS(fsys fs.FS, root string) ([]decode.Object, []error) {
	var objs []decode.Object
	var errs []error
	err := fs.WalkDir(fsys, root, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch strings.ToLower(path.Ext(name)) {
		case ".yaml", ".yml", ".json":
		default:
			if name != root {
				return nil
			}
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		o, e := decode.Decode(name, data)
		objs = append(objs, o...)
		errs = append(errs, e...)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return objs, errs
}
