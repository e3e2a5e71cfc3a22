package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/endpoints/kube"
	"github.com/flowgate/flowgate/translator/compiler"
)

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run until stopped, keeping a bridge's flows equal to the policy in force",
		Description: `The host agent. It watches the policy directories (and the config's
neutronPaths of Neutron JSON, converted as 'flowgate import openstack'
converts it) and the bridge's ports in OVSDB, and on every change compiles
only what changed and applies it in one atomic OpenFlow bundle. A file that fails to parse is reported and its
last good content stays enforced. Changes are seen at once (inotify); the
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
/readyz (first sync done and the last one succeeded), /metrics, and
/objects (read-only: the objects in force, as a List, for flowgate diff).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "agent configuration YAML (see deploy/config/agent.yaml); optional with --kubeconfig"},
			&cli.StringFlag{Name: "kubeconfig", Usage: "watch this cluster's policy, pods and namespaces (turns kubernetes.enabled on; in a pod, enable it in the config to use the in-cluster config)"},
			&cli.StringFlag{Name: "node-name", Usage: "this node's Kubernetes name: its pods are the local ones (default: $NODE_NAME, then the config's node)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a Go CPU profile of the whole run to this file, for `go tool pprof` (latency work)"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := loadAgentConfig(c.String("config"))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if err := applyAgentFlags(c, &cfg); err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if err := configureLogging(cfg.LogLevel, cfg.LogFormat); err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if p := c.String("cpuprofile"); p != "" {
				stop, err := startCPUProfile(p)
				if err != nil {
					return cli.Exit(err.Error(), 2)
				}
				defer stop()
			}
			return runAgent(c.Context, cfg)
		},
	}
}

func runAgent(parent context.Context, cfg agentConfig) error {
	ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	opts, err := compilerOptions(cfg.FailsafeInbound, cfg.FailsafeOutbound)
	if err != nil {
		return err
	}
	if opts.Established, err = compiler.ParseEstablished(cfg.EstablishedConnections); err != nil {
		return fmt.Errorf("establishedConnections: %w", err)
	}
	health := newHealth()
	if cfg.HealthAddress != "" {
		srv, err := health.serve(cfg.HealthAddress)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	var ks *kube.Source
	if cfg.Kubernetes.Enabled { // a bad kubeconfig fails before OVS is touched
		if ks, err = kube.New(kube.Config{Kubeconfig: cfg.Kubernetes.Kubeconfig, NodeName: cfg.Node,
			Debounce: time.Duration(cfg.Kubernetes.Debounce), AutoHostEndpoints: cfg.Kubernetes.AutoHostEndpoints}); err != nil {
			return err
		}
	}
	shared, err := cfg.Shared.layout()
	if err != nil {
		return err
	}
	db, prog, err := openBridge(ctx, cfg.OVSDB, cfg.Bridge, cfg.DatapathType, shared)
	if err != nil {
		return err
	}
	defer db.Close()
	e := &engine{bridge: cfg.Bridge, node: cfg.Node, db: db, prog: prog, opts: opts, shared: shared}
	if cfg.Kubernetes.Enabled {
		e.hold = kube.IsPodPort
	}
	// The file sources: policy YAML, and Neutron's JSON converted as
	// `import openstack` converts it. Both are watched the same way.
	var srcs []*files.Source
	var watches []<-chan files.Snapshot
	if len(cfg.PolicyPaths) > 0 {
		srcs = append(srcs, files.NewSource(cfg.PolicyPaths))
	}
	if len(cfg.NeutronPaths) > 0 {
		srcs = append(srcs, files.NewFormatSource(cfg.NeutronPaths, neutronFormat()))
	}
	for _, src := range srcs {
		watches = append(watches, src.Watch(ctx, time.Duration(cfg.PollInterval)))
	}
	if ks != nil {
		watches = append(watches, ks.Watch(ctx))
	}
	// Every source's first snapshot is waited for: nothing partial.
	snaps := kube.Merge(ctx, watches...)
	// The lost-flows check runs beside the loop, so that a change is never
	// held up by one (it runs an ovs-ofctl process).
	lost := make(chan struct{}, 1)
	go func() {
		check := time.NewTicker(time.Duration(cfg.CheckInterval))
		defer check.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-check.C:
			}
			if gone, err := prog.Lost(ctx); err != nil {
				logrus.WithError(err).Warn("cannot check installed flows")
			} else if gone {
				select {
				case lost <- struct{}{}:
				default:
				}
			}
		}
	}()
	logrus.WithFields(logrus.Fields{"bridge": cfg.Bridge, "ovsdb": cfg.OVSDB, "policyPaths": cfg.PolicyPaths,
		"neutronPaths": cfg.NeutronPaths, "kubernetes": cfg.Kubernetes.Enabled, "node": cfg.Node, "shared": cfg.Shared.Enabled,
		"establishedConnections": opts.Established.String()}).Info("agent started")

	var pending bool
	// read is how long the policy source took to read what changed, for
	// the log's latency breakdown.
	var read time.Duration
	realize := func(reason string) {
		st, err := e.realize(ctx, e.objs)
		health.record(st, err)
		if err == nil {
			health.enforced.set(e.objs)
		}
		fields := logrus.Fields{"reason": reason, "changes": st.changes, "flowOps": st.flows, "full": st.full,
			"held": heldPorts(e.held), "took": st.took.String()}
		if err != nil {
			logrus.WithFields(fields).WithError(err).Error("enforcement not updated")
			return
		}
		if st.full || st.changes > 0 || st.flows > 0 {
			if !st.full {
				for k, v := range st.stages.fields() {
					fields[k] = v
				}
				if read > 0 {
					fields["readMs"] = float64(read.Microseconds()) / 1000
				}
			}
			logrus.WithFields(fields).Info("enforcement updated")
		}
	}
	started := false
	for {
		health.beat()
		select {
		case <-ctx.Done():
			logrus.Info("agent stopping; flows stay installed")
			return nil
		case snap, ok := <-snaps:
			if !ok {
				return nil
			}
			for _, p := range snap.Problems {
				logrus.WithError(p).Warn("policy input problem; last good state kept")
			}
			e.objs = snap.Objects
			started = true
			read = snap.Took
			realize("policy input changed")
			read = 0
		case <-db.Watch():
			if started {
				pending = true
			}
		case <-hup:
			logrus.Info("SIGHUP: recompiling everything")
			if !cfg.Kubernetes.Enabled {
				e.objs = nil
				for _, src := range srcs {
					e.objs = append(e.objs, src.Read().Objects...)
				}
			}
			e.comp = nil
			realize("SIGHUP")
		case <-lost:
			if started {
				logrus.Warn("flows lost (ovs-vswitchd restarted?); reinstalling")
				e.comp = nil
				realize("flows lost")
			}
		}
		if pending {
			pending = false
			realize("bridge ports changed")
		}
	}
}

// applyAgentFlags lays the command line over the config: --kubeconfig
// turns the Kubernetes source on (and, without --config, the policy files
// off), and a Kubernetes agent takes its node name from --node-name, else
// NODE_NAME (the DaemonSet sets it from spec.nodeName), else the config.
func applyAgentFlags(c *cli.Context, cfg *agentConfig) error {
	if p := c.String("kubeconfig"); p != "" {
		cfg.Kubernetes.Enabled, cfg.Kubernetes.Kubeconfig = true, p
		if c.String("config") == "" {
			cfg.PolicyPaths = nil
		}
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

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
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
