package audit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSinkStdout: destination stdout writes to the stdout given and
// creates no file.
func TestSinkStdout(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	w, c, err := OpenSink(DestinationStdout, FileConfig{Path: filepath.Join(dir, "audit.log"), MaxSizeMB: 1}, &out)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(w, `{"line":1}`)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "{\"line\":1}\n" {
		t.Errorf("stdout got %q", out.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("destination stdout created %v", entries)
	}
}

// TestSinkBoth: destination both writes every line to the file and to
// stdout.
func TestSinkBoth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "audit.log")
	var out bytes.Buffer
	w, c, err := OpenSink(DestinationBoth, FileConfig{Path: path, MaxSizeMB: 1, MaxBackups: 1}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		fmt.Fprintf(w, "{\"line\":%d}\n", i)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"line\":0}\n{\"line\":1}\n{\"line\":2}\n"
	if string(file) != want || out.String() != want {
		t.Errorf("file %q, stdout %q, want both %q", file, out.String(), want)
	}
}

// TestSinkRotates: the file destination rotates at MaxSizeMB, keeping the
// rotated files (up to MaxBackups) beside it; no line is lost or split.
func TestSinkRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	w, c, err := OpenSink(DestinationFile, FileConfig{Path: path, MaxSizeMB: 1, MaxBackups: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := `{"pad":"` + strings.Repeat("x", 990) + "\"}\n" // 1,000 bytes
	const lines = 2600                                      // 2.6 MB: two rotations
	for i := 0; i < lines; i++ {
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1<<20 {
			t.Errorf("%s is %d bytes, over MaxSizeMB 1", e.Name(), len(b))
		}
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l == "" {
				continue
			}
			if l != line {
				t.Fatalf("%s: a split or mangled line of %d bytes", e.Name(), len(l))
			}
			total++
		}
	}
	if len(entries) != 3 || total != lines {
		t.Errorf("%d files with %d lines, want audit.log and 2 rotated files with %d lines", len(entries), total, lines)
	}
}

// TestSinkRefusesBadConfig: an unknown destination, or a file destination
// without a path or with no size, is an error.
func TestSinkRefusesBadConfig(t *testing.T) {
	for _, c := range []struct {
		dest string
		f    FileConfig
	}{
		{"journal", FileConfig{}},
		{DestinationFile, FileConfig{MaxSizeMB: 1}},
		{DestinationBoth, FileConfig{Path: "/tmp/x", MaxSizeMB: 0}},
	} {
		if _, _, err := OpenSink(c.dest, c.f, &bytes.Buffer{}); err == nil {
			t.Errorf("OpenSink(%q, %+v) accepted", c.dest, c.f)
		}
	}
}
