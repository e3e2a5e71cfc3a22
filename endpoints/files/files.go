// Package files is the file source: it reads policy and endpoint YAML from
// files, directories and standard input and hands the documents to the
// translator's decoders.
package files

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowgate/flowgate/translator/decode"
)

// Stdin is the path that means standard input.
const Stdin = "-"

// IsPolicyFile reports whether a directory entry is read: YAML or JSON by
// its extension, not hidden (editors' swap and backup files are skipped).
func IsPolicyFile(name string) bool {
	if isHidden(name) {
		return false
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// isHidden: the base name starts with a dot.
func isHidden(name string) bool { return strings.HasPrefix(filepath.Base(name), ".") }

// Read decodes every path: files as given, directories recursively (YAML
// and JSON files, in name order), "-" from stdin. It returns all valid
// objects and every error; one bad file never hides another.
func Read(paths []string, stdin io.Reader) ([]decode.Object, []error) {
	var objs []decode.Object
	var errs []error
	for _, p := range paths {
		names, err := Expand(p, IsPolicyFile)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range names {
			o, e := ReadFile(name, stdin)
			objs = append(objs, o...)
			errs = append(errs, e...)
		}
	}
	return objs, errs
}

// ReadFile decodes one file ("-" for stdin).
func ReadFile(name string, stdin io.Reader) ([]decode.Object, []error) {
	data, err := ReadInput(name, stdin)
	if err != nil {
		return nil, []error{err}
	}
	return decode.Decode(name, data)
}

// Expand lists the files a path stands for: the file itself, a
// directory's files that match (recursively, in name order, hidden
// directories below it skipped), or "-" for
// standard input. Other readers of user-named paths (the Neutron importer)
// use it with their own match.
func Expand(p string, match func(name string) bool) ([]string, error) {
	if p == Stdin {
		return []string{p}, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var names []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != p && isHidden(path) {
			// ConfigMap volumes keep each version in a "..<timestamp>"
			// directory beside the symlinks to the current one: reading
			// both would define every object twice.
			return filepath.SkipDir
		}
		if !d.IsDir() && match(path) {
			names = append(names, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	sort.Strings(names)
	return names, nil
}
