package files

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConfigMapVersionReadWhole: a ConfigMap volume update that moves an
// object from one key to another, read right after the "..data" swap —
// before the kubelet made the new key's link and removed the old one —
// still has the object (the version is read, not the links), named as
// its key's link.
func TestConfigMapVersionReadWhole(t *testing.T) {
	dir := t.TempDir()
	version := func(name, file, policy string) {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		os.WriteFile(filepath.Join(dir, name, file), []byte(policyNamed(policy)), 0o644)
	}
	version("..v1", "a.yaml", "moving")
	os.Symlink("..v1", filepath.Join(dir, "..data"))
	os.Symlink("..data/a.yaml", filepath.Join(dir, "a.yaml"))
	src := newTestSource(dir)
	if snap := src.Read(); names(snap) != "moving" || len(snap.Problems) != 0 {
		t.Fatalf("v1: %+v", snap)
	}
	// v2 has the object under b.yaml; swapped in, links not yet updated:
	// a.yaml dangles, b.yaml is missing.
	version("..v2", "b.yaml", "moving")
	os.Symlink("..v2", filepath.Join(dir, "..data_tmp"))
	os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data"))
	os.RemoveAll(filepath.Join(dir, "..v1"))
	snap := src.Read()
	if names(snap) != "moving" || len(snap.Problems)+len(snap.Incomplete) != 0 {
		t.Fatalf("right after the swap: %+v", snap)
	}
	if _, ok := src.files[filepath.Join(dir, "b.yaml")]; !ok {
		t.Fatalf("the file is not named as its key's link: %v", src.files)
	}
}
