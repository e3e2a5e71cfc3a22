package unixctl_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/ovs/unixctl"
)

// TestClientAgainstVswitchd runs commands on a private ovs-vswitchd: the
// output matches ovs-appctl's, a refused command is a CommandError and
// keeps the connection, and after ovs-vswitchd restarts (new pid, new
// socket) the next call reconnects.
func TestClientAgainstVswitchd(t *testing.T) {
	o := sandboxtest.New(t)
	if got := unixctl.RunDir(o.Env()); got != o.Dir {
		t.Fatalf("RunDir(%v) = %s, want %s", o.Env(), got, o.Dir)
	}
	c, err := unixctl.Dial(unixctl.RunDir(o.Env()), "ovs-vswitchd", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := c.Call("version")
	if err != nil {
		t.Fatal(err)
	}
	want, err := o.Appctl("version")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != strings.TrimSpace(want) {
		t.Errorf("version: %q, ovs-appctl says %q", out, want)
	}
	var cmdErr *unixctl.CommandError
	if _, err := c.Call("no/such/command"); !errors.As(err, &cmdErr) {
		t.Fatalf("unknown command: %v, want a CommandError", err)
	}
	if _, err := c.Call("revalidator/purge"); err != nil {
		t.Fatalf("after a refused command: %v", err)
	}
	if err := o.RestartVswitchd(); err != nil {
		t.Fatal(err)
	}
	// The first call may still meet the old, closed connection.
	if _, err := c.Call("version"); err != nil {
		if _, err := c.Call("version"); err != nil {
			t.Fatalf("after ovs-vswitchd restarted: %v", err)
		}
	}
}

// TestRunDir: OVS_RUNDIR wins (the last one, as exec does), else the
// system default.
func TestRunDir(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"PATH=/bin"}, unixctl.DefaultRunDir},
		{[]string{"OVS_RUNDIR=/a", "OVS_RUNDIR=/b"}, "/b"},
	} {
		if got := unixctl.RunDir(tc.env); got != tc.want {
			t.Errorf("RunDir(%v) = %s, want %s", tc.env, got, tc.want)
		}
	}
}
