package files

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchRewriteLoopWhileForking: a file rewritten in place in a loop
// (truncate, two writes with a pause) by a process that forks and execs
// meanwhile — a child inherits the open file until it execs, so the close
// event of one rewrite can come after the next one began — is never read
// half written.
func TestWatchRewriteLoopWhileForking(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, body, bad := watchTwoPolicies(ctx, t)
	// Fork and exec all along, as a tool running commands does.
	go func() {
		for ctx.Err() == nil {
			exec.Command("true").Run()
		}
	}()
	start := time.Now()
	n := 0
	for time.Since(start) < 3*time.Second {
		content := fmt.Sprintf("# version %d\n%s", n, body)
		cut := strings.Index(content, "---\n") + 4
		w, _ := os.OpenFile(f, os.O_WRONLY|os.O_TRUNC, 0)
		w.WriteString(content[:cut])
		time.Sleep(time.Duration(n%4) * time.Millisecond)
		w.WriteString(content[cut:])
		w.Close()
		n++
		time.Sleep(time.Duration(n%7) * 5 * time.Millisecond)
	}
	select {
	case b := <-bad:
		t.Fatalf("after %d rewrites saw %q", n, b)
	default:
	}
	t.Logf("%d rewrites, none seen half written", n)
}

// TestWatchRenameThenRewriteNeverPartial: a file that was renamed into
// place (read without a quiet time: it was complete when it appeared) and
// is then rewritten in place, in a loop alternating the two, is never read
// half written — the shortcut a rename earns ends at the first write.
func TestWatchRenameThenRewriteNeverPartial(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, body, bad := watchTwoPolicies(ctx, t)
	tmp := filepath.Join(t.TempDir(), "p.yaml.tmp") // outside the watched directory
	start := time.Now()
	n := 0
	for time.Since(start) < 3*time.Second {
		content := fmt.Sprintf("# version %d\n%s", n, body)
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(n%3) * time.Millisecond)
		cut := strings.Index(content, "---\n") + 4
		w, err := os.OpenFile(f, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(content[:cut])
		time.Sleep(time.Duration(n%4) * time.Millisecond)
		w.WriteString(content[cut:])
		w.Close()
		n++
		time.Sleep(time.Duration(n%5) * 3 * time.Millisecond)
	}
	select {
	case b := <-bad:
		t.Fatalf("after %d rename+rewrite rounds saw %q", n, b)
	default:
	}
	t.Logf("%d rename+rewrite rounds, none seen half written", n)
}

// TestNotifierMarksRenamedFileWhole: a file renamed into a watched
// directory is whole (no quiet time needed) until it is written; a write
// makes it dirty and no longer whole, its close leaves it not whole.
func TestNotifierMarksRenamedFileWhole(t *testing.T) {
	dir := t.TempDir()
	n, err := newNotifier([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	f := filepath.Join(dir, "p.yaml")
	tmp := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(tmp, []byte(goodPolicy), 0o644)
	if err := os.Rename(tmp, f); err != nil {
		t.Fatal(err)
	}
	n.sync()
	if dirty, seen, whole := n.fileState(f); dirty || !seen || !whole {
		t.Fatalf("after the rename: dirty %v seen %v whole %v, want a seen, whole, clean file", dirty, seen, whole)
	}
	w, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("# more\n")
	n.sync()
	if dirty, _, whole := n.fileState(f); !dirty || whole {
		t.Errorf("during a write after the rename: dirty %v whole %v, want dirty and not whole", dirty, whole)
	}
	w.Close()
	n.sync()
	if dirty, _, whole := n.fileState(f); dirty || whole {
		t.Errorf("after the write closed: dirty %v whole %v, want clean and not whole", dirty, whole)
	}
}

// watchTwoPolicies writes a file holding the policies "first" and
// "second" into a directory watched until ctx ends, and returns the file,
// its content, and where every later snapshot that does not hold exactly
// both policies is reported.
func watchTwoPolicies(ctx context.Context, t *testing.T) (file, body string, bad <-chan string) {
	t.Helper()
	dir := t.TempDir()
	file = filepath.Join(dir, "p.yaml")
	body = policyNamed("first") + "---\n" + policyNamed("second")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * PollQuiet)
	snaps := NewSource([]string{dir}).Watch(ctx, 100*time.Millisecond)
	<-snaps
	out := make(chan string, 100)
	go func() {
		for snap := range snaps {
			if names(snap) != "first,second" {
				out <- names(snap) + problemText(snap.Problems)
			}
		}
	}()
	return file, body, out
}
