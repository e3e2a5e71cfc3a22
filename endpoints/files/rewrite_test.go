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
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	body := policyNamed("first") + "---\n" + policyNamed("second")
	os.WriteFile(f, []byte(body), 0o644)
	time.Sleep(2 * PollQuiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := NewSource([]string{dir}).Watch(ctx, 100*time.Millisecond)
	<-snaps
	bad := make(chan string, 100)
	go func() {
		for snap := range snaps {
			if names(snap) != "first,second" {
				bad <- names(snap) + problemText(snap.Problems)
			}
		}
	}()
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
