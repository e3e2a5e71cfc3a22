package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
)

func traceCommand() *cli.Command {
	return &cli.Command{
		Name:      "trace",
		Usage:     "run one packet through the live bridge and say which policy and rule decided it",
		ArgsUsage: " ",
		Description: `Runs the first packet of a new connection through the bridge as it is now
(ovs-vswitchd's ofproto/trace, following conntrack as a new connection) and
reports what the bridge did, which tier, policy and rule decided the
source's egress and the destination's ingress — read from the registers and
cookies the bridge itself wrote, never guessed from the policy — and what
the reference evaluator says for the same packet.

  flowgate trace --bridge br-int -f /etc/flowgate/policy/ --from prod/frontend --to prod/backend --port 8080
  flowgate trace --agent 127.0.0.1:9808 --from 203.0.113.9 --to prod/web --proto tcp --port 443 -o json

-f (or --agent, which reads what the agent enforces) is the policy the
bridge enforces: it names the rules the bridge recorded and answers for the
evaluator. --from and --to take namespace/name, a host endpoint name or an
IP. Only the directions this bridge enforces count: the egress of a local
source, the ingress of a local destination.

-o json prints one object: allowed (the bridge), egress and ingress (each
{tier, policy, rule, action}, or null when a default or no policy decided;
egressDecidedBy/ingressDecidedBy say which), evaluatorAllowed, agree.
Staged policies (StagedNetworkPolicy and its kin) are never enforced; when
the input holds some, trace also prints what the connection would get with
them committed ("would be ...", in JSON wouldBe: allowed, changed, staged,
egress, ingress).
trace exits 1 when the bridge and the evaluator disagree.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "from", Required: true, Usage: "source: namespace/name, host endpoint name or IP"},
			&cli.StringFlag{Name: "to", Required: true, Usage: "destination: namespace/name, host endpoint name or IP"},
			&cli.StringFlag{Name: "proto", Value: "tcp", Usage: "protocol: tcp, udp, sctp, icmp, icmpv6"},
			&cli.IntFlag{Name: "port", Usage: "destination port (tcp, udp, sctp)"},
			&cli.IntFlag{Name: "src-port", Value: 40000, Usage: "source port"},
			&cli.IntFlag{Name: "icmp-type", Value: -1, Usage: "ICMP type (default: echo request)"},
			&cli.IntFlag{Name: "icmp-code", Value: 0, Usage: "ICMP code"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"},
			&cli.BoolFlag{Name: "show-trace", Usage: "also print the ofproto/trace output (text)"},
		}, liveTraceFlags...),
		Action: runTrace,
	}
}

func runTrace(c *cli.Context) error {
	if o := c.String("output"); o != "text" && o != "json" {
		return cli.Exit("--output: want text or json", exitUsage)
	}
	t, _, done, err := liveTracer(c)
	if err != nil {
		return err
	}
	defer done()
	from, err := resolveParticipant(t.Eval, c.String("from"))
	if err != nil {
		return cli.Exit("--from: "+err.Error(), exitUsage)
	}
	to, err := resolveParticipant(t.Eval, c.String("to"))
	if err != nil {
		return cli.Exit("--to: "+err.Error(), exitUsage)
	}
	src, dst, ok := pickAddrs(from, to)
	if !ok {
		return cli.Exit("--from and --to have no addresses of a common IP family", exitUsage)
	}
	pkt, err := packetFromFlags(c, src, dst)
	if err != nil {
		return err
	}
	r, err := t.Trace(from, to, pkt)
	if err != nil {
		return cli.Exit(err.Error(), exitInvalid)
	}
	if c.String("output") == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printTrace(c.App.Writer, r, c.Bool("show-trace"))
	}
	if !r.Agree {
		return cli.Exit("the bridge and the evaluator disagree", exitInvalid)
	}
	return nil
}

// printTrace writes one traced connection; with full, the trace itself.
func printTrace(w io.Writer, r agent.TraceResult, full bool) {
	fmt.Fprintf(w, "%s  %s (%s -> %s)\n", verdictWord(r.Allowed), r.Packet, r.From, r.To)
	fmt.Fprintf(w, "  bridge egress:     %s\n", decider(r.Egress, r.EgressBy))
	fmt.Fprintf(w, "  bridge ingress:    %s\n", decider(r.Ingress, r.IngressBy))
	fmt.Fprintf(w, "  evaluator:         %s (egress %s; ingress %s)\n", verdictWord(r.EvaluatorAllowed), r.EvaluatorEgress, r.EvaluatorIngress)
	switch {
	case !r.Agree:
		fmt.Fprintln(w, "  DISAGREE: the bridge and the evaluator decide differently")
	case !r.SameRules:
		fmt.Fprintln(w, "  agree on the verdict, but a different rule decided")
	default:
		fmt.Fprintln(w, "  agree")
	}
	if wb := r.WouldBe; wb != nil {
		change := "unchanged"
		if wb.Changed {
			change = "changed"
		}
		fmt.Fprintf(w, "would be %s with the %d staged polic%s committed (%s):\n", verdictWord(wb.Allowed), wb.Staged, plural(wb.Staged, "y", "ies"), change)
		fmt.Fprintf(w, "  egress:            %s\n", decider(wb.Egress, "a default"))
		fmt.Fprintf(w, "  ingress:           %s\n", decider(wb.Ingress, "a default"))
	}
	if full {
		fmt.Fprintf(w, "\nofproto/trace %s:\n%s\n", r.Spec, r.Trace)
	}
}

// decider is the rule that decided a direction, or what did.
func decider(s *agent.TraceSide, by string) string {
	if s != nil {
		return s.String()
	}
	return by
}
