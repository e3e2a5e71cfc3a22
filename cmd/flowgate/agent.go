package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/kube"
)

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run until stopped, keeping a bridge's flows equal to the policy in force",
		Description: `The host agent. It watches the policy directories (and the config's
neutronPaths of Neutron JSON, converted as 'flowgate import openstack'
converts it) and the bridge's ports in OVSDB, and on every change compiles
only what changed and applies it in one atomic OpenFlow bundle. A file that fails to parse is reported and its
last good content stays enforced; that content is also saved in the state
directory (stateDir, --state-dir), so an agent started while a file is broken
enforces its last good content. With none, the agent programs nothing (the
bridge keeps what it enforces) and /readyz says which file and why. A file
rewritten in place is read only once completely written. Changes are seen at once (inotify); the
paths are also reread every pollInterval. A port with an
external_ids:iface-id that binds to no known endpoint is held (its traffic
dropped) until its endpoint appears. If ovs-vswitchd restarts and loses the
flows, the agent puts them back. Restarting the agent does not interrupt
traffic: the new agent replaces the flows in one bundle.

  flowgate agent --config /etc/flowgate/agent.yaml
  flowgate agent --kubeconfig ~/.kube/config --node-name node-1

With --kubeconfig (or kubernetes.enabled in the config, which in a pod uses
the in-cluster config) the agent watches the API server for NetworkPolicies,
projectcalico.org/v3 policy CRDs, pods, namespaces and service accounts; pods
whose spec.nodeName is this node are local (deploy/kubernetes). Pod ports on
the bridge the agent has not realized yet are held: their traffic is dropped.

With shared.enabled in the config the agent shares the bridge with the
Neutron OVS agent (firewall_driver = noop) instead of owning it: see
flowgate apply --help and the config's shared section. Flows Neutron's agent
deletes (its stale-cookie cleanup) are put back at the next check.

Signals: SIGTERM/SIGINT stop (flows stay installed); SIGHUP rereads the
config's policy and recompiles everything. Health: GET /healthz (alive),
/readyz (first sync done, the last one succeeded, every input file has a
good state), /metrics, and /objects (read-only: the objects in force, as a
List, for flowgate diff).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "agent configuration YAML (see deploy/config/agent.yaml); optional with --kubeconfig"},
			&cli.StringFlag{Name: "kubeconfig", Usage: "watch this cluster's policy, pods and namespaces (turns kubernetes.enabled on; in a pod, enable it in the config to use the in-cluster config)"},
			&cli.StringFlag{Name: "node-name", Usage: "this node's Kubernetes name: its pods are the local ones (default: $NODE_NAME, then the config's node)"},
			&cli.StringFlag{Name: "state-dir", Usage: "keep each policy file's last good content here (under <bridge>/), to enforce it when the agent starts while the file is broken; overrides the config's stateDir (default " + agent.DefaultStateDir + ")"},
			&cli.StringFlag{Name: "log-format", Usage: "log format: text or json (one JSON object per line, for log shippers); overrides the config's logFormat"},
			cpuProfileFlag,
			&cli.StringFlag{Name: memProfileFlag.Name, Usage: "write a Go heap profile to this file when the agent stops (SIGTERM): what it keeps in memory, for `go tool pprof`"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := agent.LoadConfig(c.String("config"))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if err := applyAgentFlags(c, &cfg); err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if c.IsSet("log-format") {
				cfg.LogFormat = c.String("log-format")
			}
			agent.Version = version
			if err := configureLogging(cfg.LogLevel, cfg.LogFormat); err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if p := c.String(cpuProfileFlag.Name); p != "" {
				stop, err := startCPUProfile(p)
				if err != nil {
					return cli.Exit(err.Error(), 2)
				}
				defer stop()
			}
			agent.HeapProfile = c.String(memProfileFlag.Name)
			return agent.Run(c.Context, cfg)
		},
	}
}

// applyAgentFlags lays the command line over the config: --kubeconfig
// turns the Kubernetes source on (and, without --config, the policy files
// off), and a Kubernetes agent takes its node name from --node-name, else
// NODE_NAME (the DaemonSet sets it from spec.nodeName), else the config.
func applyAgentFlags(c *cli.Context, cfg *agent.Config) error {
	if p := c.String("kubeconfig"); p != "" {
		cfg.Kubernetes.Enabled, cfg.Kubernetes.Kubeconfig = true, p
		if c.String("config") == "" {
			cfg.PolicyPaths = nil
		}
	}
	if c.IsSet("state-dir") {
		cfg.StateDir = c.String("state-dir")
	}
	if n := c.String("node-name"); n != "" {
		cfg.Node = n
	} else if n := os.Getenv("NODE_NAME"); n != "" && cfg.Kubernetes.Enabled {
		cfg.Node = n
	}
	if cfg.Kubernetes.Enabled && cfg.Shared.Enabled {
		// Shared mode exists for the Neutron OVS agent's br-int; pods on a
		// Neutron-managed bridge are a combination nobody has tested, so it
		// is refused rather than half-supported.
		return errors.New("shared.enabled (a bridge shared with the Neutron OVS agent) and the Kubernetes source cannot be combined: shared mode is for Neutron's br-int, pods need a bridge of their own")
	}
	if !cfg.Kubernetes.Enabled {
		switch {
		case c.String("config") == "":
			return errors.New("--config is required (or --kubeconfig for a Kubernetes agent)")
		case len(cfg.PolicyPaths) == 0 && len(cfg.NeutronPaths) == 0:
			return fmt.Errorf("config %s: policyPaths: at least one path required (or neutronPaths, or kubernetes.enabled)", c.String("config"))
		}
		return nil
	}
	return kube.CheckConfig(kube.Config{Kubeconfig: cfg.Kubernetes.Kubeconfig, NodeName: cfg.Node})
}

// configureLogging sets logrus from the config file's settings.
func configureLogging(level, format string) error {
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("logLevel: %w", err)
	}
	logrus.SetLevel(lvl)
	switch format {
	case "text":
		logrus.SetFormatter(&logrus.TextFormatter{})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return errors.New("logFormat: want text or json")
	}
	return nil
}
