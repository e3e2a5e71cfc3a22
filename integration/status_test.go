package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// TestStatus: after `flowgate apply`, `flowgate status` names the bridge,
// lists each bound endpoint with its port and the policies in force for it
// (or its default), and counts flows per named table.
func TestStatus(t *testing.T) {
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	dir := backendSeed
	s, err := StartScene(o, "br-int", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(flowgateBin, args...)
		cmd.Env = append(os.Environ(), o.Env()...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("flowgate %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("apply", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev", "-f", dir)
	out := run("status", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", dir)
	for _, want := range []string{
		"bridge br-int",
		"default/prod/knp.default.database-allow-backends", // the database's ingress policy
		"(default allow)", // the frontends have none
		"ingress_rules",   // flow counts per named table
		"6 local",         // every pod is bound
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	var dbLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "prod/database") {
			dbLine = l
		}
	}
	if !strings.Contains(dbLine, "knp.default.database-allow-backends") {
		t.Errorf("prod/database's row does not name its policy: %q", dbLine)
	}
}
