package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// entry is one path of a layer: a directory, a symlink, or a regular file
// whose content is read from src on the build host.
type entry struct {
	mode os.FileMode // permission bits, plus os.ModeDir / os.ModeSymlink
	link string      // symlink target
	src  string      // regular file: where its content comes from
}

// tree is the content of one layer, keyed by absolute path in the image.
type tree map[string]entry

// dir adds a directory (and its parents).
func (t tree) dir(p string, perm os.FileMode) {
	p = path.Clean("/" + p)
	if p == "/" {
		return
	}
	t.parents(p)
	t[p] = entry{mode: os.ModeDir | perm}
}

// parents adds the missing parent directories of p, 0755.
func (t tree) parents(p string) {
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if _, ok := t[d]; !ok {
			t[d] = entry{mode: os.ModeDir | 0o755}
		}
	}
}

// file adds a regular file read from src at p.
func (t tree) file(p, src string, perm os.FileMode) {
	p = path.Clean("/" + p)
	t.parents(p)
	t[p] = entry{mode: perm, src: src}
}

// addHost copies a path from the build host to the same path in the
// image, with every symlink met on the way (Debian's /lib -> usr/lib, a
// library's soname link), so the image resolves it exactly as the host
// does. Only what the path needs is copied, never a whole directory.
func (t tree) addHost(p string) error {
	return t.resolve(path.Clean("/"+p), 0)
}

func (t tree) resolve(p string, depth int) error {
	if depth > 40 {
		return fmt.Errorf("%s: too many symlinks", p)
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i, c := range parts {
		next := path.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return fmt.Errorf("copy %s into the image: %w", p, err)
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(next)
			if err != nil {
				return fmt.Errorf("copy %s into the image: %w", p, err)
			}
			t.parents(next)
			t[next] = entry{mode: os.ModeSymlink | 0o777, link: target}
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			return t.resolve(path.Join(append([]string{target}, parts[i+1:]...)...), depth+1)
		case fi.IsDir():
			if _, ok := t[next]; !ok {
				t.dir(next, fi.Mode().Perm())
			}
			cur = next
		case fi.Mode().IsRegular():
			if i != len(parts)-1 {
				return fmt.Errorf("copy %s into the image: %s is not a directory", p, next)
			}
			t.file(next, next, fi.Mode().Perm())
		default:
			return fmt.Errorf("copy %s into the image: %s is neither a file, a directory nor a symlink", p, next)
		}
	}
	return nil
}

// tarball writes the tree as an uncompressed tar: entries sorted by path
// (parents first), owned by root, dated mtime, so the same inputs give the
// same layer digest.
func (t tree) tarball(mtime time.Time) ([]byte, error) {
	paths := make([]string, 0, len(t))
	for p := range t {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		e := t[p]
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: int64(e.mode.Perm()), ModTime: mtime, Format: tar.FormatPAX}
		if e.mode&os.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		switch {
		case e.mode.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case e.mode&os.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		default:
			data, err := os.ReadFile(e.src)
			if err != nil {
				return nil, fmt.Errorf("layer file %s: %w", p, err)
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
			if err := tw.WriteHeader(h); err != nil {
				return nil, err
			}
			if _, err := io.Copy(tw, bytes.NewReader(data)); err != nil {
				return nil, err
			}
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lookBin finds a program on PATH or in the sbin/bin directories a minimal
// PATH may lack.
func lookBin(name string) (string, error) {
	for _, d := range append(filepath.SplitList(os.Getenv("PATH")), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin") {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (Debian: apt-get install openvswitch-common)", name)
}
