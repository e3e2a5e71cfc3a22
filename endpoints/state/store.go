// Package state is the agent's persisted last good state: for each input
// file, the last content that decoded without errors, kept on disk so that
// an agent started (or restarted after kill -9, or after a reboot) while a
// file is broken enforces that file's last good content instead of the
// world without it.
//
// Every write is atomic (a temporary file, fsync, rename over the old one,
// fsync of the directory): after a crash or power loss an entry is either
// its old or its new content, never a mix. An entry also carries its
// content's SHA-256, so an entry damaged on disk is reported and ignored
// rather than enforced.
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// entrySuffix names the store's entries; tempPrefix its files being
// written (left behind by a crash, removed by Open).
const (
	entrySuffix = ".last-good.json"
	tempPrefix  = ".tmp-"
)

// Store is one directory of entries, one per input file. Its methods may
// be called from several goroutines.
type Store struct {
	dir string

	mu       sync.Mutex
	failures int
	lastErr  error
	lastAt   time.Time
}

// Entry is one file's last good state.
type Entry struct {
	// Path is the input file the entry is for, as the source names it.
	Path string `json:"path"`
	// Keys name the objects the content defines (kind/namespace/name), so
	// that which file first defined an object is known before any file is
	// decoded (files.Format.Keys); empty for formats without them.
	Keys []string `json:"keys,omitempty"`
	// Saved is when the entry was written.
	Saved time.Time `json:"saved"`
	// SHA256 is the hex SHA-256 of Data, checked on load.
	SHA256 string `json:"sha256"`
	// Data is the file's content.
	Data []byte `json:"data"`
}

// Open creates dir (and its parents, mode 0700: policy can be sensitive)
// if missing and removes temporary files a crash left behind.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n.Name(), tempPrefix) {
			os.Remove(filepath.Join(dir, n.Name()))
		}
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// entryName is the entry file of an input path: a hash, because paths are
// longer than file names may be and hold slashes.
func entryName(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:16]) + entrySuffix
}

// Save writes path's last good content atomically. A failure (disk full,
// read-only filesystem) is returned and counted in Status; the entry on
// disk is then still the previous one, whole.
func (s *Store) Save(path string, keys []string, data []byte) error {
	sum := sha256.Sum256(data)
	e := Entry{Path: path, Keys: keys, Saved: time.Now().UTC(), SHA256: hex.EncodeToString(sum[:]), Data: data}
	b, err := json.Marshal(e)
	if err != nil {
		return s.note(fmt.Errorf("save last good state of %s: %w", path, err))
	}
	if err := writeAtomic(s.dir, entryName(path), b); err != nil {
		return s.note(fmt.Errorf("save last good state of %s in %s: %w", path, s.dir, err))
	}
	return s.note(nil)
}

// Load reads path's entry; ok is false when there is none. An entry that
// cannot be read or fails its checksum is an error (and not used).
func (s *Store) Load(path string) (e Entry, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(s.dir, entryName(path)))
	if errors.Is(err, os.ErrNotExist) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("load last good state of %s: %w", path, err)
	}
	e, err = decodeEntry(b)
	if err != nil {
		return Entry{}, false, fmt.Errorf("load last good state of %s from %s: %w", path, filepath.Join(s.dir, entryName(path)), err)
	}
	if e.Path != path {
		return Entry{}, false, fmt.Errorf("load last good state of %s: the entry is for %s", path, e.Path)
	}
	return e, true, nil
}

func decodeEntry(b []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("damaged entry: %w", err)
	}
	sum := sha256.Sum256(e.Data)
	if hex.EncodeToString(sum[:]) != e.SHA256 {
		return Entry{}, errors.New("damaged entry: checksum mismatch")
	}
	return e, nil
}

// List returns every whole entry, by path; damaged ones are left out and
// reported.
func (s *Store) List() ([]Entry, []error) {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, []error{fmt.Errorf("list state directory %s: %w", s.dir, err)}
	}
	var out []Entry
	var errs []error
	for _, n := range names {
		if !strings.HasSuffix(n.Name(), entrySuffix) || strings.HasPrefix(n.Name(), tempPrefix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, n.Name()))
		if err == nil {
			var e Entry
			if e, err = decodeEntry(b); err == nil {
				out = append(out, e)
				continue
			}
		}
		errs = append(errs, fmt.Errorf("state entry %s: %w", filepath.Join(s.dir, n.Name()), err))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, errs
}

// Remove deletes path's entry (its file was deleted: its objects are no
// longer enforced, so its last good state must not come back).
func (s *Store) Remove(path string) error {
	err := os.Remove(filepath.Join(s.dir, entryName(path)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return s.note(fmt.Errorf("remove last good state of %s: %w", path, err))
	}
	if err == nil {
		if err := syncDir(s.dir); err != nil {
			return s.note(fmt.Errorf("remove last good state of %s: %w", path, err))
		}
	}
	return nil
}

// Status is what the store reports to the agent's health endpoints.
type Status struct {
	// Failures counts failed writes since the start.
	Failures int
	// LastErr is the last write's error, nil once a write succeeds again.
	LastErr error
	// LastErrAt is when LastErr happened.
	LastErrAt time.Time
}

// Status reports the store's write failures.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Failures: s.failures, LastErr: s.lastErr, LastErrAt: s.lastAt}
}

func (s *Store) note(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if err != nil {
		s.failures++
		s.lastAt = time.Now()
	}
	return err
}
