package agent

import (
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/ovs/unixctl"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/evaluator"
)

// selfVerify runs one self-verification (config verify) on the engine's
// current world between realizations, and exports and logs the result.
// It only reads the bridge (ofproto/trace).
func (e *Engine) selfVerify(h *health, opts compiler.Options, sample int) {
	if e.comp == nil || e.world == nil {
		return
	}
	client := unixctl.New(unixctl.RunDir(os.Environ()), "ovs-vswitchd", 30*time.Second)
	defer client.Close()
	t := &Tracer{Bridge: e.Bridge, Call: client.Call, Locals: e.locals, OutsidePort: OutsidePort(e.Ports(), e.locals), Comp: e.comp,
		Eval: evaluator.New(e.world, evaluator.Options{FailsafeInbound: opts.FailsafeInbound, FailsafeOutbound: opts.FailsafeOutbound})}
	start := time.Now()
	rep, err := t.Verify(e.world, sample, start.UnixNano())
	h.recordVerify(rep, err)
	if err != nil {
		logrus.WithError(err).Warn("self-verification could not trace")
		return
	}
	for _, r := range rep.Disagreed {
		logrus.WithFields(logrus.Fields{"from": r.From, "to": r.To, "packet": r.Packet, "bridgeAllowed": r.Allowed,
			"evaluatorAllowed": r.EvaluatorAllowed, "egress": r.EgressBy, "ingress": r.IngressBy, "traceSpec": r.Spec}).Error("self-verification: the bridge and the evaluator disagree")
	}
	for _, r := range rep.RuleMismatches {
		logrus.WithFields(logrus.Fields{"from": r.From, "to": r.To, "packet": r.Packet, "allowed": r.Allowed,
			"egress": r.Egress.String() + " (" + r.EgressBy + ")", "ingress": r.Ingress.String() + " (" + r.IngressBy + ")",
			"evaluatorEgress": r.EvaluatorEgress.String(), "evaluatorIngress": r.EvaluatorIngress.String(),
			"traceSpec": r.Spec}).Warn("self-verification: the bridge and the evaluator agree on the verdict but not on the deciding rule")
	}
	logrus.WithFields(logrus.Fields{"traced": rep.Traced, "disagreed": len(rep.Disagreed), "ruleMismatches": len(rep.RuleMismatches),
		"took": time.Since(start).String()}).Info("self-verification done")
}
