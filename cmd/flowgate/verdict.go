package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

func verdictCommand() *cli.Command {
	return &cli.Command{
		Name:      "verdict",
		Usage:     "say whether policy allows one connection, and which rule decided",
		ArgsUsage: " ",
		Description: `Evaluates the first packet of a new connection against the policy in the
-f inputs, exactly as Calico would: the source's egress policy, then the
destination's ingress policy.

  flowgate verdict -f world.yaml --from prod/backend --to prod/database --port 8080
  flowgate verdict -f world.yaml --from 203.0.113.9 --to web-host --proto udp --port 53

--from and --to take namespace/name for pods and workload endpoints, a
host endpoint's name, or an IP address (which is matched to the endpoint
owning it, if any).

Staged policies (StagedNetworkPolicy, StagedGlobalNetworkPolicy,
StagedKubernetesNetworkPolicy) are never enforced: the verdict is what
happens now, and a "would be" line says what committing them would do.

With any invalid input verdict answers nothing: it lists every problem on
stderr and exits 1 (an answer computed without a broken Deny policy would
say ALLOWED). --skip-invalid answers for the valid objects, with a PARTIAL
line first. --exit-code makes a DENIED answer exit 3, for scripts:

  flowgate verdict --exit-code -f world.yaml --from a/x --to b/y --port 80 || echo blocked`,
		Flags: []cli.Flag{
			fileFlag,
			&cli.StringFlag{Name: "from", Required: true, Usage: "source: namespace/name, host endpoint name or IP"},
			&cli.StringFlag{Name: "to", Required: true, Usage: "destination: namespace/name, host endpoint name or IP"},
			&cli.StringFlag{Name: "proto", Value: "tcp", Usage: "protocol: tcp, udp, sctp, icmp, icmpv6 or a number"},
			&cli.IntFlag{Name: "port", Usage: "destination port (tcp, udp, sctp)"},
			&cli.IntFlag{Name: "src-port", Value: evaluator.SourcePort, Usage: "source port"},
			&cli.IntFlag{Name: "icmp-type", Value: -1, Usage: "ICMP type (default: echo request)"},
			&cli.IntFlag{Name: "icmp-code", Value: 0, Usage: "ICMP code"},
			failsafeInboundFlag, failsafeOutboundFlag, skipInvalidFlag,
			&cli.BoolFlag{Name: "exit-code", Usage: "exit 3 when the answer is DENIED (0 when ALLOWED)"},
		},
		Action: runVerdict,
	}
}

func runVerdict(c *cli.Context) error {
	opts, err := evaluatorOptions(c)
	if err != nil {
		return err
	}
	w, partial, err := loadWorld(c)
	if err != nil {
		return err
	}
	ev := evaluator.New(w, opts)
	from, err := resolveParticipant(ev, c.String("from"))
	if err != nil {
		return cli.Exit("--from: "+err.Error(), 2)
	}
	to, err := resolveParticipant(ev, c.String("to"))
	if err != nil {
		return cli.Exit("--to: "+err.Error(), 2)
	}
	src, dst, ok := pickAddrs(from, to)
	if !ok {
		return cli.Exit("--from and --to have no addresses of a common IP family", 2)
	}
	pkt, err := packetFromFlags(c, src, dst)
	if err != nil {
		return err
	}
	v := ev.Evaluate(from.Endpoint, to.Endpoint, pkt)
	out := c.App.Writer
	if partial {
		fmt.Fprintln(out, partialLine)
	}
	word := "DENIED"
	if v.Allowed {
		word = "ALLOWED"
	}
	fmt.Fprintf(out, "%s  %s (%s -> %s)\n", word, pkt, from.Name, to.Name)
	for _, d := range []*evaluator.Decision{v.Egress, v.Ingress} {
		if d == nil {
			continue
		}
		fmt.Fprintf(out, "  %-7s of %s: %s\n", d.Direction, d.Endpoint, d.Reason)
		for _, l := range d.Logged {
			fmt.Fprintf(out, "           logged by %s\n", l)
		}
	}
	if v.Egress == nil && v.Ingress == nil {
		fmt.Fprintln(out, "  neither side is an endpoint: no policy applies")
	}
	printWouldBe(out, w, opts, from, to, pkt, v)
	if !v.Allowed && c.Bool("exit-code") {
		return cli.Exit("", exitDenied)
	}
	return nil
}

// resolveParticipant reads "namespace/name", a host endpoint name or an IP.
func resolveParticipant(ev *evaluator.Evaluator, s string) (evaluator.Participant, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		p := evaluator.Participant{Name: a.String(), Endpoint: ev.EndpointAt(a), Addrs: []netip.Addr{a}}
		if p.Endpoint != nil {
			p.Name = p.Endpoint.ID()
		}
		return p, nil
	}
	e := ev.Endpoint(s)
	if e == nil {
		return evaluator.Participant{}, fmt.Errorf("no endpoint %q (want namespace/name, a host endpoint name, or an IP)", s)
	}
	if len(e.IPs) == 0 {
		return evaluator.Participant{}, fmt.Errorf("endpoint %s has no address", s)
	}
	return evaluator.Participant{Name: e.ID(), Endpoint: e, Addrs: e.IPs}, nil
}

func pickAddrs(from, to evaluator.Participant) (netip.Addr, netip.Addr, bool) {
	for _, v4 := range []bool{true, false} {
		for _, s := range from.Addrs {
			for _, d := range to.Addrs {
				if s.Is4() == v4 && d.Is4() == v4 {
					return s, d, true
				}
			}
		}
	}
	return netip.Addr{}, netip.Addr{}, false
}

func packetFromFlags(c *cli.Context, src, dst netip.Addr) (evaluator.Packet, error) {
	proto, err := policy.ParseProtocol(c.String("proto"))
	if err != nil {
		return evaluator.Packet{}, cli.Exit("--proto: "+err.Error(), 2)
	}
	if proto == policy.ICMP && src.Is6() {
		proto = policy.ICMPv6
	}
	pkt := evaluator.Packet{Src: src, Dst: dst, Protocol: proto}
	switch {
	case proto.HasPorts():
		port, err := policy.PortNumber(c.Int("port"))
		if err != nil {
			return pkt, cli.Exit(fmt.Sprintf("--port: %v (required for %s)", err, strings.ToLower(proto.String())), 2)
		}
		sport, err := policy.PortNumber(c.Int("src-port"))
		if err != nil {
			return pkt, cli.Exit("--src-port: "+err.Error(), 2)
		}
		pkt.DstPort, pkt.SrcPort = port, sport
	case proto.IsICMP():
		t := c.Int("icmp-type")
		if t < 0 {
			t = 8
			if proto == policy.ICMPv6 {
				t = 128
			}
		}
		if t > 255 || c.Int("icmp-code") < 0 || c.Int("icmp-code") > 255 {
			return pkt, cli.Exit("--icmp-type and --icmp-code must be 0-255", 2)
		}
		pkt.ICMPType, pkt.ICMPCode = uint8(t), uint8(c.Int("icmp-code"))
	}
	return pkt, nil
}

var failsafeInboundFlag = &cli.StringFlag{
	Name:  "failsafe-inbound",
	Value: policy.FormatFailsafes(policy.DefaultFailsafeInbound()),
	Usage: "protocol:port list always allowed into host endpoints (none disables)",
}

var failsafeOutboundFlag = &cli.StringFlag{
	Name:  "failsafe-outbound",
	Value: policy.FormatFailsafes(policy.DefaultFailsafeOutbound()),
	Usage: "protocol:port list always allowed out of host endpoints (none disables)",
}

func evaluatorOptions(c *cli.Context) (evaluator.Options, error) {
	in, err := policy.ParseFailsafes(c.String("failsafe-inbound"))
	if err != nil {
		return evaluator.Options{}, cli.Exit("--failsafe-inbound: "+err.Error(), 2)
	}
	out, err := policy.ParseFailsafes(c.String("failsafe-outbound"))
	if err != nil {
		return evaluator.Options{}, cli.Exit("--failsafe-outbound: "+err.Error(), 2)
	}
	return evaluator.Options{FailsafeInbound: in, FailsafeOutbound: out}, nil
}
