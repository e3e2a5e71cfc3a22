package files

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/endpoints"
	"github.com/flowgate/flowgate/translator/decode"
)

// Source is a set of policy files and directories read again whenever they
// change. A file that fails to decode is reported and its last good
// objects stay in force, so a typo never loosens or tightens enforcement;
// a deleted file takes its objects with it. Its methods may be called
// from several goroutines (the agent rereads on SIGHUP while watching).
type Source struct {
	mu     sync.Mutex
	paths  []string
	format Format
	files  map[string]fileState
	// pathProblems are the paths the last full read could not list.
	pathProblems []error
	// combined and combineErrs are what format.Combine last made of the
	// files' states; valid until a file's state changes.
	combined    []decode.Object
	combineErrs []error
	combineOK   bool
}

type fileState struct {
	sum     [32]byte
	stat    fileStat // what the file looked like when sum was taken
	settled bool     // stat is trusted (see fileStat)
	state   any      // the last good state (Format.Decode's)
	good    bool     // state was decoded without errors
	errs    []error  // the problems of the current content, if any
}

// fileStat is what a periodic reread compares before reading a file: at
// 100k pods the policy files are tens of megabytes, and reading and
// hashing them every poll interval cost a tenth of a core and grew the
// heap. A change that keeps all of these (same size, same inode, written
// within the filesystem's timestamp granularity) is seen by notification,
// which always reads; and a file is only trusted by its stat once its
// last write was over a second before it was read (statSettled), because
// file times advance in clock ticks, not nanoseconds.
type fileStat struct {
	size  int64
	mtime time.Time
	ino   uint64
	ctime int64
}

// statSettled is how long ago a file must have been written for its stat
// to stand for its content: far more than a clock tick.
const statSettled = time.Second

func statOf(fi os.FileInfo) fileStat {
	st := fileStat{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.ctime = sys.Ino, sys.Ctim.Nano()
	}
	return st
}

// NewSource watches paths of policy YAML (files or directories, read
// recursively).
func NewSource(paths []string) *Source {
	return NewFormatSource(paths, PolicyFormat())
}

// NewFormatSource watches paths of files in the given format.
func NewFormatSource(paths []string, f Format) *Source {
	return &Source{paths: append([]string(nil), paths...), format: f, files: map[string]fileState{}}
}

// Snapshot is the state of a Source after a read: the contract every
// source shares (an alias, so code written against files.Snapshot and
// endpoints.Snapshot is the same).
type Snapshot = endpoints.Snapshot

// Read rereads every path and decodes the files whose content changed.
func (s *Source) Read() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	changed := false
	s.pathProblems = nil
	seen := map[string]bool{}
	for _, p := range s.paths {
		names, err := Expand(p, s.format.Match)
		if err != nil {
			s.pathProblems = append(s.pathProblems, err)
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
			if s.readFile(name, true) {
				changed = true
			}
		}
	}
	for name := range s.files {
		if !seen[name] {
			delete(s.files, name)
			changed = true
		}
	}
	return s.snapshot(changed, start)
}

// ReadFiles rereads only the named files (the ones a change notification
// named; names outside the source's paths are ignored): a file that is
// gone takes its objects with it, one that changed is decoded again. The
// snapshot is of every file, as Read's.
func (s *Source) ReadFiles(names []string) Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	changed := false
	for _, name := range names {
		if key, ok := s.covers(name); ok && s.readFile(key, false) {
			changed = true
		}
	}
	return s.snapshot(changed, start)
}

// covers finds the file name a path of the source gives the file called
// name, if the source reads it: a file path named as such, or a policy
// file below a directory path.
func (s *Source) covers(name string) (string, bool) {
	for _, p := range s.paths {
		if p == Stdin {
			continue
		}
		if filepath.Clean(p) == name {
			return p, true
		}
		if under(name, filepath.Clean(p)) && s.format.Match(name) {
			return name, true
		}
	}
	return "", false
}

// readFile rereads one file into the source's state and reports whether
// the objects in force changed. With trustStat, a known file whose size,
// inode and times are unchanged is not read (see fileStat).
func (s *Source) readFile(name string, trustStat bool) bool {
	st, known := s.files[name]
	fi, err := os.Stat(name)
	if err == nil && trustStat && known && st.errs == nil && st.settled && statOf(fi) == st.stat {
		return false
	}
	var data []byte
	if err == nil {
		data, err = ReadInput(name, nil)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			delete(s.files, name)
			return known
		}
		// Unreadable for now: its last good objects stay, the error is
		// reported, and the next read decodes it whatever its content.
		st.sum, st.errs = [32]byte{}, []error{err}
		s.files[name] = st
		return false
	}
	sum := sha256.Sum256(data)
	if known && st.sum == sum {
		st.stat, st.settled = statOf(fi), time.Since(fi.ModTime()) > statSettled
		s.files[name] = st
		return false
	}
	state, errs := s.format.Decode(name, data)
	st.sum, st.errs, st.stat, st.settled = sum, errs, statOf(fi), time.Since(fi.ModTime()) > statSettled
	changed := false
	if len(errs) == 0 {
		st.state, st.good, changed = state, true, true
	}
	s.files[name] = st
	return changed
}

// snapshot assembles the objects and problems of every file, in name
// order. The files' states are combined again only when one changed.
func (s *Source) snapshot(changed bool, start time.Time) Snapshot {
	snap := Snapshot{Changed: changed, Problems: append([]error(nil), s.pathProblems...)}
	names := make([]string, 0, len(s.files))
	for name := range s.files {
		names = append(names, name)
	}
	sort.Strings(names)
	states := make([]any, 0, len(names))
	for _, name := range names {
		st := s.files[name]
		if st.good {
			states = append(states, st.state)
		}
		snap.Problems = append(snap.Problems, st.errs...)
	}
	if changed || !s.combineOK {
		s.combined, s.combineErrs = s.format.Combine(states)
		s.combineOK = true
	}
	// Clipped, so that a caller appending to it never writes into the cache.
	snap.Objects = s.combined[:len(s.combined):len(s.combined)]
	snap.Problems = append(snap.Problems, s.combineErrs...)
	snap.Took = time.Since(start)
	return snap
}

func under(name, dir string) bool {
	return name == dir || len(name) > len(dir) && name[:len(dir)] == dir && (dir[len(dir)-1] == '/' || name[len(dir)] == '/')
}

// Watch sends a snapshot whenever the objects in force or the problems
// change, starting with the first read. Changes are seen through inotify
// at once (see notifier): only the files an event names are read again,
// unless the event is about directories or symlinks. The paths are also
// reread every interval, which is all there is where notification is
// unavailable (NFS changes made on another host, inotify watches used
// up) and which catches anything notification missed.
func (s *Source) Watch(ctx context.Context, interval time.Duration) <-chan Snapshot {
	ch := make(chan Snapshot, 1)
	// Watch before the first read, so no change falls between the two.
	n, err := newNotifier(s.paths)
	if err != nil {
		logrus.WithError(err).WithField("interval", interval.String()).Warn("no change notification for the policy paths; polling only")
	}
	type batch struct {
		names []string
		all   bool
	}
	var batches chan batch
	if n != nil {
		batches = make(chan batch)
		go func() {
			defer close(batches)
			defer n.close()
			for {
				names, all, ok := n.wait(ctx)
				if !ok {
					return
				}
				select {
				case batches <- batch{names, all}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(ch)
		t := time.NewTicker(interval)
		defer t.Stop()
		snap := s.Read()
		lastProblems := problemText(snap.Problems)
		for {
			select {
			case ch <- snap:
			case <-ctx.Done():
				return
			}
			for {
				select {
				case <-t.C:
					snap = s.Read()
				case b, ok := <-batches:
					if !ok {
						batches = nil // the watcher broke: poll only
						continue
					}
					if b.all {
						snap = s.Read()
					} else {
						snap = s.ReadFiles(b.names)
					}
				case <-ctx.Done():
					return
				}
				if probs := problemText(snap.Problems); snap.Changed || probs != lastProblems {
					lastProblems = probs
					break
				}
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
