package agent

import (
	"math/rand"
	"net/netip"
	"slices"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// verifyOutsiders are the addresses beyond the host verify sends from and
// to: a documentation address, a public resolver, a private one, IPv6.
var verifyOutsiders = []string{"203.0.113.7", "8.8.8.8", "10.255.0.7", "2001:db8::7"}

// VerifyReport is one verify run: every connection traced, those the
// bridge and the evaluator decided differently, and those they decided
// alike but by different rules (or one by a rule, the other by a
// default): a right verdict for a wrong reason, which the next change of
// policy may turn into a wrong one.
type VerifyReport struct {
	Traced         int
	Disagreed      []TraceResult
	RuleMismatches []TraceResult
}

// Verify traces n sampled connections (seeded, so a run can be repeated)
// between the local endpoints and everything else — every local endpoint
// is a source and a destination when n allows — with the protocols and
// ports the policies mention, and compares each with the evaluator.
func (t *Tracer) Verify(w *policy.World, n int, seed int64) (VerifyReport, error) {
	var local, all []evaluator.Participant
	for _, e := range w.Endpoints {
		if len(e.IPs) == 0 {
			continue
		}
		p := evaluator.Participant{Name: e.ID(), Endpoint: e, Addrs: e.IPs}
		all = append(all, p)
		if _, ok := t.Locals[e.ID()]; ok {
			local = append(local, p)
		}
	}
	for _, s := range verifyOutsiders {
		a := netip.MustParseAddr(s)
		all = append(all, evaluator.Participant{Name: s, Addrs: []netip.Addr{a}})
	}
	var rep VerifyReport
	if len(local) == 0 {
		return rep, nil
	}
	services := policyServices(w)
	r := rand.New(rand.NewSource(seed))
	for i := 0; i < n*4 && rep.Traced < n; i++ {
		// Walk the local endpoints in turn, as source on even probes and
		// destination on odd ones, so every one is both.
		l := local[(i/2)%len(local)]
		o := all[r.Intn(len(all))]
		src, dst := l, o
		if i%2 == 1 {
			src, dst = o, l
		}
		if src.Name == dst.Name {
			continue
		}
		pkt, ok := samplePacket(r, src, dst, services[r.Intn(len(services))])
		if !ok {
			continue
		}
		res, err := t.Trace(src, dst, pkt)
		if err != nil {
			return rep, err
		}
		rep.Traced++
		switch {
		case !res.Agree:
			rep.Disagreed = append(rep.Disagreed, res)
		case !res.SameRules:
			rep.RuleMismatches = append(rep.RuleMismatches, res)
		}
	}
	return rep, nil
}

// policyServices are the protocols and destination ports the policies
// mention (a port range by its ends), with TCP 80 and ICMP echo always.
func policyServices(w *policy.World) []evaluator.Packet {
	out := []evaluator.Packet{{Protocol: policy.TCP, DstPort: 80}, {Protocol: policy.ICMP, ICMPType: 8}}
	add := func(p evaluator.Packet) {
		if !slices.ContainsFunc(out, func(q evaluator.Packet) bool {
			return q.Protocol == p.Protocol && q.DstPort == p.DstPort && q.ICMPType == p.ICMPType
		}) {
			out = append(out, p)
		}
	}
	for _, p := range w.Policies {
		for _, rules := range [][]policy.Rule{p.Ingress, p.Egress} {
			for _, r := range rules {
				switch {
				case r.Protocol.HasPorts():
					add(evaluator.Packet{Protocol: r.Protocol, DstPort: 1})
					for _, m := range r.Destination.Ports {
						if m.Name == "" {
							add(evaluator.Packet{Protocol: r.Protocol, DstPort: m.Min})
							add(evaluator.Packet{Protocol: r.Protocol, DstPort: m.Max})
						}
					}
				case r.Protocol.IsICMP() && r.ICMP != nil:
					add(evaluator.Packet{Protocol: policy.ICMP, ICMPType: r.ICMP.Type})
				}
			}
		}
	}
	return out
}

// samplePacket addresses svc from src to dst with addresses of one family
// picked at random (ok false when they share none).
func samplePacket(r *rand.Rand, src, dst evaluator.Participant, svc evaluator.Packet) (evaluator.Packet, bool) {
	var pairs [][2]netip.Addr
	for _, s := range src.Addrs {
		for _, d := range dst.Addrs {
			if s.Is4() == d.Is4() && s != d {
				pairs = append(pairs, [2]netip.Addr{s, d})
			}
		}
	}
	if len(pairs) == 0 {
		return evaluator.Packet{}, false
	}
	pair := pairs[r.Intn(len(pairs))]
	p := svc
	p.Src, p.Dst = pair[0], pair[1]
	if p.Protocol.HasPorts() {
		p.SrcPort = 40000 + uint16(r.Intn(1000))
	}
	if p.Protocol.IsICMP() && p.Src.Is6() {
		p.Protocol, p.ICMPType = policy.ICMPv6, 128
	}
	return p, true
}
