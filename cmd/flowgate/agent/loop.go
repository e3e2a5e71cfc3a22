package agent

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/endpoints"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/endpoints/kube"
	"github.com/flowgate/flowgate/translator/compiler"
)

// releaseAfterIdle is how long after its last incremental change the agent
// returns its garbage to the system.
const releaseAfterIdle = time.Second

// Run is the host agent: it keeps cfg.Bridge's flows equal to the policy
// its sources (files, Neutron JSON, a Kubernetes cluster) have in force
// until ctx ends or SIGTERM/SIGINT arrive. SIGHUP rereads the files and
// recompiles everything. `flowgate agent` is flag parsing around it.
func Run(parent context.Context, cfg Config) error {
	ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	opts, err := CompilerOptions(cfg.FailsafeInbound, cfg.FailsafeOutbound)
	if err != nil {
		return err
	}
	if opts.Established, err = compiler.ParseEstablished(cfg.EstablishedConnections); err != nil {
		return fmt.Errorf("establishedConnections: %w", err)
	}
	opts.LogDenied = cfg.Audit.Enabled && cfg.Audit.LogDenied
	if cfg.Audit.Enabled && len(cfg.Audit.LogDeniedTiers) > 0 {
		opts.LogDeniedTiers = map[string]bool{}
		for _, t := range cfg.Audit.LogDeniedTiers {
			opts.LogDeniedTiers[t] = true
		}
	}
	health := newHealth()
	health.maxRuleSeries = cfg.MetricsMaxRuleSeries
	if cfg.HealthAddress != "" {
		srv, err := health.serve(cfg.HealthAddress)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	if cfg.MetricsAddress != "" {
		srv, err := health.serveMetrics(cfg.MetricsAddress)
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
	shared, err := cfg.Shared.Layout()
	if err != nil {
		return err
	}
	db, prog, err := OpenBridge(ctx, cfg.OVSDB, cfg.Bridge, cfg.DatapathType, shared, os.Environ())
	if err != nil {
		return err
	}
	defer db.Close()
	counters := &bridgeCounters{bridge: cfg.Bridge, env: os.Environ(), shared: shared}
	if shared != nil {
		counters.match = fmt.Sprintf("cookie=%#x/%#x", compiler.SharedCookieMark, compiler.SharedCookieMask)
	}
	health.mu.Lock()
	health.counters = counters
	health.mu.Unlock()
	aud, err := startAudit(ctx, cfg, os.Environ(), opts)
	if err != nil {
		return err
	}
	defer aud.close()
	if aud != nil {
		if err := aud.logger.Register(health.Registerer()); err != nil {
			return fmt.Errorf("audit log metrics: %w", err)
		}
	}
	e := &Engine{Bridge: cfg.Bridge, Node: cfg.Node, DB: db, Prog: prog, Opts: opts, Shared: shared}
	if cfg.Kubernetes.Enabled {
		e.Hold = kube.IsPodPort
	}
	// The file sources: policy YAML, and Neutron's JSON converted as
	// `import openstack` converts it. Both are watched the same way.
	var srcs []*files.Source
	var watches []<-chan endpoints.Snapshot
	if len(cfg.PolicyPaths) > 0 {
		srcs = append(srcs, files.NewSource(cfg.PolicyPaths))
		persistSource(cfg, srcs[len(srcs)-1], "policy", health)
	}
	if len(cfg.NeutronPaths) > 0 {
		srcs = append(srcs, files.NewFormatSource(cfg.NeutronPaths, NeutronFormat()))
		persistSource(cfg, srcs[len(srcs)-1], "neutron", health)
	}
	for _, src := range srcs {
		watches = append(watches, src.Watch(ctx, time.Duration(cfg.PollInterval)))
	}
	if ks != nil {
		watches = append(watches, ks.Watch(ctx))
	}
	// Every source's first snapshot is waited for: nothing partial.
	snaps := endpoints.Merge(ctx, watches...)
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
		"establishedConnections": opts.Established.String(), "stateDir": cfg.StateDir}).Info("agent started")

	var pending bool
	// read is how long the policy source took to read what changed, for
	// the log's latency breakdown.
	var read time.Duration
	// idle fires releaseAfterIdle after the last incremental change, to
	// give its garbage back to the system (see below).
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	realize := func(reason string) {
		st, err := e.Realize(ctx, e.objs)
		health.record(st, err)
		if err == nil {
			health.enforced.Set(e.objs)
			health.setHeld(heldPorts(e.held))
			if st.Full || st.Changes > 0 {
				health.setRules(ruleNames(e.comp, e.world))
			}
			aud.realized(e)
		}
		fields := logrus.Fields{"reason": reason, "changes": st.Changes, "flowOps": st.Flows, "full": st.Full,
			"held": heldPorts(e.held), "took": st.Took.String()}
		if err != nil {
			logrus.WithFields(fields).WithError(err).Error("enforcement not updated")
			return
		}
		if st.Full {
			// A full realization decodes, builds and compiles everything
			// on every core: its garbage peaks far above what the agent
			// keeps (at 100k pods the heap reached 1.5× the live set), and
			// the runtime returns it to the system only slowly. The flows
			// are committed already, so this delays no enforcement.
			debug.FreeOSMemory()
		} else if err == nil && (st.Changes > 0 || st.Flows > 0) {
			idle.Reset(releaseAfterIdle)
		}
		if st.Full || st.Changes > 0 || st.Flows > 0 {
			if !st.Full {
				for k, v := range st.Stages.fields() {
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
	var verifyTick <-chan time.Time
	if cfg.Verify.Enabled {
		t := time.NewTicker(time.Duration(cfg.Verify.Interval))
		defer t.Stop()
		verifyTick = t.C
	}
	for {
		health.beat()
		select {
		case <-verifyTick:
			if started {
				e.selfVerify(health, opts, cfg.Verify.Sample)
			}
		case <-ctx.Done():
			logrus.Info("agent stopping; flows stay installed")
			if HeapProfile != "" {
				if err := WriteHeapProfile(HeapProfile); err != nil {
					logrus.WithError(err).Error("heap profile not written")
				}
				runtime.KeepAlive(e) // what the agent keeps is in the profile
			}
			return nil
		case <-idle.C:
			// Each change leaves garbage (the combined object list alone
			// is ~8 MB at 50,000 pods), which the heap keeps until it
			// doubles: at 50k pods RSS grew 215 -> 326 MiB over 20
			// changes. Once changes stop, collect it and return it to
			// the system; no change waits for it.
			debug.FreeOSMemory()
		case snap, ok := <-snaps:
			if !ok {
				return nil
			}
			for _, p := range snap.Problems {
				logrus.WithError(p).Warn("policy input problem; last good state kept")
			}
			if inputsIncomplete(health, snap.Incomplete) {
				continue
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
				snap := rereadSources(srcs)
				if inputsIncomplete(health, snap.Incomplete) {
					continue
				}
				e.objs = snap.Objects
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
