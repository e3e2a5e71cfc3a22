package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/sirupsen/logrus"
)

// settle is how long a burst of change events must be quiet before the
// files are read: writing a file is a truncate and one or more writes, and
// reading between them would see it empty or cut short. Tools that write
// in one go (os.WriteFile, kubectl's ConfigMap swap, editors' rename) are
// done well within it.
const settle = 5 * time.Millisecond

// maxSettle bounds the wait for a quiet moment, so that a file written to
// continuously is still read now and then.
const maxSettle = 200 * time.Millisecond

// notifier reports changes under the source's paths through inotify: the
// directories given, every directory below them (added as they appear),
// and the directories holding the files given — a file is watched through
// its directory so that a rename-and-replace save or a ConfigMap's symlink
// swap, which replace the file rather than write it, are seen too.
type notifier struct {
	w *fsnotify.Watcher
	// dirs are the directories whose subdirectories are watched as well.
	dirs []string
}

// newNotifier watches paths; it fails when inotify is unavailable (or out
// of watches), and the source then polls only.
func newNotifier(paths []string) (*notifier, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	n := &notifier{w: w}
	for _, p := range paths {
		if p == Stdin {
			continue
		}
		st, err := os.Stat(p)
		switch {
		case err == nil && st.IsDir():
			n.dirs = append(n.dirs, filepath.Clean(p))
			err = n.addTree(p)
		default: // a file, or a path that does not exist yet
			err = w.Add(filepath.Dir(p))
		}
		if err != nil {
			w.Close()
			return nil, err
		}
	}
	return n, nil
}

// addTree watches dir and every directory below it.
func (n *notifier) addTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking: its events are gone too
			}
			return err
		}
		if d.IsDir() && path != dir && isHidden(path) {
			return filepath.SkipDir // not read either (Expand)
		}
		if d.IsDir() {
			return n.w.Add(path)
		}
		return nil
	})
}

// wait blocks until something changed and the burst of events settled,
// then reports which paths the events named; all is set when the change
// is not about policy files alone (a directory appeared, a symlink was
// swapped, events were lost), so that everything must be read again. It
// returns ok=false when ctx ended or the watcher broke.
func (n *notifier) wait(ctx context.Context) (names []string, all, ok bool) {
	seen := map[string]bool{}
	note := func(ev fsnotify.Event) {
		if ev.Has(fsnotify.Create) {
			if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
				if err := n.addTree(ev.Name); err != nil {
					logrus.WithError(err).WithField("dir", ev.Name).Warn("cannot watch a new policy directory; polling finds its files")
				}
				all = true
			}
		}
		if !IsPolicyFile(ev.Name) {
			all = true // a symlink swap (ConfigMap "..data"), a directory renamed
			return
		}
		if !seen[ev.Name] {
			seen[ev.Name] = true
			names = append(names, ev.Name)
		}
	}
	select {
	case <-ctx.Done():
		return nil, false, false
	case ev, open := <-n.w.Events:
		if !open {
			return nil, false, false
		}
		note(ev)
	case err, open := <-n.w.Errors:
		if !open {
			return nil, false, false
		}
		logrus.WithError(err).Warn("policy file notification: events lost; rereading everything")
		all = true
	}
	quiet := time.NewTimer(settle)
	defer quiet.Stop()
	limit := time.NewTimer(maxSettle)
	defer limit.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, false, false
		case ev, open := <-n.w.Events:
			if !open {
				return nil, false, false
			}
			note(ev)
			quiet.Reset(settle)
		case err, open := <-n.w.Errors:
			if !open {
				return nil, false, false
			}
			logrus.WithError(err).Warn("policy file notification: events lost; rereading everything")
			all = true
		case <-quiet.C:
			return names, all, true
		case <-limit.C:
			return names, all, true
		}
	}
}

func (n *notifier) close() { n.w.Close() }
