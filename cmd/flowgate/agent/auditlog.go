package agent

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/audit"
	"github.com/flowgate/flowgate/ovs/ofconn"
	"github.com/flowgate/flowgate/ovs/packetin"
	"github.com/flowgate/flowgate/ovs/unixctl"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/evaluator"
)

// auditor runs the audit log beside the agent loop: its own OpenFlow
// connection to the bridge's management socket receives the packets Log
// rules send, the switch's controller meter caps them, and the logger
// names them in the world last realized. Nothing here can hold up or
// change enforcement: the connection failing only stops the log (and is
// logged, and retried).
type auditor struct {
	cfg    AuditConfig
	bridge string
	socket string
	logger *audit.Logger
	closer io.Closer
	eval   evaluator.Options
}

// startAudit starts the audit log when cfg.Audit.Enabled (nil otherwise).
func startAudit(ctx context.Context, cfg Config, env []string, opts compiler.Options) (*auditor, error) {
	if !cfg.Audit.Enabled {
		return nil, nil
	}
	out, closer, err := audit.OpenSink(cfg.Audit.Destination, audit.FileConfig{Path: cfg.Audit.File,
		MaxSizeMB: cfg.Audit.MaxSizeMB, MaxBackups: cfg.Audit.MaxBackups}, os.Stdout)
	if err != nil {
		return nil, err
	}
	a := &auditor{
		cfg:    cfg.Audit,
		bridge: cfg.Bridge,
		socket: ofconn.SocketPath(unixctl.RunDir(env), cfg.Bridge),
		logger: audit.New(audit.Config{Bridge: cfg.Bridge, Rate: float64(cfg.Audit.RatePerSecond), Burst: cfg.Audit.Burst,
			Dedupe: dedupeWindow, ReportInterval: time.Duration(cfg.Audit.ReportInterval)}, out),
		closer: closer,
		eval:   evaluator.Options{FailsafeInbound: opts.FailsafeInbound, FailsafeOutbound: opts.FailsafeOutbound},
	}
	go a.logger.Run(ctx)
	go a.connect(ctx)
	return a, nil
}

// realized names logged packets in the world e enforces from now on.
func (a *auditor) realized(e *Engine) {
	if a == nil || e.comp == nil || e.world == nil {
		return
	}
	a.logger.SetView(audit.NewView(e.world, e.comp.PolicyIDs(), e.comp.TierNames(), a.eval))
}

// close closes the log file.
func (a *auditor) close() {
	if a != nil {
		a.closer.Close()
	}
}

// maxRedial bounds the wait between attempts to reconnect.
const maxRedial = 30 * time.Second

// connect keeps the packet-in connection up until ctx ends: it dials,
// installs the controller meter (again after ovs-vswitchd restarts, which
// forget meters) and reads the meter's drops into the logger.
func (a *auditor) connect(ctx context.Context) {
	wait := time.Second
	// base carries the switch's drops over meter resets (a restarted
	// ovs-vswitchd counts from zero again).
	var base, last uint64
	poll := min(time.Duration(a.cfg.ReportInterval), 5*time.Second)
	for ctx.Err() == nil {
		c, err := packetin.Dial(ctx, a.socket, a.logger.Handle)
		if err != nil {
			logrus.WithError(err).WithField("retryIn", wait.String()).Warn("audit log: no packet-in connection; Log rules are not logged until it is up")
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, maxRedial)
			continue
		}
		wait = time.Second
		meter := true
		if err := c.SetControllerMeter(ctx, uint32(a.cfg.RatePerSecond), uint32(a.cfg.Burst)); err != nil {
			meter = false
			logrus.WithError(err).Warn("audit log: no controller meter in the switch; only the agent limits the rate")
		}
		logrus.WithFields(logrus.Fields{"bridge": a.bridge, "socket": a.socket, "ratePerSecond": a.cfg.RatePerSecond,
			"burst": a.cfg.Burst, "meter": meter, "destination": a.cfg.Destination}).Info("audit log: receiving logged packets")
		tick := time.NewTicker(poll)
	read:
		for {
			select {
			case <-ctx.Done():
				tick.Stop()
				c.Close()
				return
			case <-c.Done():
				logrus.WithError(c.Err()).Warn("audit log: packet-in connection lost; reconnecting")
				break read
			case <-tick.C:
				if !meter {
					continue
				}
				n, err := c.ControllerMeterCounts(ctx)
				if err != nil {
					logrus.WithError(err).Debug("audit log: cannot read the controller meter")
					continue
				}
				if n.Dropped < last {
					base += last
				}
				last = n.Dropped
				a.logger.SetSwitchDropped(base + last)
			}
		}
		tick.Stop()
	}
}
