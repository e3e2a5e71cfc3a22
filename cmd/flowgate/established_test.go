package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/translator/compiler"
)

// TestEstablishedConnectionsSetting: compile's flag picks the flows, a bad
// value is a usage error, and the agent config reads the same setting
// (the shipped config says survive, Calico's behaviour).
func TestEstablishedConnectionsSetting(t *testing.T) {
	db := filepath.Join(examples, "seeds/database-allow-backends")
	const recheck = "ct_state=+est-rel-rpl+trk"
	if r := run(t, "compile", "-f", db); r.err != nil || strings.Contains(r.stdout, recheck) {
		t.Errorf("default compile: err %v, re-check present %v", r.err, strings.Contains(r.stdout, recheck))
	}
	if r := run(t, "compile", "-f", db, "--established-connections", "cut"); r.err != nil || !strings.Contains(r.stdout, recheck) {
		t.Errorf("compile --established-connections cut: err %v, re-check present %v", r.err, strings.Contains(r.stdout, recheck))
	}
	if r := run(t, "compile", "-f", db, "--established-connections", "cut-initiator", "-o", "names"); r.err != nil ||
		!strings.Contains(r.stdout, recheck) || strings.Contains(r.stdout, "reply_initiator") {
		t.Errorf("compile --established-connections cut-initiator: err %v, re-check present %v, replies checked %v",
			r.err, strings.Contains(r.stdout, recheck), strings.Contains(r.stdout, "reply_initiator"))
	}
	if r := run(t, "compile", "-f", db, "--established-connections", "drop"); r.code != 2 || !strings.Contains(r.err.Error(), "--established-connections") {
		t.Errorf("a bad value: exit %d, err %v", r.code, r.err)
	}
	if r := run(t, "apply", "-f", db, "--established-connections", "drop"); r.code != 2 || !strings.Contains(r.err.Error(), "--established-connections") {
		t.Errorf("apply with a bad value must fail before touching OVS: exit %d, err %v", r.code, r.err)
	}

	shipped, err := agent.LoadConfig("../../deploy/config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := compiler.ParseEstablished(shipped.EstablishedConnections); err != nil || m != compiler.EstablishedSurvive {
		t.Errorf("deploy/config/agent.yaml: establishedConnections %q: %v, want survive", shipped.EstablishedConnections, err)
	}
	dir := t.TempDir()
	cut := writeFile(t, dir, "cut.yaml", "bridge: br-int\nestablishedConnections: cut\n")
	if cfg, err := agent.LoadConfig(cut); err != nil || cfg.EstablishedConnections != "cut" {
		t.Errorf("establishedConnections: cut: %q, %v", cfg.EstablishedConnections, err)
	}
	bad := writeFile(t, dir, "bad.yaml", "bridge: br-int\nestablishedConnections: sometimes\n")
	if _, err := agent.LoadConfig(bad); err == nil || !strings.Contains(err.Error(), "establishedConnections") {
		t.Errorf("a bad establishedConnections must be an error naming the field, got %v", err)
	}
}
