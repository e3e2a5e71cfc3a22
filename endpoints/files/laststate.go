package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/endpoints/state"
)

// This file is how a Source keeps each file's last good state: in memory,
// in its store (Persist) across restarts, and against other files that
// define the same object. All of it runs with s.mu held.

// load lists the store once, before the first read: its entries reserve
// the objects they define for their files (so that a file that starts
// defining an object another file had in force is the one refused, even
// if it is read first), and stand in for files that are broken.
func (s *Source) load() {
	if s.loaded || s.store == nil {
		s.loaded = true
		return
	}
	s.loaded = true
	entries, errs := s.store.List()
	for _, err := range errs {
		logrus.WithError(err).Warn("damaged last good state ignored")
	}
	s.saved = map[string]state.Entry{}
	for _, e := range entries {
		s.saved[e.Path] = e
		for _, k := range e.Keys {
			if _, taken := s.owners[k]; !taken {
				s.owners[k] = e.Path
			}
		}
	}
}

// newFileState is the state of a file seen for the first time: what the
// store says it defines, not yet in force.
func (s *Source) newFileState(name string) fileState {
	st := fileState{}
	if e, ok := s.saved[name]; ok {
		st.keys = e.Keys
		st.savedSum = sumOfHex(e.SHA256)
	}
	return st
}

func sumOfHex(h string) [32]byte {
	var sum [32]byte
	b, err := hex.DecodeString(h)
	if err == nil && len(b) == len(sum) {
		copy(sum[:], b)
	}
	return sum
}

// keep stores a file whose current content is not taken (broken, being
// written, unreadable, a duplicate) and reports whether the objects in
// force changed: they do only when the file had no good state yet and the
// store has its last good content.
func (s *Source) keep(name string, st fileState) bool {
	changed := false
	if !st.good && !st.recalled {
		st.recalled = true
		changed = s.recall(name, &st)
	}
	s.files[name] = st
	return changed
}

// recall puts the store's last good content of a file in force.
func (s *Source) recall(name string, st *fileState) bool {
	if s.store == nil {
		return false
	}
	e, ok, err := s.store.Load(name)
	if err != nil {
		logrus.WithError(err).WithField("file", name).Error("last good state unusable")
		return false
	}
	if !ok {
		return false
	}
	state, errs := s.format.Decode(name, e.Data)
	if len(errs) > 0 {
		logrus.WithError(errors.Join(errs...)).WithField("file", name).Error("saved last good state no longer decodes; not used")
		return false
	}
	var keys []string
	if s.format.Keys != nil {
		keys = s.format.Keys(state)
	}
	if err := s.duplicate(name, keys); err != nil {
		logrus.WithError(err).WithField("file", name).Error("saved last good state not used")
		return false
	}
	s.release(name, st.keys)
	st.state, st.keys, st.good = state, keys, true
	st.savedSum = sha256.Sum256(e.Data)
	s.claim(name, keys)
	logrus.WithFields(logrus.Fields{"file": name, "saved": e.Saved, "stateDir": s.store.Dir()}).
		Warn("file unusable now (broken, unreadable or being written) and nothing good read since the start: enforcing its last good state saved earlier")
	return true
}

// adopt puts good new content of a file in force and saves it.
func (s *Source) adopt(name string, st *fileState, d *decoded) {
	s.release(name, st.keys)
	st.state, st.keys, st.good, st.pending = d.state, d.keys, true, nil
	s.claim(name, d.keys)
	if s.store == nil || st.savedSum == d.sum {
		return
	}
	s.save(name, st, d)
}

// save writes a file's good content to the store; a failure is logged
// once per content and the content kept for retrySaves.
func (s *Source) save(name string, st *fileState, d *decoded) {
	if err := s.store.Save(name, d.keys, d.data); err != nil {
		if st.failedSum != d.sum {
			logrus.WithError(err).WithField("file", name).Error("cannot save the last good state; enforcement goes on, but a restart while this file is broken would not have it")
		}
		st.failedSum, st.unsaved = d.sum, d
		return
	}
	if st.failedSum != ([32]byte{}) {
		logrus.WithField("file", name).Info("last good state saved again")
	}
	st.savedSum, st.failedSum, st.unsaved = d.sum, [32]byte{}, nil
}

// retrySaves saves again the good contents whose save failed (a full
// disk freed since), at every full read.
func (s *Source) retrySaves() {
	if s.store == nil {
		return
	}
	for name, st := range s.files {
		if st.unsaved != nil && st.good && st.unsaved.sum == st.failedSum {
			s.save(name, &st, st.unsaved)
			s.files[name] = st
		}
	}
}

// drop removes a deleted file: its objects leave, and so does its stored
// state (a deleted file must not come back at the next start).
func (s *Source) drop(name string, st fileState) {
	delete(s.files, name)
	delete(s.deferred, name)
	delete(s.from, name)
	if s.format.Forget != nil {
		s.format.Forget(name)
	}
	s.release(name, st.keys)
	if s.store != nil {
		if err := s.store.Remove(name); err != nil {
			logrus.WithError(err).WithField("file", name).Error("cannot remove the saved state of a deleted file")
		}
	}
}

// forgetDeleted ends the start: entries of files that no longer exist
// are removed, and their reservations released.
func (s *Source) forgetDeleted(seen map[string]bool) {
	if s.saved == nil {
		return
	}
	paths := make([]string, 0, len(s.saved))
	for p := range s.saved {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if seen[p] {
			continue
		}
		s.release(p, s.saved[p].Keys)
		if err := s.store.Remove(p); err != nil {
			logrus.WithError(err).WithField("file", p).Error("cannot remove the saved state of a deleted file")
		}
	}
	s.saved = nil
}

// duplicate says whether keys define an object twice, or one another file
// has in force (or reserved from the store): the file bringing it is the
// newcomer, refused whole, so that no object in force is replaced or
// dropped by which definition happens to come first.
func (s *Source) duplicate(name string, keys []string) error {
	mine := make(map[string]bool, len(keys))
	for _, k := range keys {
		if mine[k] {
			return fmt.Errorf("%s: %s is defined twice in this file; this file's new content is not enforced (its last good state stays) until one definition is removed", name, k)
		}
		mine[k] = true
	}
	for _, k := range keys {
		if o, ok := s.owners[k]; ok && o != name {
			return fmt.Errorf("%s: %s is already defined in %s; this file's new content is not enforced (its last good state stays) until one of the two definitions is removed", name, k, o)
		}
	}
	return nil
}

func (s *Source) claim(name string, keys []string) {
	for _, k := range keys {
		s.owners[k] = name
	}
}

func (s *Source) release(name string, keys []string) {
	for _, k := range keys {
		if s.owners[k] == name {
			delete(s.owners, k)
		}
	}
}

// resolvePending adopts refused duplicates whose conflict is gone (the
// other file dropped the object, or was deleted), in name order, and
// reports whether any was.
func (s *Source) resolvePending(names []string) bool {
	changed := false
	for again := true; again; {
		again = false
		for _, name := range names {
			st, ok := s.files[name]
			if !ok || st.pending == nil || s.duplicate(name, st.pending.keys) != nil {
				continue
			}
			st.errs = nil
			s.adopt(name, &st, st.pending)
			s.files[name] = st
			changed, again = true, true
		}
	}
	return changed
}

// incomplete says why a file has no good state.
func (s *Source) incomplete(name string, st fileState) error {
	where := "no state directory"
	if s.store != nil {
		where = "none saved in " + s.store.Dir()
	}
	if len(st.errs) == 0 {
		return fmt.Errorf("%s: %w, and no last good state (%s)", name, ErrBeingWritten, where)
	}
	return fmt.Errorf("%s: no last good state (%s): %w", name, where, errors.Join(st.errs...))
}
