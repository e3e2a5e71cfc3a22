package agent

import (
	"fmt"
	"net"
	"strings"

	"github.com/flowgate/flowgate/endpoints/ovsbind"
	"github.com/flowgate/flowgate/ovs/oftrace"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// Stand-in MACs for the ends of a traced packet beyond the host that
// have no MAC of their own (as the differential test uses).
const (
	outsideSrcMAC = "02:aa:00:00:00:01"
	outsideDstMAC = "02:bb:00:00:00:01"
)

// Appctl runs one ovs-appctl command on ovs-vswitchd (a
// unixctl.Client's Call).
type Appctl func(method string, params ...string) (string, error)

// Tracer runs connections through a live bridge with ofproto/trace and
// holds what the bridge did against the reference evaluator: `flowgate
// trace`, `flowgate verify` and the agent's verify timer.
type Tracer struct {
	// Bridge is the traced bridge; Call reaches its ovs-vswitchd.
	Bridge string
	Call   Appctl
	// Locals are the endpoints bound to the bridge's ports; OutsidePort
	// is where packets from beyond the host enter (an uplink or tunnel).
	Locals      map[string]compiler.Binding
	OutsidePort uint32
	// Comp names the rule ids the bridge records (compiled from the same
	// world, so its policy numbers are the bridge's); Eval is the
	// reference.
	Comp *compiler.Compiler
	Eval *evaluator.Evaluator
	// Staged, when the world holds staged policies, is the evaluator of
	// the world with them committed: staged policies are never enforced,
	// so a trace also says what the connection would get once they are.
	// Staging is the number of staged policies.
	Staged  *evaluator.Evaluator
	Staging int
}

// TraceSide is the rule that decided one direction: its tier, policy, its
// index in the rule list the user wrote, and its action.
type TraceSide struct {
	Tier     string `json:"tier"`
	Policy   string `json:"policy"`
	Rule     int    `json:"rule"`
	RuleName string `json:"ruleName,omitempty"`
	Action   string `json:"action"`
}

// String prints "tier/policy direction[rule] Action".
func (s *TraceSide) String() string {
	if s == nil {
		return "no rule"
	}
	name := ""
	if s.RuleName != "" {
		name = fmt.Sprintf(" %q", s.RuleName)
	}
	return fmt.Sprintf("%s/%s rule %d%s %s", s.Tier, s.Policy, s.Rule, name, s.Action)
}

// TraceResult is one traced connection: what the bridge did, what decided
// it (decoded from the trace, never from the policy), and the evaluator's
// answer for the same packet.
type TraceResult struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Packet string `json:"packet"`
	// Allowed is the bridge's verdict: the packet was delivered.
	Allowed bool `json:"allowed"`
	// Egress and Ingress are the rules that decided on the bridge; nil
	// when a default (or no policy) decided, which EgressBy/IngressBy
	// then describe.
	Egress    *TraceSide `json:"egress"`
	Ingress   *TraceSide `json:"ingress"`
	EgressBy  string     `json:"egressDecidedBy"`
	IngressBy string     `json:"ingressDecidedBy"`
	// EvaluatorAllowed is the evaluator's verdict over the directions the
	// bridge enforces (the egress of a local source, the ingress of a
	// local destination); EvaluatorEgress/Ingress its deciding rules.
	EvaluatorAllowed bool       `json:"evaluatorAllowed"`
	EvaluatorEgress  *TraceSide `json:"evaluatorEgress"`
	EvaluatorIngress *TraceSide `json:"evaluatorIngress"`
	// Agree: the verdicts are the same; SameRules: so is every deciding
	// rule the bridge reached.
	Agree     bool `json:"agree"`
	SameRules bool `json:"sameRules"`
	// Spec is the packet as given to ofproto/trace; Trace its output.
	Spec  string `json:"traceSpec"`
	Trace string `json:"-"`
	// WouldBe is the evaluator's verdict with the staged policies
	// committed; nil when there are none.
	WouldBe *WouldBe `json:"wouldBe,omitempty"`
}

// WouldBe is what a traced connection would get with the staged policies
// committed, over the same directions as EvaluatorAllowed.
type WouldBe struct {
	// Allowed is the verdict; Changed says it differs from the one the
	// bridge enforces now (EvaluatorAllowed).
	Allowed bool `json:"allowed"`
	Changed bool `json:"changed"`
	// Staged is the number of staged policies committed.
	Staged int `json:"staged"`
	// Egress and Ingress are the deciding rules (nil: a default).
	Egress  *TraceSide `json:"egress"`
	Ingress *TraceSide `json:"ingress"`
}

// OutsidePort picks the port packets from beyond the host enter through:
// the first port that is not a workload port and has no endpoint bound
// (an uplink or tunnel), else the bridge's own port LOCAL.
func OutsidePort(ports []ovsbind.Port, locals map[string]compiler.Binding) uint32 {
	bound := map[uint32]bool{}
	for _, b := range locals {
		bound[b.OFPort] = true
	}
	for _, p := range ports {
		if p.OFPort > 0 && !ovsbind.IsWorkloadPort(p) && !bound[uint32(p.OFPort)] {
			return uint32(p.OFPort)
		}
	}
	return 0xfffe
}

// Trace runs the first packet of a new connection from src to dst through
// the bridge and compares it with the evaluator.
func (t *Tracer) Trace(src, dst evaluator.Participant, pkt evaluator.Packet) (TraceResult, error) {
	sb, sLocal := t.binding(src)
	db, dLocal := t.binding(dst)
	inPort, dlSrc, dlDst := t.OutsidePort, endMAC(src, outsideSrcMAC), endMAC(dst, outsideDstMAC)
	if sLocal {
		inPort, dlSrc = sb.OFPort, sb.MAC.String()
	}
	if dLocal {
		dlDst = db.MAC.String()
	}
	spec := oftrace.Spec(inPort, dlSrc, dlDst, pkt)
	out, err := t.Call("ofproto/trace", t.Bridge, spec, "--ct-next", "trk,new")
	if err != nil {
		return TraceResult{}, fmt.Errorf("trace %s -> %s %s: %w", src.Name, dst.Name, pkt, err)
	}
	return t.Read(src, dst, pkt, spec, out), nil
}

// Read decodes out, the trace of spec (pkt from src to dst), and compares
// it with the evaluator.
func (t *Tracer) Read(src, dst evaluator.Participant, pkt evaluator.Packet, spec, out string) TraceResult {
	_, sLocal := t.binding(src)
	_, dLocal := t.binding(dst)
	got := oftrace.Decode(out)
	r := TraceResult{From: src.Name, To: dst.Name, Packet: pkt.String(), Allowed: got.Delivered, Spec: spec, Trace: out}
	r.Egress, r.EgressBy = t.side(got.Egress, policy.Egress)
	r.Ingress, r.IngressBy = t.side(got.Ingress, policy.Ingress)

	ev := localVerdict(t.Eval, src, dst, pkt, sLocal, dLocal)
	r.EvaluatorAllowed, r.EvaluatorEgress, r.EvaluatorIngress = ev.allowed, ev.egress, ev.ingress
	r.SameRules = true
	if ev.egressDecided {
		r.SameRules = sameSide(r.Egress, r.EvaluatorEgress)
	}
	// Ingress is walked only when egress let the packet on.
	if ev.ingressDecided && (got.Ingress != nil || !ev.egressDecided || ev.egressAllowed) {
		r.SameRules = r.SameRules && sameSide(r.Ingress, r.EvaluatorIngress)
	}
	if t.Staged != nil {
		sv := localVerdict(t.Staged, src, dst, pkt, sLocal, dLocal)
		r.WouldBe = &WouldBe{Allowed: sv.allowed, Changed: sv.allowed != ev.allowed, Staged: t.Staging, Egress: sv.egress, Ingress: sv.ingress}
	}
	r.Agree = r.Allowed == r.EvaluatorAllowed
	return r
}

// local is the evaluator's answer over the directions the bridge
// enforces: the egress of a local source, the ingress of a local
// destination.
type local struct {
	allowed bool
	// egress and ingress are the deciding rules of the enforced
	// directions (nil for a default).
	egress, ingress *TraceSide
	// egressDecided and ingressDecided say the direction is enforced
	// here and was decided; egressAllowed is egress's answer.
	egressDecided, ingressDecided, egressAllowed bool
}

// localVerdict evaluates pkt with ev over the directions the bridge
// enforces.
func localVerdict(ev *evaluator.Evaluator, src, dst evaluator.Participant, pkt evaluator.Packet, sLocal, dLocal bool) local {
	v := ev.Evaluate(src.Endpoint, dst.Endpoint, pkt)
	l := local{allowed: true}
	if sLocal && v.Egress != nil {
		l.allowed = v.Egress.Allowed
		l.egress = evaluatorSide(v.Egress)
		l.egressDecided, l.egressAllowed = true, v.Egress.Allowed
	}
	if dLocal && v.Ingress != nil {
		l.allowed = l.allowed && v.Ingress.Allowed
		l.ingress = evaluatorSide(v.Ingress)
		l.ingressDecided = true
	}
	return l
}

// binding is the participant's binding on this bridge, if it is local.
func (t *Tracer) binding(p evaluator.Participant) (compiler.Binding, bool) {
	if p.Endpoint == nil {
		return compiler.Binding{}, false
	}
	b, ok := t.Locals[p.Endpoint.ID()]
	return b, ok
}

// endMAC is a remote end's MAC: its endpoint's own, else the stand-in.
func endMAC(p evaluator.Participant, standIn string) string {
	if p.Endpoint != nil && len(p.Endpoint.MAC) == 6 {
		return net.HardwareAddr(p.Endpoint.MAC).String()
	}
	return standIn
}

// side names what decided one direction on the bridge: the rule, or (nil
// rule) a description of the default.
func (t *Tracer) side(d *oftrace.Decision, dir policy.Direction) (*TraceSide, string) {
	if d == nil {
		return nil, "no policy walked (not a local endpoint, no policy, or dropped before)"
	}
	word := map[bool]string{true: "allow", false: "deny"}[d.Allowed]
	switch d.By {
	case oftrace.ByRule:
		n, ok := t.Comp.RuleOf(d.RuleID, dir)
		if !ok {
			return &TraceSide{Policy: fmt.Sprintf("unknown rule id %#x", d.RuleID), Rule: -1, Action: word}, "rule"
		}
		return &TraceSide{Tier: n.Tier, Policy: n.Policy, Rule: n.Index, RuleName: n.Name, Action: n.Action.String()}, "rule"
	case oftrace.ByFailsafe:
		return nil, "failsafe port: " + word
	case oftrace.ByDefault:
		if n, ok := compiler.TierNumberOfCode(d.Code); ok {
			// The tier's own code in reg7 names it.
			tier := fmt.Sprintf("number %#x", n)
			if name, ok := t.Comp.TierOfNumber(n); ok {
				tier = name
			}
			return nil, fmt.Sprintf("end of tier %s: %s", tier, word)
		}
		switch d.Code {
		case compiler.CodeEndpointAllow, compiler.CodeEndpointDeny:
			return nil, "endpoint default: " + word
		}
		return nil, fmt.Sprintf("default %#x: %s", d.Code, word)
	}
	return nil, "undecided: " + word
}

// evaluatorSide is the evaluator's deciding rule, nil for a default.
func evaluatorSide(d *evaluator.Decision) *TraceSide {
	if d == nil || d.Rule == nil {
		return nil
	}
	return &TraceSide{Tier: d.Rule.Tier, Policy: d.Rule.Policy, Rule: d.Rule.Index, RuleName: d.Rule.Name, Action: d.Rule.Action.String()}
}

// sameSide reports whether the bridge and the evaluator name the same
// rule (or both a default).
func sameSide(a, b *TraceSide) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Tier == b.Tier && a.Policy == b.Policy && a.Rule == b.Rule && strings.EqualFold(a.Action, b.Action)
}
