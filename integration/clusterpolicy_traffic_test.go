package integration

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestClusterPolicyConformanceTraffic runs the network-policy-api
// conformance cases (both API versions, every step, the policies of one
// step replacing the previous step's as the upstream suite does) with
// real traffic: the eight pods are network namespaces on a private
// ovs-vswitchd serving TCP 80/8080 and UDP 53/5353, each step is applied
// through the agent's Engine (`flowgate apply`), and every TCP/UDP probe
// of the step must get the case's answer, and every ordered pod pair on
// every TCP/UDP service the reference evaluator's. SCTP has no probe here;
// TestClusterPolicyConformanceTrace covers it with ofproto/trace.
func TestClusterPolicyConformanceTraffic(t *testing.T) {
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	wls := conformanceWorkloads(t, o)
	ctx := context.Background()
	db, prog, err := agent.OpenBridge(ctx, o.DBAddr(), "br-int", "netdev", nil, append(os.Environ(), o.Env()...))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := &agent.Engine{Bridge: "br-int", DB: db, Prog: prog, Opts: compiler.Options{
		FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()}}
	var services []evaltest.Service
	for _, s := range evaltest.ConformanceServices {
		if s.Protocol == policy.TCP || s.Protocol == policy.UDP {
			services = append(services, s)
		}
	}
	probes := 0
	for _, st := range evaltest.ConformanceStates() {
		name, text, step := st.Name, st.YAML, st.Step
		objs, errs := decode.Decode(name+".yaml", []byte(text))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs)
		}
		if _, problems, err := e.Replace(ctx, objs); err != nil || len(problems) > 0 {
			t.Fatalf("%s: apply: %v %v", name, err, problems)
		}
		// A UDP probe that reuses an earlier one's source port would
		// meet that flow's conntrack entry, which outlives policy
		// changes by design; each step starts from no connections.
		if out, err := o.Appctl("dpctl/flush-conntrack"); err != nil {
			t.Fatalf("flush conntrack: %v\n%s", err, out)
		}
		w, err := evaltest.BuildWorld(name, text)
		if err != nil {
			t.Fatal(err)
		}
		ev := evaluator.New(w, evaluator.DefaultOptions())
		var cases []conformanceProbe
		for _, p := range step.Probes {
			if p.Service.Protocol == policy.TCP || p.Service.Protocol == policy.UDP {
				from, to := evaltest.ConformancePod(p.From), evaltest.ConformancePod(p.To)
				cases = append(cases, conformanceProbe{from: from, to: to, svc: p.Service, want: p.Allowed, why: "conformance: " + p.String()})
			}
		}
		for _, svc := range services {
			for _, from := range evaltest.ConformancePods() {
				for _, to := range evaltest.ConformancePods() {
					if from == to {
						continue
					}
					pkt := evaluator.Packet{Src: from.IP, Dst: to.IP, Protocol: svc.Protocol, SrcPort: evaluator.SourcePort, DstPort: svc.Port}
					v := ev.Evaluate(ev.Endpoint(from.String()), ev.Endpoint(to.String()), pkt)
					cases = append(cases, conformanceProbe{from: from, to: to, svc: svc, want: v.Allowed, why: "evaluator: " + v.Reason()})
				}
			}
		}
		probes += len(cases)
		for _, bad := range runConformanceProbes(wls, cases) {
			t.Errorf("%s: %s", name, bad)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d real TCP/UDP probes matched the conformance cases and the evaluator", probes)
}

// conformanceWorkloads attaches the conformance suite's eight pods to
// br-int (iface-id namespace/name) with their addresses, each serving
// the suite's TCP and UDP ports.
func conformanceWorkloads(t *testing.T, o *sandbox.OVS) map[string]*sandbox.Workload {
	t.Helper()
	wls := map[string]*sandbox.Workload{}
	for i, p := range evaltest.ConformancePods() {
		mac := net.HardwareAddr{0x02, 0xfc, 0, 0, 0, byte(i + 1)}
		wl, err := o.AddWorkload("br-int", fmt.Sprintf("cf%d", i), p.String(), mac, netip.PrefixFrom(p.IP, 16))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.RemoveWorkload(wl) })
		for _, s := range evaltest.ConformanceServices {
			var ln interface{ Close() error }
			switch s.Protocol {
			case policy.TCP:
				ln, err = wl.ListenTCP(int(s.Port))
			case policy.UDP:
				ln, err = wl.ListenUDP(int(s.Port))
			default:
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
		}
		wls[p.String()] = wl
	}
	return wls
}

// conformanceProbe is one real connection attempt and its expected fate.
type conformanceProbe struct {
	from, to evaltest.Pod
	svc      evaltest.Service
	want     bool
	why      string
}

// runConformanceProbes runs the probes and returns, sorted, those whose
// traffic disagreed.
func runConformanceProbes(wls map[string]*sandbox.Workload, cases []conformanceProbe) []string {
	var bad []string
	for _, c := range disagreeing(cases, func(c conformanceProbe) bool { return c.want }, func(c conformanceProbe, timeout time.Duration) bool {
		src, addr := wls[c.from.String()], netip.AddrPortFrom(c.to.IP, c.svc.Port)
		if c.svc.Protocol == policy.UDP {
			return src.ProbeUDP(addr, timeout)
		}
		return src.ProbeTCP(addr, timeout)
	}) {
		bad = append(bad, fmt.Sprintf("%s -> %s %s: traffic %s, want %s (%s)", c.from, c.to, c.svc, yesNo(!c.want), yesNo(c.want), c.why))
	}
	sort.Strings(bad)
	return bad
}
