package integration

import (
	"flag"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/ovs/oftrace"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

var long = flag.Bool("long", false, "run the long differential test (or set FLOWGATE_LONG=1)")

// uplinkPort is the port that stands for everything beyond the host: the
// uplink or a tunnel, no endpoint.
const uplinkPort = 100

// TestDifferentialTrace compiles random worlds, loads them into a real
// ovs-vswitchd and checks that ofproto/trace decides every probed packet
// of a new connection as the reference evaluator does, enforcing the
// egress policy of local sources and the ingress policy of local
// destinations.
func TestDifferentialTrace(t *testing.T) {
	worlds, probes := 50, 45
	if *long || os.Getenv("FLOWGATE_LONG") != "" {
		worlds, probes = 400, 100
	}
	o := sandboxtest.New(t)
	setupBridge(t, o)
	total, named := 0, 0
	for seed := 1; seed <= worlds; seed++ {
		ran, n := checkWorld(t, o, int64(seed), probes, nil, worldMode(seed))
		total, named = total+ran, named+n
		if t.Failed() {
			return
		}
	}
	t.Logf("%d worlds, %d probes agreed, %d decided by a rule the trace named as the evaluator does", worlds, total, named)
	if named*10 < total {
		t.Fatalf("only %d of %d probes were decided by a rule: the rule naming is barely exercised", named, total)
	}
	if total < 2000 && !testing.Short() {
		t.Fatalf("only %d probes ran; the differential test needs at least 2000", total)
	}
}

// participant is a probe's source or destination.
type participant struct {
	name     string
	endpoint *policy.Endpoint
	binding  *compiler.Binding
	// faces are the MACs it sends from and is sent to, each with its
	// addresses: its own MAC with its IPs (and its MAC-less address
	// pairs' addresses), and each address pair's MAC with that pair's.
	// Without faces, addrs are its addresses and traceSpec picks the MACs.
	faces []face
	addrs []netip.Addr
}

// face is one MAC of a participant with the addresses it uses with it.
type face struct {
	mac   string
	addrs []netip.Addr
}

// pairAddr is the address a probe uses from an address pair: the pair's
// own address, or one inside its prefix (all addresses: one no endpoint
// has).
func pairAddr(p netip.Prefix) netip.Addr {
	switch {
	case p.Bits() == 0 && p.Addr().Is4():
		return netip.MustParseAddr("10.0.7.77")
	case p.Bits() == 0:
		return netip.MustParseAddr("fd00::7:77")
	case p.IsSingleIP():
		return p.Addr()
	}
	return p.Masked().Addr().Next().Next()
}

// endpointFaces are e's faces; mac is its MAC on this bridge (a remote
// endpoint's own, else one standing for the world beyond the uplink).
func endpointFaces(e *policy.Endpoint, mac string) []face {
	out := []face{{mac: mac, addrs: slices.Clone(e.IPs)}}
	for _, p := range e.AddressPairs {
		m := mac
		if len(p.MAC) == 6 {
			m = p.MAC.String()
		}
		i := slices.IndexFunc(out, func(f face) bool { return f.mac == m })
		if i < 0 {
			i = len(out)
			out = append(out, face{mac: m})
		}
		out[i].addrs = append(out[i].addrs, pairAddr(p.Prefix))
	}
	return out
}

// TestDifferentialTraceShared is TestDifferentialTrace with the pipeline
// placed beside a Neutron-style base pipeline (table 0 → 60, NORMAL), as
// `flowgate apply --shared` installs it: the placement changes no verdict.
func TestDifferentialTraceShared(t *testing.T) {
	o := sandboxtest.New(t)
	setupBridge(t, o)
	shared := compiler.DefaultShared()
	shared.HandBack = 94
	total := 0
	for seed := 1; seed <= 15; seed++ {
		ran, _ := checkWorld(t, o, int64(seed), 45, &shared, worldMode(seed))
		total += ran
		if t.Failed() {
			return
		}
	}
	t.Logf("%d worlds, %d probes agreed", 15, total)
}

// worldMode is the established-connections mode a world is compiled in:
// one in three each. In the cut modes every probe is also traced as a
// packet of an open connection from its initiator, which walks the policy
// in force as a new one does.
func worldMode(seed int) compiler.Established {
	return []compiler.Established{compiler.EstablishedSurvive, compiler.EstablishedCut, compiler.EstablishedCutInitiator}[seed%3]
}

// neutronBase is the Neutron OVS agent's br-int pipeline with
// firewall_driver = noop, reduced to what switches a packet, with the
// OVS firewall's table 94.
func neutronBase() []compiler.Flow {
	const ck = compiler.Cookie(0x8d1f0a2b3c4d5e6f)
	return []compiler.Flow{
		{Table: 0, Priority: 0, Actions: "goto_table:60", Cookie: ck},
		{Table: 23, Priority: 0, Actions: "drop", Cookie: ck},
		{Table: 60, Priority: 3, Actions: "NORMAL", Cookie: ck},
		{Table: 94, Priority: 1, Actions: "NORMAL", Cookie: ck},
	}
}

// checkWorld traces probes of one random world, compiled in mode est; with
// shared set, through the pipeline as shared mode installs it.
func checkWorld(t *testing.T, o *sandbox.OVS, seed int64, probes int, shared *compiler.Shared, est compiler.Established) (ran, named int) {
	t.Helper()
	g := &randWorld{r: rand.New(rand.NewSource(seed))}
	yaml := g.generate()
	objs, errs := decode.Decode(fmt.Sprintf("world-%d.yaml", seed), []byte(yaml))
	if len(errs) > 0 {
		t.Fatalf("seed %d: generated world does not decode: %v\n%s", seed, errs, yaml)
	}
	w, errs := decode.Build(objs)
	if len(errs) > 0 {
		t.Fatalf("seed %d: %v", seed, errs)
	}
	locals := compiler.AllLocal(w, "local")
	// The host endpoint (if any) is bound too; AllLocal counts it as local.
	if len(locals) > maxLocalPorts {
		t.Fatalf("seed %d: %d local endpoints, bridge has %d ports", seed, len(locals), maxLocalPorts)
	}
	opts := compiler.Options{Locals: locals, Established: est, Shared: shared, FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()}
	c, errs := compiler.New(w, opts)
	if len(errs) > 0 {
		t.Fatalf("seed %d: compile: %v\n%s", seed, errs, yaml)
	}
	flows := c.BridgeFlows(nil)
	if shared != nil {
		flows = slices.Concat(neutronBase(), flows)
	}
	if err := ReplaceFlows(o, "br-int", flows); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	tracer := &agent.Tracer{Comp: c, Eval: ev, Locals: locals}

	var ps []participant
	for _, e := range w.Endpoints {
		p := participant{name: e.ID(), endpoint: e}
		mac := remoteMAC
		if len(e.MAC) == 6 {
			mac = e.MAC.String()
		}
		if b, ok := locals[e.ID()]; ok {
			p.binding, mac = &b, b.MAC.String()
		}
		p.faces = endpointFaces(e, mac)
		ps = append(ps, p)
	}
	for _, a := range []string{"192.168.7.7", "8.8.8.8", "10.0.1.200", "fd00::99"} {
		ps = append(ps, participant{name: a, faces: []face{{mac: remoteMAC, addrs: []netip.Addr{netip.MustParseAddr(a)}}}})
	}
	r := rand.New(rand.NewSource(seed * 7919))
	for i := 0; i < probes*4 && ran < probes; i++ {
		src, dst := ps[r.Intn(len(ps))], ps[r.Intn(len(ps))]
		if src.name == dst.name || (src.binding == nil && dst.binding == nil) || crossesNetworks(src, dst) {
			continue
		}
		pkt, ok := randomPacket(r, src, dst)
		if !ok {
			continue
		}
		want := true
		var reasons string
		v := ev.Evaluate(src.endpoint, dst.endpoint, pkt)
		if src.binding != nil {
			want = want && v.Egress.Allowed
			reasons += "egress: " + v.Egress.Reason + "; "
		}
		if dst.binding != nil {
			want = want && v.Ingress.Allowed
			reasons += "ingress: " + v.Ingress.Reason
		}
		spec := traceSpec(src, dst, pkt)
		states := []string{"trk,new"}
		if est != compiler.EstablishedSurvive {
			// The initiator's next packet of a connection the bridge
			// committed: re-checked against the policy in force.
			states = append(states, "trk,est")
		}
		for _, state := range states {
			s := spec
			if state != "trk,new" {
				s += ",ct_mark=0x1"
			}
			got, trace, err := TraceState(o, "br-int", s, state)
			if err != nil {
				t.Fatalf("seed %d: %v\n%s", seed, err, trace)
			}
			if got != want {
				t.Errorf("seed %d (%s): %s -> %s %s, conntrack %s: OVS delivered=%v, evaluator allowed=%v (%s)\ntrace spec: %s\nworld:\n%s\ntrace:\n%s",
					seed, est, src.name, dst.name, pkt, state, got, want, reasons, s, yaml, trace)
				return ran, named
			}
			if state == "trk,new" {
				// What `flowgate trace` reads from the same trace: the
				// verdict and the rule that decided each direction the
				// bridge walked, named as the evaluator names it.
				r := tracer.Read(src.evaluatorParticipant(), dst.evaluatorParticipant(), pkt, s, trace)
				if !r.Agree || !r.SameRules {
					t.Errorf("seed %d (%s): %s -> %s %s: trace read allowed=%v egress=%s (%s) ingress=%s (%s); evaluator allowed=%v egress=%s ingress=%s\ntrace:\n%s",
						seed, est, src.name, dst.name, pkt, r.Allowed, r.Egress, r.EgressBy, r.Ingress, r.IngressBy, r.EvaluatorAllowed, r.EvaluatorEgress, r.EvaluatorIngress, trace)
					return ran, named
				}
				if r.Egress != nil || r.Ingress != nil {
					named++
				}
			}
		}
		if est == compiler.EstablishedCut && !untracked(src) && !untracked(dst) {
			// A reply of the connection: switched, and checked on a clone
			// turned into the initiator's packet, which marks the
			// connection cut exactly when the policy denies it.
			r, ok := replySpec(src, dst, pkt)
			if !ok {
				ran++
				continue
			}
			got, trace, err := TraceState(o, "br-int", r, "trk,est,rpl")
			if err != nil {
				t.Fatalf("seed %d: %v\n%s", seed, err, trace)
			}
			if cut := strings.Contains(datapathActions(trace), "ct(commit"); !got || cut == want {
				t.Errorf("seed %d (%s): the reply of %s -> %s %s: OVS delivered=%v, marked cut=%v; evaluator allowed=%v (%s)\ntrace spec: %s\nworld:\n%s\ntrace:\n%s",
					seed, est, src.name, dst.name, pkt, got, cut, want, reasons, r, yaml, trace)
				return ran, named
			}
		}
		ran++
	}
	return ran, named
}

// evaluatorParticipant is p as the evaluator and agent.Tracer see it.
func (p participant) evaluatorParticipant() evaluator.Participant {
	return evaluator.Participant{Name: p.name, Endpoint: p.endpoint}
}

// untracked reports whether a participant is a stateless endpoint, whose
// packets never meet conntrack (each is decided alone).
func untracked(p participant) bool { return p.endpoint != nil && policy.Untracked(p.endpoint) }

// replySpec writes the reply of p's connection (from dst to src, MACs,
// addresses and ports swapped) as ofproto/trace's flow syntax, with the
// conntrack fields of the connection p opened: its original tuple and the
// committed mark. ICMP other than echo opens no connection (ok false).
func replySpec(src, dst participant, p evaluator.Packet) (string, bool) {
	r := p
	r.Src, r.Dst, r.SrcPort, r.DstPort, r.SrcMAC, r.DstMAC = p.Dst, p.Src, p.DstPort, p.SrcPort, p.DstMAC, p.SrcMAC
	proto := map[policy.Protocol]int{policy.TCP: 6, policy.UDP: 17, policy.SCTP: 132, policy.ICMP: 1, policy.ICMPv6: 58}[p.Protocol]
	tpSrc, tpDst := int(p.SrcPort), int(p.DstPort)
	if p.Protocol.IsICMP() {
		switch p.ICMPType {
		case 8:
			r.ICMPType = 0
		case 128:
			r.ICMPType = 129
		default:
			return "", false
		}
		tpSrc, tpDst = int(p.ICMPType), int(p.ICMPCode)
	}
	ct := fmt.Sprintf("ct_state=trk|est|rpl,ct_mark=0x1,ct_nw_proto=%d,ct_nw_src=%s,ct_nw_dst=%s,ct_tp_src=%d,ct_tp_dst=%d", proto, p.Src, p.Dst, tpSrc, tpDst)
	if p.Src.Is6() {
		ct = fmt.Sprintf("ct_state=trk|est|rpl,ct_mark=0x1,ct_nw_proto=%d,ct_ipv6_src=%s,ct_ipv6_dst=%s,ct_tp_src=%d,ct_tp_dst=%d", proto, p.Src, p.Dst, tpSrc, tpDst)
	}
	return traceSpec(dst, src, r) + "," + ct, true
}

// remoteMAC is the source or destination MAC of a probe's end beyond the
// uplink that has no MAC of its own.
const remoteMAC = "02:aa:00:00:00:01"

// crossesNetworks reports whether a probe goes between a local endpoint in
// a network and a remote endpoint of another network (or of none): on a
// real deployment networks are L2-isolated and routed, and this bridge
// tracks such a packet in the local endpoint's zone, while the evaluator,
// which does not know which end is local, takes it to be in no network.
func crossesNetworks(src, dst participant) bool {
	if src.endpoint == nil || dst.endpoint == nil || (src.binding == nil) == (dst.binding == nil) {
		return false
	}
	local, remote := src, dst
	if src.binding == nil {
		local, remote = dst, src
	}
	n := policy.EndpointNetwork(local.endpoint)
	return n != "" && n != policy.EndpointNetwork(remote.endpoint)
}

// randomPacket picks a face of each end, addresses of one family and a
// random service.
func randomPacket(r *rand.Rand, src, dst participant) (evaluator.Packet, bool) {
	pick := func(p participant) face {
		if len(p.faces) == 0 {
			return face{addrs: p.addrs}
		}
		return p.faces[r.Intn(len(p.faces))]
	}
	sf, df := pick(src), pick(dst)
	var pairs [][2]netip.Addr
	for _, s := range sf.addrs {
		for _, d := range df.addrs {
			if s.Is4() == d.Is4() && s != d {
				pairs = append(pairs, [2]netip.Addr{s, d})
			}
		}
	}
	if len(pairs) == 0 {
		return evaluator.Packet{}, false
	}
	pair := pairs[r.Intn(len(pairs))]
	pkt := evaluator.Packet{Src: pair[0], Dst: pair[1], SrcPort: 40000 + uint16(r.Intn(20)),
		SrcMAC: parseMAC(sf.mac), DstMAC: parseMAC(df.mac)}
	switch r.Intn(8) {
	case 0, 1, 2:
		pkt.Protocol = policy.TCP
	case 3, 4:
		pkt.Protocol = policy.UDP
	case 5:
		pkt.Protocol = policy.SCTP
	default:
		pkt.Protocol = policy.ICMP
		if pair[0].Is6() {
			pkt.Protocol = policy.ICMPv6
		}
		pkt.SrcPort = 0
		pkt.ICMPType = []uint8{8, 0, 3}[r.Intn(3)]
		if pkt.Protocol == policy.ICMPv6 {
			pkt.ICMPType = 128
		}
	}
	if pkt.Protocol.HasPorts() {
		pkt.DstPort = []uint16{80, 81, 85, 90, 53, 22, 443, 6443}[r.Intn(8)]
	}
	return pkt, true
}

// parseMAC parses a face's MAC; none when it has none.
func parseMAC(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}

// traceSpec writes the packet as ofproto/trace's flow syntax, entering at
// the source's port (the uplink for non-local sources) with the packet's
// MACs when it has them, else its ends' MACs on the bridge (the uplink's
// stand-ins for ends beyond it).
func traceSpec(src, dst participant, p evaluator.Packet) string {
	inPort, dlSrc, dlDst := uplinkPort, "02:aa:00:00:00:01", "02:bb:00:00:00:01"
	if src.binding != nil {
		inPort, dlSrc = int(src.binding.OFPort), src.binding.MAC.String()
	}
	if dst.binding != nil {
		dlDst = dst.binding.MAC.String()
	}
	if len(p.SrcMAC) == 6 {
		dlSrc = p.SrcMAC.String()
	}
	if len(p.DstMAC) == 6 {
		dlDst = p.DstMAC.String()
	}
	return oftrace.Spec(uint32(inPort), dlSrc, dlDst, p)
}
