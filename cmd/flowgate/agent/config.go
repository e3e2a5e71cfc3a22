package agent

import (
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/flowgate/flowgate/endpoints/kube"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// Config is the agent's YAML configuration (deploy/config/agent.yaml
// documents every field).
type Config struct {
	// Bridge is the integration bridge; created if missing, adopted as is
	// if it exists.
	Bridge string `json:"bridge"`
	// DatapathType is the bridge's datapath_type when flowgate creates it:
	// "system" (kernel) or "netdev" (userspace).
	DatapathType string `json:"datapathType"`
	// OVSDB is the ovsdb-server address.
	OVSDB string `json:"ovsdb"`
	// Node, when set, makes only endpoints on this node local.
	Node string `json:"node"`
	// PolicyPaths are files and directories of policy and endpoint YAML.
	PolicyPaths []string `json:"policyPaths"`
	// NeutronPaths are files and directories of Neutron's own JSON
	// (security groups, ports, address groups), read as `flowgate import
	// openstack -f` reads them and enforced beside the policy files.
	NeutronPaths []string `json:"neutronPaths"`
	// StateDir keeps each input file's last good content, for a start
	// while a file is broken ("" keeps it in memory only).
	StateDir string `json:"stateDir"`
	// PollInterval is how often policy files are reread in full; changes
	// are seen at once through inotify where it works.
	PollInterval Duration `json:"pollInterval"`
	// CheckInterval is how often the agent checks that its flows are still
	// installed (they are lost when ovs-vswitchd restarts).
	CheckInterval Duration `json:"checkInterval"`
	// FailsafeInbound and FailsafeOutbound are protocol:port lists always
	// allowed into / out of host endpoints ("none" disables).
	FailsafeInbound  string `json:"failsafeInbound"`
	FailsafeOutbound string `json:"failsafeOutbound"`
	// EstablishedConnections says what a policy change does to open
	// connections: "survive" (Calico, the default) or "cut" (Neutron).
	EstablishedConnections string `json:"establishedConnections"`
	// LogLevel and LogFormat configure logging (text or json).
	LogLevel  string `json:"logLevel"`
	LogFormat string `json:"logFormat"`
	// HealthAddress serves /healthz, /readyz, /metrics and /objects (""
	// disables). Keep it on loopback: /objects shows every policy.
	HealthAddress string `json:"healthAddress"`
	// MetricsAddress also serves /metrics, alone, for a scrape from off
	// the host (e.g. ":9809"); "" serves it only on HealthAddress.
	MetricsAddress string `json:"metricsAddress"`
	// MetricsMaxRuleSeries bounds the per-rule counter series
	// (flowgate_rule_packets_total and _bytes_total): rules past it, in
	// rule id order, are summed into policy="_other".
	MetricsMaxRuleSeries int `json:"metricsMaxRuleSeries"`
	// Verify runs `flowgate verify` on a timer and exports the result.
	Verify VerifyConfig `json:"verify"`
	// Kubernetes makes the agent watch an API server for policy, pods,
	// namespaces and service accounts (deploy/kubernetes).
	Kubernetes KubernetesConfig `json:"kubernetes"`
	// Shared shares the bridge with the Neutron OVS agent.
	Shared SharedConfig `json:"shared"`
	// Audit is the log of connections Log rules record.
	Audit AuditConfig `json:"audit"`
}

// VerifyConfig is the agent's self-verification: when Enabled (off by
// default) it traces Sample connections through the bridge every Interval
// and compares them with the evaluator, as `flowgate verify` does.
type VerifyConfig struct {
	Enabled  bool     `json:"enabled"`
	Interval Duration `json:"interval"`
	Sample   int      `json:"sample"`
}

// KubernetesConfig is the agent's Kubernetes source.
type KubernetesConfig struct {
	// Enabled turns the source on (so does --kubeconfig). Node is then
	// required: pods whose spec.nodeName equals it are local.
	Enabled bool `json:"enabled"`
	// Kubeconfig is a kubeconfig file; "" uses the in-cluster config.
	Kubeconfig string `json:"kubeconfig"`
	// Debounce batches a burst of changes into one realization.
	Debounce Duration `json:"debounce"`
	// AutoHostEndpoints derives a host endpoint "<node>-auto-hep" from
	// every Node, as Calico's automatic host endpoints (kube.Config).
	AutoHostEndpoints bool `json:"autoHostEndpoints"`
}

// DefaultOVSDB is where a system Open vSwitch listens.
const DefaultOVSDB = "unix:/var/run/openvswitch/db.sock"

// DefaultConfig is what the agent does without a config file; the shipped
// deploy/config/agent.yaml says the same (TestDeployedConfigIsTheDefault).
func DefaultConfig() Config {
	return Config{
		Bridge:                 "br-int",
		DatapathType:           "system",
		OVSDB:                  DefaultOVSDB,
		PolicyPaths:            []string{"/etc/flowgate/policy"},
		NeutronPaths:           []string{},
		StateDir:               DefaultStateDir,
		PollInterval:           Duration(500 * time.Millisecond),
		CheckInterval:          Duration(2 * time.Second),
		FailsafeInbound:        policy.FormatFailsafes(policy.DefaultFailsafeInbound()),
		FailsafeOutbound:       policy.FormatFailsafes(policy.DefaultFailsafeOutbound()),
		LogLevel:               "info",
		LogFormat:              "text",
		HealthAddress:          "127.0.0.1:9808",
		MetricsMaxRuleSeries:   500,
		Verify:                 VerifyConfig{Interval: Duration(10 * time.Minute), Sample: 200},
		Kubernetes:             KubernetesConfig{Debounce: Duration(kube.DefaultDebounce)},
		Shared:                 defaultSharedConfig(),
		Audit:                  defaultAuditConfig(),
		EstablishedConnections: compiler.EstablishedSurvive.String(),
	}
}

// LoadConfig reads a config file over the defaults; unknown fields are
// errors, so a misspelt setting is never silently ignored. An empty path
// means the defaults (a Kubernetes agent configured by flags alone).
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if cfg.Bridge == "" {
		return cfg, fmt.Errorf("config %s: bridge: required", path)
	}
	if _, err := policy.ParseFailsafes(cfg.FailsafeInbound); err != nil {
		return cfg, fmt.Errorf("config %s: failsafeInbound: %w", path, err)
	}
	if _, err := policy.ParseFailsafes(cfg.FailsafeOutbound); err != nil {
		return cfg, fmt.Errorf("config %s: failsafeOutbound: %w", path, err)
	}
	if _, err := cfg.Shared.Layout(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if _, err := compiler.ParseEstablished(cfg.EstablishedConnections); err != nil {
		return cfg, fmt.Errorf("config %s: establishedConnections: %w", path, err)
	}
	if err := cfg.Audit.validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Duration reads "500ms", "2s" in YAML.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"500ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("duration %s must be positive", s)
	}
	*d = Duration(v)
	return nil
}
