package files

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/endpoints"
	"github.com/flowgate/flowgate/endpoints/state"
	"github.com/flowgate/flowgate/translator/decode"
)

// Source is a set of policy files and directories read again whenever they
// change. A file that fails to decode is reported and its last good
// objects stay in force, so a typo never loosens or tightens enforcement;
// a deleted file takes its objects with it. A file being written (in
// place: truncated, then written) is not read until it is complete
// (readStable). With a store (Persist), each file's last good content is
// also kept on disk, so that a broken file keeps its last good objects
// across restarts too. Its methods may be called from several goroutines
// (the agent rereads on SIGHUP while watching).
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

	// store keeps each file's last good content on disk (nil: memory only).
	store *state.Store
	// saved is what the store held when the source started, until the
	// first full read has matched it with the files (then nil).
	saved map[string]state.Entry
	// loaded: the store was listed.
	loaded bool
	// owners maps every object key (Format.Keys) in force to its file,
	// reserved at start from the store's entries.
	owners map[string]string
	// notify is the change notifier, once Watch started one.
	notify *notifier
	// deferred are files skipped as still being written: read again soon.
	deferred map[string]bool
	// unsettled: the last full read could not list a ConfigMap volume it
	// had nothing of yet (swapped again and again); its snapshot is
	// incomplete.
	unsettled bool
	// from maps the files of ConfigMap volumes to their current version's
	// path (versioned), as the last full read listed them.
	from map[string]string
	// quiet is PollQuiet (tests of other things shorten it).
	quiet time.Duration
}

type fileState struct {
	sum     [32]byte
	stat    fileStat // what the file looked like when sum was taken
	settled bool     // stat is trusted (see fileStat)
	state   any      // the last good state (Format.Decode's)
	keys    []string // Format.Keys of state, or the store's for a file not yet decoded
	good    bool     // state was decoded without errors
	errs    []error  // the problems of the current content, if any
	// busy: the current content is being written and was not read.
	busy bool
	// pending is good new content refused because it defines an object
	// another file defines; adopted once that conflict is gone.
	pending *decoded
	// recalled: the store was asked for this file's last good content.
	recalled bool
	// savedSum is the content the store holds; failedSum the content
	// whose save failed last (reported once), unsaved that content, saved
	// again at every full read (retrySaves).
	savedSum, failedSum [32]byte
	unsaved             *decoded
}

// decoded is one good content of a file.
type decoded struct {
	state any
	keys  []string
	data  []byte
	sum   [32]byte
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
	return &Source{paths: append([]string(nil), paths...), format: f, files: map[string]fileState{},
		owners: map[string]string{}, deferred: map[string]bool{}, from: map[string]string{}, quiet: PollQuiet}
}

// Persist keeps every file's last good content in store, and uses what
// the store holds for files that are broken when the source starts. Call
// it before the first read.
func (s *Source) Persist(store *state.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store = store
}

// Snapshot is the state of a Source after a read: the contract every
// source shares (an alias, so code written against files.Snapshot and
// endpoints.Snapshot is the same).
type Snapshot = endpoints.Snapshot

// Read rereads every path and decodes the files whose content changed.
func (s *Source) Read() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read()
}

func (s *Source) read() Snapshot {
	start := time.Now()
	s.unsettled = false
	s.load()
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
			for name := range s.saved {
				if under(name, p) {
					seen[name] = true
				}
			}
			continue
		}
		listed := names
		names, from, unsettled := versioned(p, listed, s.format.Match)
		for try := 0; len(unsettled) > 0 && try < 5; try++ {
			time.Sleep(settle / 4)
			names, from, unsettled = versioned(p, listed, s.format.Match)
		}
		for _, d := range unsettled {
			// Swapped again and again while listed: what it had stays,
			// and it is read again in a moment; with nothing yet, the
			// snapshot is incomplete.
			known := false
			for name := range s.files {
				if filepath.Dir(name) == d {
					seen[name] = true
					s.deferred[name] = true
					known = true
				}
			}
			for name := range s.saved {
				if filepath.Dir(name) == d {
					seen[name] = true // its saved state is no deleted file's
				}
			}
			if !known {
				s.pathProblems = append(s.pathProblems, fmt.Errorf("read %s: its ConfigMap version changed while it was read: %w", d, ErrBeingWritten))
				s.unsettled = true
			}
		}
		for _, name := range names {
			seen[name] = true
			if from[name] != "" {
				s.from[name] = from[name]
			} else {
				delete(s.from, name)
			}
			if s.readFile(name, true) {
				changed = true
			}
		}
	}
	for name, st := range s.files {
		if !seen[name] {
			s.drop(name, st)
			changed = changed || st.good
		}
	}
	s.forgetDeleted(seen)
	s.retrySaves()
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
	s.load()
	changed := false
	for _, name := range names {
		if s.from[name] != "" || versionOf(filepath.Dir(name)) != "" {
			// A ConfigMap volume's file: its version is read whole.
			return s.read()
		}
	}
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
		if filepath.Clean(p) == name || p == name {
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
	if !known {
		st = s.newFileState(name)
	}
	// path is where the content is: the file, or a ConfigMap volume's
	// current version of it (versioned).
	path, version := name, s.from[name] != ""
	if version {
		path = s.from[name]
	}
	fi, err := os.Stat(path)
	if err == nil && trustStat && known && st.errs == nil && !st.busy && st.settled && statOf(fi) == st.stat {
		return false
	}
	var data []byte
	leased := false
	if err == nil {
		data, fi, leased, err = s.readStable(path, fi, version)
	}
	if version && errors.Is(err, os.ErrNotExist) {
		// The version was replaced while it was read: the swap's event
		// brings the next one. Not a deleted file.
		err = ErrBeingWritten
	}
	switch {
	case errors.Is(err, ErrBeingWritten):
		// Not complete yet: whatever is in force for it stays, and it is
		// read again once its writer is done (deferred, or its close).
		st.busy = true
		s.deferred[name] = true
		return s.keep(name, st)
	case errors.Is(err, os.ErrNotExist):
		delete(s.deferred, name)
		if known {
			s.drop(name, st)
		}
		return known && st.good
	case err != nil:
		// Unreadable for now: its last good objects stay, the error is
		// reported, and the next read decodes it whatever its content.
		delete(s.deferred, name)
		st.busy, st.sum, st.errs = false, [32]byte{}, []error{err}
		return s.keep(name, st)
	}
	sum := sha256.Sum256(data)
	if (!known || sum != st.sum) && !leased && !version && !s.confirm(path, fi, len(data) == 0) {
		st.busy = true
		s.deferred[name] = true
		return s.keep(name, st)
	}
	delete(s.deferred, name)
	st.busy = false
	st.stat, st.settled = statOf(fi), time.Since(fi.ModTime()) > statSettled
	if known && st.sum == sum {
		s.files[name] = st
		return false
	}
	state, errs := s.format.Decode(name, data)
	if logrus.IsLevelEnabled(logrus.DebugLevel) {
		logrus.WithFields(logrus.Fields{"file": name, "bytes": len(data), "errors": len(errs),
			"changedAgo": time.Since(changeTime(fi)).String()}).Debug("file read")
	}
	st.sum, st.pending = sum, nil
	if len(errs) > 0 {
		st.errs = errs
		return s.keep(name, st)
	}
	d := &decoded{state: state, data: data, sum: sum}
	if s.format.Keys != nil {
		d.keys = s.format.Keys(state)
	}
	if err := s.duplicate(name, d.keys); err != nil {
		st.errs, st.pending = []error{err}, d
		return s.keep(name, st)
	}
	st.errs = nil
	s.adopt(name, &st, d)
	s.files[name] = st
	return true
}

// ErrBeingWritten marks a file whose content is not complete yet (a
// Snapshot's Incomplete wraps it for a file that has no good state only
// because it is still being written).
var ErrBeingWritten = errors.New("being written")

// PollQuiet is how long a file must have been left alone before it is
// read when no event about it was seen (at start-up, when polling, after
// a symlink swap): with notification a write in progress is known from
// its events, without it only its change time tells.
const PollQuiet = 200 * time.Millisecond

// readStable reads a file only when its content is complete: not being
// written (no IN_MODIFY since its last IN_CLOSE_WRITE), untouched for a
// quiet time before the read (settle, or PollQuiet where its writes may
// have gone unseen), open for writing by no process (readLeased), and
// unchanged across the read (size, inode, times). Otherwise it returns
// ErrBeingWritten. leased says the read was made under a lease: then no
// write was in progress, and confirm is not needed. A ConfigMap volume's
// version (version) is complete before it is swapped in: no quiet time;
// nor is one needed for a file renamed into place and not written since.
func (s *Source) readStable(name string, before os.FileInfo, version bool) (data []byte, after os.FileInfo, leased bool, err error) {
	quiet := s.quiet
	if version {
		quiet = 0 // a ConfigMap version is written whole before it is swapped in
	}
	if s.notify != nil {
		// Every event already queued is read first, so that whole is
		// not trusted past a write that has announced itself.
		s.notify.sync()
		dirty, seen, whole := s.notify.fileState(name)
		if dirty {
			return nil, nil, false, ErrBeingWritten
		}
		if seen && quiet > settle {
			quiet = settle
		}
		if whole {
			quiet = 0 // renamed into place complete, not written since
		}
	}
	if time.Since(changeTime(before)) < quiet {
		return nil, nil, false, ErrBeingWritten
	}
	data, leased, err = readLeased(name)
	if err != nil {
		return nil, nil, false, err
	}
	after, err = os.Stat(name)
	if err != nil {
		return nil, nil, false, err
	}
	if statOf(before) != statOf(after) || int64(len(data)) != after.Size() {
		return nil, nil, false, ErrBeingWritten
	}
	if s.notify != nil {
		// Every write made so far has queued its event: read them all,
		// then ask again (a write that began before the read but whose
		// event was not yet handled would otherwise pass).
		s.notify.sync()
		if dirty, _, _ := s.notify.fileState(name); dirty {
			return nil, nil, false, ErrBeingWritten
		}
	}
	return data, after, leased, nil
}

// confirmWait and confirmEmpty are how long a new content is looked at
// again before it is taken (see confirm): an empty one longer, as the
// moment between a truncate and the first write is the likeliest to be
// caught.
const (
	confirmWait  = time.Millisecond
	confirmEmpty = settle
)

// confirm looks at a file again a moment after reading new content from
// it without a lease (readLeased): a truncate or a write changes the content a moment before it
// updates the file's times and queues its event, so a read can fall in
// between and see both unchanged. It reports whether the file is still
// as it was read (same stat, not being written).
func (s *Source) confirm(name string, read os.FileInfo, empty bool) bool {
	wait := confirmWait
	if empty {
		wait = confirmEmpty
	}
	time.Sleep(wait)
	if s.notify != nil {
		s.notify.sync()
		if dirty, _, _ := s.notify.fileState(name); dirty {
			return false
		}
	}
	now, err := os.Stat(name)
	return err == nil && statOf(now) == statOf(read)
}

// changeTime is the later of a file's modification and change times (a
// rename into place changes only the latter).
func changeTime(fi os.FileInfo) time.Time {
	t := fi.ModTime()
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		if c := time.Unix(sys.Ctim.Sec, sys.Ctim.Nsec); c.After(t) {
			t = c
		}
	}
	return t
}

// snapshot assembles the objects and problems of every file, in name
// order. The files' states are combined again only when one changed.
func (s *Source) snapshot(changed bool, start time.Time) Snapshot {
	snap := Snapshot{Problems: append([]error(nil), s.pathProblems...)}
	names := make([]string, 0, len(s.files))
	for name := range s.files {
		names = append(names, name)
	}
	sort.Strings(names)
	if s.resolvePending(names) {
		changed = true
	}
	snap.Changed = changed
	states := make([]any, 0, len(names))
	for _, name := range names {
		st := s.files[name]
		if st.good {
			states = append(states, st.state)
		} else {
			snap.Incomplete = append(snap.Incomplete, s.incomplete(name, st))
		}
		snap.Problems = append(snap.Problems, st.errs...)
	}
	if s.unsettled {
		snap.Incomplete = append(snap.Incomplete, fmt.Errorf("a ConfigMap volume of %v: %w, and no last good state", s.paths, ErrBeingWritten))
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

// retryNames are the files skipped as being written, to read again.
func (s *Source) retryNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.deferred))
	for name := range s.deferred {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
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
				names, all, ok := n.wait(ctx, s.format.Match)
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
	if n != nil {
		s.mu.Lock()
		s.notify = n
		s.mu.Unlock()
	}
	go func() {
		defer close(ch)
		t := time.NewTicker(interval)
		defer t.Stop()
		// retry rereads the files skipped as still being written.
		retry := time.NewTimer(settle)
		defer retry.Stop()
		armRetry := func() {
			if len(s.retryNames()) > 0 {
				retry.Reset(settle)
			}
		}
		snap := s.Read()
		armRetry()
		last := changeText(snap)
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
				case <-retry.C:
					snap = s.ReadFiles(s.retryNames())
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
				armRetry()
				if probs := changeText(snap); snap.Changed || probs != last {
					last = probs
					break
				}
			}
		}
	}()
	return ch
}

// changeText is what, beside the objects, makes a snapshot worth sending:
// its problems, and the files without a good state other than those
// merely being written (read again in a moment, they would only blink).
func changeText(snap Snapshot) string {
	s := problemText(snap.Problems)
	for _, err := range snap.Incomplete {
		if !errors.Is(err, ErrBeingWritten) {
			s += err.Error() + "\n"
		}
	}
	return s
}

func problemText(errs []error) string {
	s := ""
	for _, e := range errs {
		s += e.Error() + "\n"
	}
	return s
}
