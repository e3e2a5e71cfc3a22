package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreRoundTrip: a saved entry loads back whole, is listed, and is
// gone once removed; a later save replaces it.
func TestStoreRoundTrip(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Load("/p/x.yaml"); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	if err := s.Save("/p/x.yaml", []string{"K a"}, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("/p/x.yaml", []string{"K b"}, []byte("two")); err != nil {
		t.Fatal(err)
	}
	e, ok, err := s.Load("/p/x.yaml")
	if !ok || err != nil || string(e.Data) != "two" || e.Keys[0] != "K b" {
		t.Fatalf("load: %+v ok=%v err=%v", e, ok, err)
	}
	if l, errs := s.List(); len(l) != 1 || len(errs) != 0 || l[0].Path != "/p/x.yaml" {
		t.Fatalf("list: %+v %v", l, errs)
	}
	if err := s.Remove("/p/x.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Load("/p/x.yaml"); ok {
		t.Fatal("removed entry still loads")
	}
}

// TestStoreRefusesDamagedEntries: an entry whose content no longer
// matches its checksum is an error, never data; a crash's temporary file
// is removed by Open.
func TestStoreRefusesDamagedEntries(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	if err := s.Save("/p/x.yaml", nil, []byte("content")); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, entryName("/p/x.yaml"))
	b, _ := os.ReadFile(name)
	os.WriteFile(name, []byte(strings.Replace(string(b), `"sha256":"`, `"sha256":"0`, 1)), 0o600)
	if _, ok, err := s.Load("/p/x.yaml"); ok || err == nil {
		t.Fatalf("damaged entry: ok=%v err=%v", ok, err)
	}
	if l, errs := s.List(); len(l) != 0 || len(errs) != 1 {
		t.Fatalf("list of a damaged entry: %+v %v", l, errs)
	}
	os.WriteFile(filepath.Join(dir, tempPrefix+"x"), []byte("half"), 0o600)
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, tempPrefix+"x")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
}

// TestStoreFailedSaveKeepsOldEntry: a save that cannot be written (here
// the directory is gone) is an error counted in Status, and the entry
// that was there stays whole.
func TestStoreFailedSaveKeepsOldEntry(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	s.Save("/p/x.yaml", nil, []byte("old"))
	broken := &Store{dir: filepath.Join(dir, "missing")}
	if err := broken.Save("/p/x.yaml", nil, []byte("new")); err == nil {
		t.Fatal("save into a missing directory succeeded")
	}
	if st := broken.Status(); st.Failures != 1 || st.LastErr == nil {
		t.Fatalf("status after a failed save: %+v", st)
	}
	if e, ok, _ := s.Load("/p/x.yaml"); !ok || string(e.Data) != "old" {
		t.Fatalf("old entry: %+v", e)
	}
	s.Save("/p/x.yaml", nil, []byte("newer"))
	if st := s.Status(); st.LastErr != nil {
		t.Fatalf("status after a good save: %+v", st)
	}
}
