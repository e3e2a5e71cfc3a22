package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// TestApplyCutsConnections: `flowgate apply --established-connections cut`
// with a policy that denies an open connection cuts it (the bundle brings
// the re-check with the policy), while the backend's connection, still
// allowed, keeps working; applying the same again changes nothing.
func TestApplyCutsConnections(t *testing.T) {
	o, s := backendScene(t)
	apply := func(dir string) string {
		t.Helper()
		cmd := exec.Command(flowgateBin, "apply", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev",
			"--established-connections", "cut", "-f", dir)
		cmd.Env = append(os.Environ(), o.Env()...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("flowgate apply: %v\n%s", err, out)
		}
		return string(out)
	}
	open := t.TempDir()
	copyFile(t, filepath.Join(backendSeed, "world.yaml"), filepath.Join(open, "world.yaml"))
	apply(open)
	fe, be, to := s.Workloads["dev/frontend"], s.Workloads["dev/backend"], s.addr("prod/database", 8080)
	waitFor(t, "no policy: the frontend allowed", 10*time.Second, func() bool { return fe.ProbeTCP(to, 300*time.Millisecond) })
	echoer := func(w *sandbox.Workload) func(string) bool {
		c, err := w.DialTCP(to, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		l := newLineConn(c)
		return func(tag string) bool {
			if l.send(tag) != nil {
				return false
			}
			got, err := l.recv(1500 * time.Millisecond)
			return err == nil && got == tag
		}
	}
	feEcho, beEcho := echoer(fe), echoer(be)
	if !feEcho("before") || !beEcho("before") {
		t.Fatal("both connections must work with no policy")
	}
	apply(backendSeed) // the world and database-allow-backends: only backends on 8080
	if feEcho("after") {
		t.Error("the frontend's connection is denied by the applied policy and must be cut")
	}
	if !beEcho("after") {
		t.Error("the backend's connection is still allowed and must keep working")
	}
	if out := apply(backendSeed); !strings.Contains(out, "no changes") {
		t.Errorf("a second apply of the same input in cut mode: %s", out)
	}
}
