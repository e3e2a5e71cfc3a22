package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
)

// endpointFlows compiles what one local endpoint owns: its classify, spoof
// guard and destination flows, and its dispatch (with failsafes) in each
// direction.
func (c *Compiler) endpointFlows(e *policy.Endpoint, b Binding) ([]Flow, error) {
	if b.OFPort == 0 {
		return nil, fmt.Errorf("no OpenFlow port")
	}
	if len(b.MAC) != 6 {
		return nil, fmt.Errorf("no MAC address: the destination table cannot recognise it")
	}
	port := b.OFPort
	zone := c.endpointZone(e, b)
	ck := c.opts.cookie(CategoryEndpoint, false, port)
	f := func(t Table, prio uint16, match, actions string) Flow {
		return Flow{Table: c.opts.table(t), Priority: prio, Match: match, Actions: actions, Cookie: ck}
	}
	inPort := fmt.Sprintf("in_port=%d", port)
	if e.Guard == policy.GuardNone {
		// Not filtered: switched as a port that is no endpoint is (no
		// source endpoint, so no egress policy), without conntrack unless
		// it reaches a filtered endpoint, and never a destination endpoint.
		out := []Flow{
			f(TableClassify, prioEndpoint, inPort, setField(uint32(zone), regZone)+fmt.Sprintf(",goto_table:%d", c.opts.table(TableConntrack))),
			f(TableConntrack, prioUnfiltered, inPort, c.opts.normal()),
		}
		if len(c.zones) > 0 {
			out = append(out, c.unfilteredArrivalFlows(f, zone, b.MAC.String())...)
		}
		return out, nil
	}
	out := []Flow{
		f(TableClassify, prioEndpoint, inPort, setField(port, regSrc)+","+setField(uint32(zone), regZone)+fmt.Sprintf(",goto_table:%d", c.opts.table(TableSpoofGuard))),
	}
	untracked := policy.Untracked(e)
	for i, src := range sourceMACs(e, b.MAC) {
		// The endpoint is the destination of frames to any of its MACs;
		// from an unfiltered port they still meet conntrack and its
		// ingress policy.
		if i == 0 || !c.claimedElsewhere(e.ID(), src.mac) {
			out = append(out, f(TableDestination, prioEndpoint, "dl_dst="+src.mac, setField(port, regDst)+fmt.Sprintf(",goto_table:%d", c.opts.table(TableIngressDispatch))))
			out = append(out, c.arrivalFlows(f, zone, src.mac, untracked)...)
			// A reply to any of them may be to a connection it opened.
			out = append(out, c.replyInitiatorFlows(port, src.mac, ck)...)
		}
		if e.Kind == policy.HostEndpoint {
			// Calico polices neither the addresses nor the MACs of host
			// interfaces (the fabric configures them): whatever the host
			// sends meets its policy, whatever its source address.
			if i == 0 {
				out = append(out, f(TableSpoofGuard, prioEndpoint, inPort, fmt.Sprintf("goto_table:%d", c.opts.table(TableConntrack))))
			}
			continue
		}
		out = append(out, c.spoofGuardFlows(f, inPort, src)...)
	}
	if e.Guard == policy.GuardNeutron {
		out = append(out, c.neutronPortFlows(f, inPort, b.MAC.String())...)
	}
	// Router advertisements and every other frame from the port are dropped
	// by the table's default.
	if untracked {
		out = append(out, c.untrackedFlows(f, port)...)
	}
	for _, dir := range []policy.Direction{policy.Egress, policy.Ingress} {
		out = append(out, c.dispatchFlows(e, port, dir)...)
	}
	return out, nil
}

// dispatchFlows walks, for one endpoint and direction, the tiers and the
// policies that apply, then the endpoint's default.
func (c *Compiler) dispatchFlows(e *policy.Endpoint, port uint32, dir policy.Direction) []Flow {
	dispatch, rules, tierEnd, verdict := TableEgressDispatch, TableEgressRules, TableEgressTierEnd, TableEgressVerdict
	reg := "reg0"
	failsafes := c.opts.FailsafeOutbound
	if dir == policy.Ingress {
		dispatch, rules, tierEnd, verdict = TableIngressDispatch, TableIngressRules, TableIngressTierEnd, TableIngressVerdict
		reg = "reg1"
		failsafes = c.opts.FailsafeInbound
	}
	ck := c.opts.cookie(CategoryDispatch, dir == policy.Ingress, port)
	match := fmt.Sprintf("%s=%#x", reg, port)
	var out []Flow
	if e.Kind == policy.HostEndpoint {
		for _, fs := range failsafes {
			for _, fam := range []uint8{4, 6} {
				kw := protoKeyword(fs.Protocol, fam)
				out = append(out, Flow{Table: c.opts.table(dispatch), Priority: prioSpecific, Cookie: ck,
					Match:   fmt.Sprintf("%s,%s,%s=%d", match, kw, portField(fs.Protocol, "dst"), fs.Port),
					Actions: setField(verdictAllow, regVerdict) + fmt.Sprintf(",goto_table:%d", c.opts.table(verdict))})
			}
		}
	}
	labels := c.entities[endpointKey(e.ID())].labels
	// The verdict register still holds the egress verdict when ingress
	// starts: every walk begins undecided.
	acts := []string{setField(0, regVerdict)}
	any := false
	for _, tp := range c.applying(labels, dir) {
		for _, p := range tp.policies {
			// A policy that failed to compile still selects the endpoint:
			// its tier must still end in a decision.
			if c.compiled(p.ID()) {
				acts = append(acts, setField(c.numbers[p.ID()], regPolicy)+","+setField(0, regGuard)+fmt.Sprintf(",resubmit(,%d)", c.opts.table(rules)))
			}
		}
		any = true
		code := uint32(codeTierEndPass)
		if tp.tier.DefaultAction != policy.Pass {
			code = tierDenyCode(c.tierNumbers[tp.tier.Name])
			if slices.ContainsFunc(tp.policies, func(p *policy.Policy) bool { return p.LogDenied }) {
				code = tierDenyLoggedCode(c.tierNumbers[tp.tier.Name])
			}
		}
		acts = append(acts, setField(code, regPolicy)+fmt.Sprintf(",resubmit(,%d)", c.opts.table(tierEnd)))
	}
	defaultAllow := c.world.DefaultAllow(e)
	if !any && defaultAllow {
		return out // the dispatch table's default allows
	}
	code := codeProfileDeny
	if defaultAllow {
		code = codeProfileAllow
	}
	acts = append(acts, setField(uint32(code), regPolicy)+fmt.Sprintf(",resubmit(,%d)", c.opts.table(tierEnd)))
	acts = append(acts, fmt.Sprintf("goto_table:%d", c.opts.table(verdict)))
	return append(out, Flow{Table: c.opts.table(dispatch), Priority: prioEndpoint, Match: match, Actions: strings.Join(acts, ","), Cookie: ck})
}

// pipelineFlows are the fixed flows every bridge has.
func (c *Compiler) pipelineFlows() []Flow {
	ck := c.opts.cookie(CategoryPipeline, false, 0)
	f := func(t Table, prio uint16, match, actions string) Flow {
		return Flow{Table: c.opts.table(t), Priority: prio, Match: match, Actions: actions, Cookie: ck}
	}
	ct := fmt.Sprintf("ct(table=%d,zone=%s)", c.opts.table(TableConntrackState), regZone)
	commit := fmt.Sprintf("ct(commit,zone=%s,exec(%s,move:%s->%s,move:%s->%s)),%s",
		regZone, setField(ctMarkCommitted, "NXM_NX_CT_MARK[0]"), regEgressRule, ctLabelEgress, regIngressRule, ctLabelIngress, c.opts.normal())
	out := []Flow{
		f(TableClassify, prioMiss, "", setField(uint32(c.opts.DefaultZone), regZone)+fmt.Sprintf(",goto_table:%d", c.opts.table(TableConntrack))),
		f(TableSpoofGuard, prioMiss, "", "drop"),
		f(TableConntrack, prioDefault, "ip", ct),
		f(TableConntrack, prioDefault, "ipv6", ct),
		f(TableConntrack, prioMiss, "", c.opts.normal()),
		f(TableConntrackState, prioHigh, "ct_state=+inv+trk", "drop"),
		f(TableConntrackState, prioEndpoint, "ct_state=+new+trk", fmt.Sprintf("goto_table:%d", c.opts.table(TableEgressDispatch))),
		f(TableConntrackState, prioMiss, "", "drop"),
		f(TableEgressDispatch, prioMiss, "", fmt.Sprintf("goto_table:%d", c.opts.table(TableDestination))),
		f(TableEgressVerdict, prioDefault, fmt.Sprintf("reg6=%#x", verdictAllow), fmt.Sprintf("goto_table:%d", c.opts.table(TableDestination))),
		f(TableEgressVerdict, prioMiss, "", "drop"),
		f(TableDestination, prioMiss, "", fmt.Sprintf("goto_table:%d", c.opts.table(TableCommit))),
		f(TableIngressDispatch, prioMiss, "", fmt.Sprintf("goto_table:%d", c.opts.table(TableCommit))),
		f(TableIngressVerdict, prioDefault, fmt.Sprintf("reg6=%#x", verdictAllow), fmt.Sprintf("goto_table:%d", c.opts.table(TableCommit))),
		f(TableIngressVerdict, prioMiss, "", "drop"),
		f(TableCommit, prioDefault, "ip", commit),
		f(TableCommit, prioDefault, "ipv6", commit),
		f(TableCommit, prioMiss, "", c.opts.normal()),
	}
	out = append(out, c.conntrackStateFlows(f)...)
	// Neighbour discovery from ports that are no endpoint bypasses conntrack.
	for _, t := range []int{133, 134, 135, 136} {
		out = append(out, f(TableConntrack, prioSpecific, fmt.Sprintf("icmp6,icmpv6_type=%d", t), c.opts.normal()))
	}
	for _, t := range []Table{TableEgressTierEnd, TableIngressTierEnd} {
		deny := func(code uint32) string {
			if !c.opts.LogDenied {
				return setField(verdictDeny, regVerdict)
			}
			return fmt.Sprintf("controller(userdata=%s),%s", deniedUserdata(code, t == TableIngressTierEnd), setField(verdictDeny, regVerdict))
		}
		out = append(out,
			// An explicit Pass ends the tier; the next one decides. Each
			// Deny tier's end is its own flow (tierEndFlows).
			f(t, prioHigh, fmt.Sprintf("reg6=%#x", verdictPass), setField(0, regVerdict)),
			f(t, prioDefault, fmt.Sprintf("reg6=0,reg7=%#x", codeProfileAllow), setField(verdictAllow, regVerdict)),
			f(t, prioDefault, fmt.Sprintf("reg6=0,reg7=%#x", codeProfileDeny), deny(codeProfileDeny)))
	}
	return out
}

// untrackedFlows make an untracked endpoint's packets skip conntrack
// (arrivalFlows does the same for packets to it): they go from the
// conntrack table straight to policy, where egress and ingress rules decide
// each packet as if it opened a connection, and leave through the commit
// table without a commit.
func (c *Compiler) untrackedFlows(f func(Table, uint16, string, string) Flow, port uint32) []Flow {
	toPolicy := fmt.Sprintf("goto_table:%d", c.opts.table(TableEgressDispatch))
	m := fmt.Sprintf("reg0=%#x", port)
	out := []Flow{
		f(TableConntrack, prioEndpoint, m+",ip", toPolicy),
		f(TableConntrack, prioEndpoint, m+",ipv6", toPolicy),
	}
	for _, reg := range []string{"reg0", "reg1"} {
		out = append(out, f(TableCommit, prioEndpoint, fmt.Sprintf("%s=%#x", reg, port), c.opts.normal()))
	}
	return out
}
