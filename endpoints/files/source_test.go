package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodPolicy = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-web}
spec: {selector: "app == 'web'", ingress: [{action: Allow}]}
`

// newTestSource is a policy source over paths that trusts a file as soon
// as it is written: these tests write files in one go and read them at
// once, which the quiet time (PollQuiet) would otherwise defer.
func newTestSource(paths ...string) *Source {
	s := NewSource(paths)
	s.quiet = 0
	return s
}

// TestSourceKeepsLastGoodState checks the file source's promise: a broken
// file keeps its last good objects in force and is reported; fixing it
// applies the fix; deleting it removes its objects.
func TestSourceKeepsLastGoodState(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(goodPolicy)
	src := newTestSource(dir)
	snap := src.Read()
	if len(snap.Objects) != 1 || len(snap.Problems) != 0 || !snap.Changed {
		t.Fatalf("first read: %+v", snap)
	}
	if snap = src.Read(); snap.Changed {
		t.Fatalf("unchanged file reported as changed")
	}
	write(goodPolicy + "  bogusField: 1\n")
	snap = src.Read()
	if len(snap.Objects) != 1 || len(snap.Problems) == 0 || snap.Changed {
		t.Fatalf("broken file: want last good object kept and a problem, got %+v", snap)
	}
	write(goodPolicy)
	snap = src.Read()
	if len(snap.Objects) != 1 || len(snap.Problems) != 0 {
		t.Fatalf("fixed: %+v", snap)
	}
	os.Remove(f)
	snap = src.Read()
	if len(snap.Objects) != 0 || !snap.Changed {
		t.Fatalf("deleted: %+v", snap)
	}
}

// TestReadFilesRereadsOnlyWhatIsNamed: ReadFiles decodes the named files
// only, ignores names outside the source, drops a deleted file's objects,
// and gives the same snapshot as a full Read.
func TestReadFilesRereadsOnlyWhatIsNamed(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte(goodPolicy), 0o644)
	os.WriteFile(b, []byte(strings.Replace(goodPolicy, "allow-web", "allow-b", 1)), 0o644)
	src := newTestSource(dir)
	if snap := src.Read(); len(snap.Objects) != 2 {
		t.Fatalf("first read: %+v", snap)
	}
	// b changes on disk but only a is named: nothing is reread.
	os.WriteFile(b, []byte(strings.Replace(goodPolicy, "allow-web", "allow-b2", 1)), 0o644)
	if snap := src.ReadFiles([]string{a, "/elsewhere/x.yaml"}); snap.Changed {
		t.Fatalf("unchanged file named: %+v", snap)
	}
	snap := src.ReadFiles([]string{b})
	if !snap.Changed || len(snap.Objects) != 2 || snap.Objects[1].Name != "allow-b2" {
		t.Fatalf("changed file named: %+v", snap.Objects)
	}
	os.WriteFile(a, []byte(goodPolicy+"  bogus: 1\n"), 0o644)
	if snap := src.ReadFiles([]string{a}); snap.Changed || len(snap.Problems) != 1 || len(snap.Objects) != 2 {
		t.Fatalf("broken file: want its last good objects and one problem, got %+v", snap)
	}
	os.Remove(b)
	snap = src.ReadFiles([]string{b})
	if !snap.Changed || len(snap.Objects) != 1 || len(snap.Problems) != 1 {
		t.Fatalf("deleted file: %+v", snap)
	}
	if full := src.Read(); full.Changed || len(full.Objects) != 1 || problemText(full.Problems) != problemText(snap.Problems) {
		t.Fatalf("full read after ReadFiles differs: %+v", full)
	}
}

// TestWatchNotifies: with a poll interval far longer than the test, the
// watcher still sees a file written, a new subdirectory with a file, a
// rename-and-replace save and a ConfigMap-style symlink swap at once.
func TestWatchNotifies(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := NewSource([]string{dir}).Watch(ctx, time.Hour)
	next := func(what string, want ...string) {
		t.Helper()
		select {
		case snap := <-snaps:
			var names []string
			for _, o := range snap.Objects {
				names = append(names, o.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(want) {
				t.Fatalf("%s: objects %v, want %v (problems %v)", what, names, want, snap.Problems)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no snapshot within 5 s (the poll interval is an hour)", what)
		}
	}
	policy := func(name string) []byte { return []byte(strings.Replace(goodPolicy, "allow-web", name, 1)) }
	next("first read")
	os.WriteFile(filepath.Join(dir, "a.yaml"), policy("p-a"), 0o644)
	next("file written", "p-a")
	os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "deeper", "b.yaml"), policy("p-b"), 0o644)
	next("file in a new subdirectory", "p-a", "p-b")
	os.WriteFile(filepath.Join(dir, ".a.yaml.swp"), policy("p-a2"), 0o644)
	os.Rename(filepath.Join(dir, ".a.yaml.swp"), filepath.Join(dir, "a.yaml"))
	next("rename-and-replace save", "p-a2", "p-b")
	// A ConfigMap volume: policy.yaml -> ..data/policy.yaml, ..data -> ..v1;
	// an update writes ..v2 and swaps ..data by renaming a new symlink.
	cm := filepath.Join(dir, "cm")
	os.MkdirAll(filepath.Join(cm, "..v1"), 0o755)
	os.WriteFile(filepath.Join(cm, "..v1", "policy.yml"), policy("p-c1"), 0o644)
	os.Symlink("..v1", filepath.Join(cm, "..data"))
	os.Symlink("..data/policy.yml", filepath.Join(cm, "policy.yml"))
	next("ConfigMap created", "p-a2", "p-c1", "p-b")
	os.MkdirAll(filepath.Join(cm, "..v2"), 0o755)
	os.WriteFile(filepath.Join(cm, "..v2", "policy.yml"), policy("p-c2"), 0o644)
	os.Symlink("..v2", filepath.Join(cm, "..data_tmp"))
	os.Rename(filepath.Join(cm, "..data_tmp"), filepath.Join(cm, "..data"))
	os.RemoveAll(filepath.Join(cm, "..v1"))
	next("ConfigMap swapped", "p-a2", "p-c2", "p-b")
}

// TestReadSeesSameSizeRewrite: a periodic Read that skips files by their
// stat still sees a rewrite of the same size and inode right after a read
// (the times are compared too, and trusted only once a file has been stable
// for statSettled: on filesystems with coarse times both writes can carry
// one mtime).
func TestReadSeesSameSizeRewrite(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	os.WriteFile(f, []byte(strings.Replace(goodPolicy, "allow-web", "name-a", 1)), 0o644)
	src := newTestSource(dir)
	src.Read()
	os.WriteFile(f, []byte(strings.Replace(goodPolicy, "allow-web", "name-b", 1)), 0o644)
	snap := src.Read()
	if !snap.Changed || len(snap.Objects) != 1 || snap.Objects[0].Name != "name-b" {
		t.Fatalf("same-size rewrite not seen: %+v", snap)
	}
}
