package files

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// A Kubernetes ConfigMap (or Secret, or projected) volume keeps each
// version of its files in a hidden "..<timestamp>" directory, points
// "..data" at the current one, and shows each key as a symlink through
// "..data". An update writes a new version directory, renames a new
// "..data" symlink over the old one, and only then creates the links of
// new keys and removes those of keys gone. Listing the links therefore
// can see a key moved from one file to another in neither (the old link
// dangles, the new one is not there yet): half a version. So a directory
// holding "..data" is read as one version: the files of the directory
// "..data" points at, named as their links are.

// dataLink is the symlink to a ConfigMap volume's current version.
const dataLink = "..data"

// versionOf is the directory a ConfigMap volume's "..data" points at, or
// "" if dir is no such volume.
func versionOf(dir string) string {
	target, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil {
		return ""
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(dir, target)
	}
	return target
}

// versioned replaces, in names (Expand's listing of path p), the files of
// every ConfigMap volume directory with the files of its current version:
// it returns each file's name (as its link is named) and, for versioned
// ones, the path to read it from. A volume whose version changed or
// vanished while it was listed (a newer swap) is in unsettled: its files
// are not listed, and must be kept as they are until the next read.
func versioned(p string, names []string, match func(string) bool) (out []string, from map[string]string, unsettled []string) {
	dirs := map[string]bool{filepath.Clean(p): true}
	for _, n := range names {
		dirs[filepath.Dir(n)] = true
	}
	versions := map[string]string{}
	for d := range dirs {
		if v := versionOf(d); v != "" {
			versions[d] = v
		}
	}
	if len(versions) == 0 {
		return names, nil, nil
	}
	from = map[string]string{}
	for _, n := range names {
		if _, ok := versions[filepath.Dir(n)]; !ok {
			out = append(out, n)
		}
	}
	for d, v := range versions {
		var listed []string
		err := filepath.WalkDir(v, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(v, path)
			if name := filepath.Join(d, rel); match(name) {
				listed = append(listed, name)
				from[name] = path
			}
			return nil
		})
		if err != nil || versionOf(d) != v {
			unsettled = append(unsettled, d)
			for _, name := range listed {
				delete(from, name)
			}
			continue
		}
		out = append(out, listed...)
	}
	sort.Strings(out)
	return out, from, unsettled
}
