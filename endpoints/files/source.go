package files

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"sort"
	"time"

	"github.com/flowgate/flowgate/translator/decode"
)

// Source is a set of policy files and directories read again whenever they
// change. A file that fails to decode is reported and its last good
// objects stay in force, so a typo never loosens or tightens enforcement;
// a deleted file takes its objects with it.
type Source struct {
	paths []string
	files map[string]fileState
}

type fileState struct {
	sum     [32]byte
	objects []decode.Object // the last good objects
	errs    []error         // the problems of the current content, if any
}

// NewSource watches paths (files or directories, read recursively).
func NewSource(paths []string) *Source {
	return &Source{paths: append([]string(nil), paths...), files: map[string]fileState{}}
}

// Snapshot is the state of a Source after a read.
type Snapshot struct {
	// Objects are every file's objects in force, in file order.
	Objects []decode.Object
	// Problems are the current problems: unreadable paths and files whose
	// last good objects are kept in force instead.
	Problems []error
	// Changed reports whether the objects in force changed since the
	// previous read.
	Changed bool
}

// Read rereads what changed and returns the objects in force.
func (s *Source) Read() Snapshot {
	var snap Snapshot
	seen := map[string]bool{}
	for _, p := range s.paths {
		names, err := Expand(p, IsPolicyFile)
		if err != nil {
			snap.Problems = append(snap.Problems, err)
			// Keep what this path had: a directory briefly missing during a
			// rename must not drop every policy in it.
			for name := range s.files {
				if under(name, p) {
					seen[name] = true
				}
			}
			continue
		}
		for _, name := range names {
			seen[name] = true
			data, err := os.ReadFile(name)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					seen[name] = false
					continue
				}
				snap.Problems = append(snap.Problems, err)
				continue
			}
			sum := sha256.Sum256(data)
			st, known := s.files[name]
			if known && st.sum == sum {
				snap.Problems = append(snap.Problems, st.errs...)
				continue
			}
			objs, errs := decode.Decode(name, data)
			st.sum = sum
			st.errs = errs
			if len(errs) == 0 {
				st.objects = objs
				snap.Changed = true
			}
			s.files[name] = st
			snap.Problems = append(snap.Problems, errs...)
		}
	}
	for name := range s.files {
		if !seen[name] {
			delete(s.files, name)
			snap.Changed = true
		}
	}
	names := make([]string, 0, len(s.files))
	for name := range s.files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		snap.Objects = append(snap.Objects, s.files[name].objects...)
	}
	return snap
}

func under(name, dir string) bool {
	return name == dir || len(name) > len(dir) && name[:len(dir)] == dir && (dir[len(dir)-1] == '/' || name[len(dir)] == '/')
}

// Watch rereads the source every interval and sends a snapshot whenever
// the objects in force or the problems change, starting with the first
// read. Polling keeps the watcher simple and correct across editors'
// rename-and-replace saves, ConfigMap symlink swaps and NFS.
func (s *Source) Watch(ctx context.Context, interval time.Duration) <-chan Snapshot {
	ch := make(chan Snapshot, 1)
	go func() {
		defer close(ch)
		lastProblems := ""
		first := true
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			snap := s.Read()
			probs := problemText(snap.Problems)
			if first || snap.Changed || probs != lastProblems {
				first, lastProblems = false, probs
				select {
				case ch <- snap:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

func problemText(errs []error) string {
	s := ""
	for _, e := range errs {
		s += e.Error() + "\n"
	}
	return s
}
