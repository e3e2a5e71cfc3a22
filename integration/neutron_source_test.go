package integration

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNeutronSourceLive: an agent given Neutron's own JSON (neutronPaths,
// no import, no YAML) enforces what the imported YAML does, follows a
// rewritten ports file as a port joins and leaves a security group, and
// keeps the last good state of a ports file that is broken — as an
// operator's `openstack port list --long -f json > ports.json` cron, cut
// short or truncated mid-write, would leave it.
func TestNeutronSourceLive(t *testing.T) {
	s := startNeutronSceneLive(t)
	checkNeutron(t, append(s.sampleProbes(),
		neutronProbe{what: "10.99.0.5 (router-vm's /24 pair) → lb-1:22 allowed", allowed: true,
			run: func() bool { return s.outside["10.99.0.5"].ProbeTCP(s.addr("lb-1", 22), probeTimeout) }},
		neutronProbe{what: "203.0.113.5 → lb-1:22 denied despite router-vm's 0.0.0.0/0 pair", allowed: false,
			run: func() bool { return s.outside["203.0.113.5"].ProbeTCP(s.addr("lb-1", 22), probeTimeout) }},
	))

	web := groupID(t, "web")
	s.writePorts(t, "lb-1", web, true)
	checkNeutron(t, []neutronProbe{s.tcp("lb-1", "db-1", 5432, true), s.tcp("lb-1", "db-1", 22, false)})

	// Broken ports files: a bad field names the file, the port and the
	// field; JSON cut short; an empty file (the shell's truncation before
	// the client writes). Each time lb-1 stays a member of web and the rest
	// stays as it was.
	logged := len(s.agent.log.String())
	for _, bad := range []struct{ content, want string }{
		{`{"ports": [{"id": "9a3c4a8e-0000-4000-8000-000000000001", "security_groups": 5}]}`, "ports.json:1: Port 9a3c4a8e-0000-4000-8000-000000000001: security_groups: want a list of strings"},
		{`{"ports": [{"id": "9a3c4a8e-0000`, "ports.json: invalid JSON"},
		{``, "ports.json: no JSON document"},
	} {
		if err := os.WriteFile(s.portsJSON, []byte(bad.content), 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the agent to report "+bad.want, 10*time.Second, func() bool {
			return strings.Contains(s.agent.log.String()[logged:], bad.want)
		})
		// Two poll intervals more: nothing the agent rereads changes it.
		time.Sleep(300 * time.Millisecond)
		checkNeutron(t, []neutronProbe{s.tcp("lb-1", "db-1", 5432, true), s.tcp("web-1", "db-1", 5432, true),
			s.tcp("lb-1", "web-1", 22, false), s.tcp("lb-1", "web-1", 80, true)})
	}

	s.writePorts(t, "lb-1", web, false)
	checkNeutron(t, []neutronProbe{s.tcp("lb-1", "db-1", 5432, false), s.tcp("web-1", "db-1", 5432, true)})

	// SIGHUP rereads the Neutron files (there are no policy files) and
	// recompiles everything: the same enforcement.
	if err := s.agent.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent to recompile on SIGHUP", 10*time.Second, func() bool {
		return strings.Contains(s.agent.log.String(), "reason=SIGHUP")
	})
	select {
	case <-s.agent.done:
		t.Fatal("the agent exited on SIGHUP")
	default:
	}
	checkNeutron(t, []neutronProbe{s.tcp("lb-1", "db-1", 5432, false), s.tcp("web-1", "db-1", 5432, true), s.tcp("lb-1", "web-1", 80, true)})
	if strings.Contains(s.agent.log.String(), "enforcement not updated") {
		t.Error("the agent failed to update enforcement (see its log)")
	}
}
