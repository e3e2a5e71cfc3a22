package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/endpoints/state"
)

func policyNamed(name string) string { return strings.Replace(goodPolicy, "allow-web", name, 1) }

func names(snap Snapshot) string {
	var n []string
	for _, o := range snap.Objects {
		n = append(n, o.Name)
	}
	return strings.Join(n, ",")
}

// TestSourceUsesSavedStateAtStart: a source started while a file is
// broken enforces the file's last good content saved by an earlier one;
// without a saved state the file makes the snapshot incomplete; a file
// deleted while no source ran is forgotten.
func TestSourceUsesSavedStateAtStart(t *testing.T) {
	dir, stateDir := t.TempDir(), t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte(policyNamed("p-a")), 0o644)
	os.WriteFile(b, []byte(policyNamed("p-b")), 0o644)
	open := func() *Source {
		st, err := state.Open(stateDir)
		if err != nil {
			t.Fatal(err)
		}
		src := newTestSource(dir)
		src.Persist(st)
		return src
	}
	if snap := open().Read(); names(snap) != "p-a,p-b" {
		t.Fatalf("first run: %+v", snap)
	}
	// Stopped; a is broken and b deleted meanwhile.
	os.WriteFile(a, []byte(policyNamed("p-a2")+"  bogus: 1\n"), 0o644)
	os.Remove(b)
	snap := open().Read()
	if names(snap) != "p-a" || len(snap.Problems) != 1 || len(snap.Incomplete) != 0 {
		t.Fatalf("started with a broken file: want its saved state p-a, got %+v", snap)
	}
	os.WriteFile(b, []byte(policyNamed("p-b")+"  bogus: 1\n"), 0o644)
	if snap := open().Read(); names(snap) != "p-a" || len(snap.Incomplete) != 1 || !strings.Contains(snap.Incomplete[0].Error(), "b.yaml") {
		t.Fatalf("b's saved state must be gone with b: %+v", snap)
	}
	// No state directory at all: a broken file is incomplete.
	src := newTestSource(dir)
	snap = src.Read()
	if len(snap.Incomplete) != 2 || len(snap.Objects) != 0 {
		t.Fatalf("no state directory: %+v", snap)
	}
	os.WriteFile(a, []byte(policyNamed("p-a3")), 0o644)
	os.Remove(b)
	if snap := src.Read(); names(snap) != "p-a3" || len(snap.Incomplete) != 0 {
		t.Fatalf("fixed: %+v", snap)
	}
}

// TestSourceRefusesDuplicateNewcomer: a file whose new content defines an
// object another file has in force is refused like a broken file (its
// last good state stays); once the other definition is gone it is taken.
// Across a restart, the saved states say which file had the object.
func TestSourceRefusesDuplicateNewcomer(t *testing.T) {
	dir, stateDir := t.TempDir(), t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	open := func() *Source {
		st, _ := state.Open(stateDir)
		src := newTestSource(dir)
		src.Persist(st)
		return src
	}
	os.WriteFile(b, []byte(policyNamed("x")), 0o644)
	src := open()
	if snap := src.Read(); names(snap) != "x" {
		t.Fatalf("first read: %+v", snap)
	}
	// a (read first, by name) now defines x too: a is the newcomer.
	os.WriteFile(a, []byte(policyNamed("p-y")+"---\n"+policyNamed("x")), 0o644)
	snap := src.Read()
	if names(snap) != "x" || len(snap.Incomplete) != 1 || !strings.Contains(snap.Incomplete[0].Error(), "already defined in "+b) {
		t.Fatalf("duplicate newcomer: %+v", snap)
	}
	// A restart reads a first, but b's saved state still owns x.
	src = open()
	if snap := src.Read(); names(snap) != "x" || len(snap.Incomplete) != 1 {
		t.Fatalf("duplicate newcomer after restart: %+v", snap)
	}
	os.WriteFile(a, []byte(policyNamed("p-y")), 0o644)
	if snap := src.Read(); names(snap) != "p-y,x" || len(snap.Incomplete)+len(snap.Problems) != 0 {
		t.Fatalf("conflict removed: %+v", snap)
	}
	// One file defining an object twice is refused as well.
	os.WriteFile(a, []byte(policyNamed("p-y")+"---\n"+policyNamed("p-y")), 0o644)
	if snap := src.Read(); names(snap) != "p-y,x" || len(snap.Problems) != 1 || !strings.Contains(snap.Problems[0].Error(), "defined twice in this file") {
		t.Fatalf("duplicate within a file: %+v", snap)
	}
	os.WriteFile(a, []byte(policyNamed("p-y")), 0o644)
	src.Read()
	// a takes x over by b dropping it in the same change: refused first,
	// then taken as soon as b's new content frees it.
	os.WriteFile(a, []byte(policyNamed("p-y")+"---\n"+policyNamed("x")), 0o644)
	os.WriteFile(b, []byte(policyNamed("p-z")), 0o644)
	if snap := src.Read(); names(snap) != "p-y,x,p-z" || len(snap.Problems) != 0 {
		t.Fatalf("object moved between files: %+v", snap)
	}
}

// TestWatchNeverSeesPartialWrite: a file rewritten in place (truncated,
// then written in two chunks with a pause longer than every settle time
// and poll interval between them) is never read half written: the first
// chunk alone is valid YAML with one object fewer.
func TestWatchNeverSeesPartialWrite(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	whole := policyNamed("first") + "---\n" + policyNamed("second")
	os.WriteFile(f, []byte(whole), 0o644)
	time.Sleep(2 * PollQuiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := NewSource([]string{dir}).Watch(ctx, 50*time.Millisecond)
	if snap := <-snaps; names(snap) != "first,second" {
		t.Fatalf("first read: %+v", snap)
	}
	seen := make(chan string, 100)
	go func() {
		for snap := range snaps {
			seen <- names(snap) + " " + problemText(snap.Problems) + problemText(snap.Incomplete)
		}
	}()
	for round := 0; round < 3; round++ {
		println("DEBUG truncating", time.Now().Format("05.000000"))
		w, err := os.OpenFile(f, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		next := strings.Replace(whole, "second", "second-"+string(rune('a'+round)), 1)
		cut := strings.Index(next, "---")
		w.WriteString(next[:cut])
		time.Sleep(maxSettle + 2*PollQuiet)
		w.WriteString(next[cut:])
		w.Close()
		want := "first,second-" + string(rune('a'+round)) + " "
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("round %d: saw %q, want %q", round, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: the complete file was never read", round)
		}
	}
}
