package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/translator/compiler"
)

// TestDeployedConfigIsTheDefault: deploy/config/agent.yaml says what the
// agent does without it, the shared section included.
func TestDeployedConfigIsTheDefault(t *testing.T) {
	got, err := agent.LoadConfig("../../deploy/config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := agent.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("deploy/config/agent.yaml = %+v\ndefaults = %+v", got, want)
	}
}

// TestSharedConfig: the shared section reads `normal` or a table number,
// and a layout that would land on Neutron's tables is refused.
func TestSharedConfig(t *testing.T) {
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(p, []byte("policyPaths: [/tmp]\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := agent.LoadConfig(write("shared: {enabled: true, handBack: 94}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cfg.Shared.Layout()
	if err != nil || s == nil || *s != (compiler.Shared{TableBase: 100, EntryTable: 60, HandBack: 94}) {
		t.Fatalf("layout = %+v, %v", s, err)
	}
	cfg, err = agent.LoadConfig(write("shared: {enabled: true, handBack: normal, tableBase: 120}\n"))
	if s, err := cfg.Shared.Layout(); err != nil || s.HandBack != 0 || s.TableBase != 120 {
		t.Fatalf("layout = %+v, %v", s, err)
	}
	for body, want := range map[string]string{
		"shared: {enabled: true, tableBase: 30}\n":  "Neutron's",
		"shared: {enabled: true, handBack: 300}\n":  "handBack",
		"shared: {enabled: true, handBack: what}\n": "handBack",
		"shared: {enabled: true, entryTable: -1}\n": "entryTable",
	} {
		if _, err := agent.LoadConfig(write(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error about %s", body, err, want)
		}
	}
	if cfg, err := agent.LoadConfig(write("shared: {tableBase: 30}\n")); err != nil {
		t.Errorf("a disabled section is not checked: %v", err)
	} else if s, _ := cfg.Shared.Layout(); s != nil {
		t.Errorf("disabled section gave layout %+v", s)
	}
}

// TestSharedUsageErrors: bad shared settings are usage errors, before any
// bridge is touched.
func TestSharedUsageErrors(t *testing.T) {
	db := "../../examples/seeds/database-allow-backends"
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfg, []byte("policyPaths: [/tmp]\nshared: {enabled: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"apply", "--shared", "--table-base", "30", "-f", db}, "Neutron's"},
		{[]string{"compile", "--shared", "--hand-back", "x", "-f", db}, "--hand-back"},
		{[]string{"status", "--shared", "--entry-table", "300"}, "entryTable"},
		{[]string{"agent", "--config", cfg, "--kubeconfig", "/nonexistent"}, "cannot be combined"},
	} {
		r := run(t, c.args...)
		if r.code != 2 || r.err == nil || !strings.Contains(r.err.Error(), c.msg) {
			t.Errorf("%v: exit %d, err %v, want exit 2 and %q", c.args, r.code, r.err, c.msg)
		}
	}
}
