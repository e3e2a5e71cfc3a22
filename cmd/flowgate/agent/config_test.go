package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedAgentConfigs: the documented config (deploy/config) and the
// DaemonSet's (deploy/kubernetes) load strictly — every field they spell
// out exists — and say what they document.
func TestShippedAgentConfigs(t *testing.T) {
	cfg, err := LoadConfig("../../../deploy/config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kubernetes.Enabled || cfg.Kubernetes.AutoHostEndpoints {
		t.Errorf("deploy/config/agent.yaml: kubernetes %+v, want everything off", cfg.Kubernetes)
	}
	cfg, err = LoadConfig("../../../deploy/kubernetes/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Kubernetes.Enabled || cfg.Kubernetes.Kubeconfig != "" || cfg.Kubernetes.AutoHostEndpoints || len(cfg.PolicyPaths) != 0 {
		t.Errorf("deploy/kubernetes/agent.yaml: %+v, want the in-cluster source, no files, no automatic host endpoints", cfg)
	}
	// /objects shows every policy: the health address stays on loopback,
	// and only /metrics is served where a scrape reaches it.
	if cfg.HealthAddress != "127.0.0.1:9808" || cfg.MetricsAddress != ":9809" {
		t.Errorf("deploy/kubernetes/agent.yaml: healthAddress %q, metricsAddress %q; want 127.0.0.1:9808 and :9809", cfg.HealthAddress, cfg.MetricsAddress)
	}
	if cfg.Verify.Enabled {
		t.Errorf("deploy/kubernetes/agent.yaml: self-verification on; it is off by default")
	}
}

// TestAuditConfigRefused: an audit section that cannot work is a config
// error at start, not a log that silently writes nowhere.
func TestAuditConfigRefused(t *testing.T) {
	for _, section := range []string{
		"audit:\n  destination: syslog\n",
		"audit:\n  destination: file\n  file: \"\"\n",
		"audit:\n  ratePerSecond: 0\n",
		"audit:\n  maxSizeMB: 0\n",
	} {
		path := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(path, []byte("bridge: br-int\n"+section), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "audit") {
			t.Errorf("%q: error %v, want one naming audit", section, err)
		}
	}
}
