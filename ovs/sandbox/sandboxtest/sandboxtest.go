// Package sandboxtest wires ovs/sandbox into Go tests: one call gives a test
// a private Open vSwitch that is stopped when the test ends, and machines
// without Open vSwitch or root skip instead of failing (except in CI, where
// a skip would hide that nothing was tested).
package sandboxtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// tools are the executables a sandbox needs.
var tools = []string{"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl", "ip"}

// missing says what this machine lacks for a sandbox, or "" if nothing.
func missing() string {
	var why []string
	if os.Geteuid() != 0 {
		why = append(why, "not root (namespaces, veths and raw sockets need it)")
	}
	for _, t := range tools {
		if _, err := sandbox.LookBin(t); err != nil {
			why = append(why, t+" not found")
		}
	}
	if _, err := os.Stat(sandbox.SchemaPath); err != nil {
		why = append(why, sandbox.SchemaPath+" not found")
	}
	if len(why) == 0 {
		return ""
	}
	return strings.Join(why, "; ") + " (Debian: apt-get install openvswitch-switch iproute2, run as root)"
}

// Require skips the test when the machine cannot run a sandbox, or fails it
// when CI=true, because CI must never pass by silently testing nothing.
func Require(t testing.TB) {
	t.Helper()
	why := missing()
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("OVS sandbox unavailable and CI=true: %s", why)
	}
	t.Skipf("OVS sandbox unavailable: %s", why)
}

// New starts a private Open vSwitch for the test and stops it in
// t.Cleanup. The instance lives in t.TempDir() unless that path is too long
// for unix sockets, in which case a short /tmp/fg* dir is used (and removed
// afterwards). If the test failed, the tail of ovs-vswitchd.log is logged.
func New(t testing.TB) *sandbox.OVS {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	if len(dir) > 60 {
		d, err := os.MkdirTemp("", "fg")
		if err != nil {
			t.Fatalf("sandbox dir: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	o, err := sandbox.Start(filepath.Join(dir, "ovs"))
	if err != nil {
		t.Fatalf("start OVS sandbox: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ovs-vswitchd.log (%s) tail:\n%s", o.Dir, o.LogTail(40))
		}
		if err := o.Stop(); err != nil {
			t.Errorf("stop OVS sandbox: %v", err)
		}
	})
	return o
}
