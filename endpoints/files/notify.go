package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// settle is how long a burst of change events must be quiet before the
// files are read, and how long a file must have been left alone (by its
// change time) before its content is trusted: writing a file in place is a
// truncate and one or more writes, and reading between them would see it
// empty or cut short. Tools that write in one go (os.WriteFile, kubectl's
// ConfigMap swap, editors' rename) are done well within it.
const settle = 20 * time.Millisecond

// maxSettle bounds the wait for a quiet moment, so that a directory whose
// files are written to continuously is still read now and then (a file
// still being written is then skipped: see notifier.dirty).
const maxSettle = 200 * time.Millisecond

// wholeSettle replaces settle while every event of a burst replaced or
// removed a file whole (renamed in, renamed away, deleted): such a file
// is never seen half-written, so only a burst of several renames (a tool
// moving a set of files in) is worth waiting for, and that comes within
// a millisecond or two. A rename-and-replace save is how an agent's
// change is fastest.
const wholeSettle = 2 * time.Millisecond

// maxDirty is how long a file may stay dirty (written, no close event)
// before the events no longer hold it back: a lost close event must not
// freeze it forever. Where read leases work, a file still open for writing
// is not read all the same (readLeased).
const maxDirty = 10 * time.Second

// watchMask is what is watched on every directory: files written
// (IN_MODIFY while being written, IN_CLOSE_WRITE when done), created,
// deleted and renamed in or out, and the directory itself going away.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// notifier reports changes under the source's paths through inotify: the
// directories given, every directory below them (added as they appear),
// and the directories holding the files given — a file is watched through
// its directory so that a rename-and-replace save or a ConfigMap's symlink
// swap, which replace the file rather than write it, are seen too.
//
// It is inotify itself rather than a portable wrapper because it needs
// IN_CLOSE_WRITE: a file rewritten in place (truncate, then write, as cp,
// editors and config-management tools do) is being written from its first
// IN_MODIFY to its IN_CLOSE_WRITE, and must not be read in between — a
// truncated multi-document file can be valid YAML holding fewer objects.
type notifier struct {
	// fd is the inotify descriptor, f the same for reading through Go's
	// poller (so that close interrupts a blocked read; f.Fd would switch
	// it to blocking mode, hence fd).
	fd int
	f  *os.File
	// events carries each event's path and mask from the reader goroutine;
	// overflow is set when it was full (events lost: reread everything).
	events   chan event
	overflow atomic.Bool

	mu sync.Mutex
	// closed: fd is closed (its number may be reused: never read it).
	closed bool
	// buf receives the kernel's events.
	buf []byte
	// wds maps watch descriptors to directories.
	wds map[int32]string
	// marks is what the events said about each file.
	marks map[string]*fileMark
}

// event is one inotify event, its name joined to its directory.
type event struct {
	name string
	mask uint32
}

// fileMark is a file's writing state as its events tell it.
type fileMark struct {
	// dirty: written (or created) and not closed since.
	dirty bool
	// since is when it became dirty.
	since time.Time
	// whole: the file was last renamed into place and not written since,
	// so its content was complete before it appeared here.
	whole bool
}

// newNotifier watches paths; it fails when inotify is unavailable (or out
// of watches), and the source then polls only.
func newNotifier(paths []string) (*notifier, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	n := &notifier{fd: fd, f: os.NewFile(uintptr(fd), "inotify"), events: make(chan event, 4096),
		wds: map[int32]string{}, marks: map[string]*fileMark{}, buf: make([]byte, 64*1024)}
	for _, p := range paths {
		if p == Stdin {
			continue
		}
		st, err := os.Stat(p)
		switch {
		case err == nil && st.IsDir():
			err = n.addTree(p)
		default: // a file, or a path that does not exist yet
			err = n.add(filepath.Dir(p))
		}
		if err != nil {
			n.close()
			return nil, err
		}
	}
	go n.read()
	return n, nil
}

func (n *notifier) add(dir string) error {
	wd, err := unix.InotifyAddWatch(n.fd, dir, watchMask)
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	n.mu.Lock()
	n.wds[int32(wd)] = filepath.Clean(dir)
	n.mu.Unlock()
	return nil
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
			return n.add(path)
		}
		return nil
	})
}

// read turns the kernel's events into events on n.events until the
// notifier is closed, marking files dirty and clean as it goes — before
// handing the event on, so that a reader never trusts a file whose write
// has begun. It only waits for the descriptor to be readable; the events
// are read by drain, which a reader also calls (sync) right before it
// trusts a file, so that no event already queued is still unseen.
func (n *notifier) read() {
	defer close(n.events)
	rc, err := n.f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(uintptr) bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.drain()
	})
}

// sync reads every event already queued, so that fileState tells about
// every write made before it was called.
func (n *notifier) sync() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.drain()
}

// drain reads and marks the queued events; it reports true when the
// descriptor is closed or broken (stop waiting). n.mu is held.
func (n *notifier) drain() bool {
	if n.closed {
		return true
	}
	for {
		size, err := unix.Read(n.fd, n.buf)
		if err == unix.EAGAIN {
			return false
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil || size <= 0 {
			return true
		}
		n.parse(n.buf[:size])
	}
}

// parse marks and hands on the events in buf. n.mu is held.
func (n *notifier) parse(buf []byte) {
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		raw := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(raw.Len)]
		off += unix.SizeofInotifyEvent + int(raw.Len)
		if raw.Mask&unix.IN_Q_OVERFLOW != 0 {
			n.overflow.Store(true)
			continue
		}
		dir, ok := n.wds[raw.Wd]
		if raw.Mask&unix.IN_IGNORED != 0 {
			delete(n.wds, raw.Wd)
		}
		if !ok {
			continue
		}
		name := dir
		if i := indexNUL(nameBytes); i > 0 {
			name = filepath.Join(dir, string(nameBytes[:i]))
		}
		n.mark(name, raw.Mask)
		select {
		case n.events <- event{name: name, mask: raw.Mask}:
		default:
			n.overflow.Store(true)
		}
	}
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// mark records what an event says about a file being written. n.mu is
// held.
func (n *notifier) mark(name string, mask uint32) {
	if mask&unix.IN_ISDIR != 0 {
		return
	}
	m := n.marks[name]
	if m == nil {
		m = &fileMark{}
		n.marks[name] = m
	}
	switch {
	case mask&unix.IN_MOVED_TO != 0:
		m.dirty, m.whole = false, true
	case mask&(unix.IN_CLOSE_WRITE|unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
		m.dirty, m.whole = false, false
	case mask&unix.IN_MODIFY != 0, mask&unix.IN_CREATE != 0 && isRegular(name):
		m.whole = false
		if !m.dirty {
			m.dirty, m.since = true, time.Now()
		}
	}
}

// isRegular: name is a regular file (a new symlink is complete at once).
func isRegular(name string) bool {
	st, err := os.Lstat(name)
	return err == nil && st.Mode().IsRegular()
}

// fileState says whether a file is being written (dirty: opened for
// writing and not closed since, for less than maxDirty), whether any
// event about it was seen since the notifier started (seen: its later
// writes are known, so a shorter quiet time proves it is complete), and
// whether it was last renamed into place and not written since (whole:
// complete when it appeared, no quiet time needed).
func (n *notifier) fileState(name string) (dirty, seen, whole bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.marks[filepath.Clean(name)]
	if m == nil {
		return false, false, false
	}
	return m.dirty && time.Since(m.since) < maxDirty, true, m.whole
}

// wait blocks until something changed and the burst of events settled,
// then reports which paths the events named; all is set when the change
// is not about policy files alone (a directory appeared, a symlink was
// swapped, events were lost), so that everything must be read again. It
// returns ok=false when ctx ended or the watcher broke.
func (n *notifier) wait(ctx context.Context, match func(string) bool) (names []string, all, ok bool) {
	seen := map[string]bool{}
	// whole stays set while every event replaced or removed a file whole
	// (see wholeSettle).
	whole := true
	note := func(ev event) {
		// A hidden file is never read (Expand skips it): the temporary
		// file a rename-and-replace save writes first does not make the
		// burst partial; its rename into place is what counts.
		hiddenFile := isHidden(ev.name) && ev.mask&unix.IN_ISDIR == 0
		if !hiddenFile && (ev.mask&(unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_DELETE) == 0 || ev.mask&unix.IN_ISDIR != 0) {
			whole = false
		}
		if ev.mask&unix.IN_CREATE != 0 && ev.mask&unix.IN_ISDIR != 0 {
			if err := n.addTree(ev.name); err != nil {
				logrus.WithError(err).WithField("dir", ev.name).Warn("cannot watch a new policy directory; polling finds its files")
			}
			all = true
		}
		if ev.mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_ISDIR) != 0 || !match(ev.name) {
			all = true // a symlink swap (ConfigMap "..data"), a directory renamed
			return
		}
		if !seen[ev.name] {
			seen[ev.name] = true
			names = append(names, ev.name)
		}
	}
	lost := func() {
		if n.overflow.Swap(false) {
			logrus.Warn("policy file notification: events lost; rereading everything")
			all = true
		}
	}
	select {
	case <-ctx.Done():
		return nil, false, false
	case ev, open := <-n.events:
		if !open {
			return nil, false, false
		}
		note(ev)
	}
	pause := func() time.Duration {
		if whole {
			return wholeSettle
		}
		return settle
	}
	quiet := time.NewTimer(pause())
	defer quiet.Stop()
	limit := time.NewTimer(maxSettle)
	defer limit.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, false, false
		case ev, open := <-n.events:
			if !open {
				return nil, false, false
			}
			note(ev)
			quiet.Reset(pause())
		case <-quiet.C:
			lost()
			return names, all, true
		case <-limit.C:
			lost()
			return names, all, true
		}
	}
}

func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.f.Close()
}
