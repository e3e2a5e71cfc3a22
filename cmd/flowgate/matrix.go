package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

func matrixCommand() *cli.Command {
	return &cli.Command{
		Name:  "matrix",
		Usage: "print who can reach whom: the full truth table between all endpoints",
		Description: `Evaluates every ordered pair of endpoints (and of --extra-addresses, which
stand for clients and servers outside the world) for every protocol and port.

  flowgate matrix -f world.yaml --ports 80,81 --protocols tcp,udp
  flowgate matrix -f world.yaml -o json | jq '.[] | select(.allowed)'

Table output prints one grid per protocol/port: rows are sources, columns
destinations, '.' allowed and 'X' denied. JSON output is a list of
{"from","to","protocol","port","allowed","reason"} rows on stdout. HTML
output is one self-contained page (no network access needed to view it):
endpoints grouped by namespace on both axes, allowed and denied cells in
distinct colours and shapes, a click on a cell shows the tier/policy/rule
that decided egress and ingress, and filters by namespace and port.

  flowgate matrix -f world.yaml --ports 80,5432 -o html > matrix.html

--namespace keeps only the endpoints of the given namespaces (rows and
columns alike), in every output.

With any invalid input matrix answers nothing: every problem on stderr, exit
1. --skip-invalid answers for the valid objects: the table starts with a
PARTIAL line; JSON and HTML keep their shape and the PARTIAL notice goes to
stderr only.`,
		Flags: []cli.Flag{
			fileFlag,
			&cli.StringFlag{Name: "ports", Value: "80", Usage: "comma-separated destination ports"},
			&cli.StringFlag{Name: "protocols", Value: "tcp", Usage: "comma-separated protocols: tcp, udp, sctp, icmp"},
			&cli.StringFlag{Name: "extra-addresses", Usage: "comma-separated IPs outside the world to include"},
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "comma-separated namespaces: keep only their endpoints"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table, json or html"},
			failsafeInboundFlag, failsafeOutboundFlag, skipInvalidFlag,
		},
		Action: runMatrix,
	}
}

func runMatrix(c *cli.Context) error {
	q, err := readQuestion(c)
	if err != nil {
		return err
	}
	services, extra, format, opts := q.services, q.extra, q.format, q.opts
	w, partial, err := loadWorld(c)
	if err != nil {
		return err
	}
	ev := evaluator.New(w, opts)
	ps := inNamespaces(ev.Participants(extra), splitList(c.String("namespace")))
	if format == "html" {
		title := "flowgate matrix"
		if partial {
			title += " — PARTIAL: invalid input objects were left out"
		}
		return newMatrixPage(title, ps, services, ev.MatrixCells(ps, services)).write(c.App.Writer)
	}
	rows := ev.Matrix(ps, services)
	if format == "json" {
		if rows == nil {
			rows = []evaluator.MatrixRow{}
		}
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if partial {
		fmt.Fprintln(c.App.Writer, partialLine)
	}
	printGrids(c.App.Writer, ps, services, rows)
	return nil
}

// inNamespaces keeps the endpoints of namespaces (all participants when
// none are given); outside addresses stay, as the other end of endpoints'
// connections.
func inNamespaces(ps []evaluator.Participant, namespaces []string) []evaluator.Participant {
	if len(namespaces) == 0 {
		return ps
	}
	keep := map[string]bool{}
	for _, ns := range namespaces {
		keep[ns] = true
	}
	var out []evaluator.Participant
	for _, p := range ps {
		if p.Endpoint == nil || keep[p.Namespace()] {
			out = append(out, p)
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseServices crosses protocols with ports; ICMP takes no port.
// question is what matrix and diff are asked about: the connections to
// evaluate (services, outside addresses), the evaluator's settings and the
// output format.
type question struct {
	services []evaluator.Service
	extra    []netip.Addr
	format   string
	opts     evaluator.Options
}

// readQuestion reads the flags matrix and diff share (--protocols,
// --ports, --extra-addresses, -o table|json|html, the failsafes); a bad
// value is a usage error.
func readQuestion(c *cli.Context) (question, error) {
	var q question
	var err error
	if q.services, err = parseServices(c.String("protocols"), c.String("ports")); err != nil {
		return q, cli.Exit(err.Error(), 2)
	}
	if q.extra, err = parseExtraAddresses(c.String("extra-addresses")); err != nil {
		return q, err
	}
	q.format = c.String("output")
	if q.format != "table" && q.format != "json" && q.format != "html" {
		return q, cli.Exit("--output: want table, json or html", 2)
	}
	q.opts, err = evaluatorOptions(c)
	return q, err
}

func parseServices(protocols, ports string) ([]evaluator.Service, error) {
	var nums []uint16
	for _, p := range splitList(ports) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("--ports: %q is not a number", p)
		}
		pn, err := policy.PortNumber(n)
		if err != nil {
			return nil, fmt.Errorf("--ports: %w", err)
		}
		nums = append(nums, pn)
	}
	var out []evaluator.Service
	for _, s := range splitList(protocols) {
		proto, err := policy.ParseProtocol(s)
		if err != nil {
			return nil, fmt.Errorf("--protocols: %w", err)
		}
		switch {
		case proto.IsICMP():
			out = append(out, evaluator.Service{Protocol: proto})
		case proto.HasPorts():
			if len(nums) == 0 {
				return nil, fmt.Errorf("--ports: %s needs at least one port", proto)
			}
			for _, n := range nums {
				out = append(out, evaluator.Service{Protocol: proto, Port: n})
			}
		default:
			return nil, fmt.Errorf("--protocols: %s cannot be probed (use tcp, udp, sctp or icmp)", proto)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--protocols: none given")
	}
	return out, nil
}

func printGrids(w io.Writer, ps []evaluator.Participant, services []evaluator.Service, rows []evaluator.MatrixRow) {
	cell := map[string]bool{}
	for _, r := range rows {
		cell[r.From+"|"+r.To+"|"+r.Protocol+"|"+strconv.Itoa(int(r.Port))] = r.Allowed
	}
	for i, svc := range services {
		if i > 0 {
			fmt.Fprintln(w)
		}
		port := svc.Port
		title := fmt.Sprintf("%s/%d", svc.Protocol, port)
		if svc.Protocol.IsICMP() {
			title, port = svc.Protocol.String(), 0
		}
		fmt.Fprintf(w, "%s  (rows: from, columns: to; . allowed, X denied)\n", title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "")
		for _, to := range ps {
			fmt.Fprintf(tw, "\t%s", to.Name)
		}
		fmt.Fprintln(tw)
		for _, from := range ps {
			fmt.Fprint(tw, from.Name)
			for _, to := range ps {
				mark := "-"
				key := from.Name + "|" + to.Name + "|"
				for _, proto := range protocolNamesFor(svc.Protocol) {
					if allowed, ok := cell[key+proto+"|"+strconv.Itoa(int(port))]; ok {
						mark = "X"
						if allowed {
							mark = "."
						}
					}
				}
				fmt.Fprintf(tw, "\t%s", mark)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
}

// protocolNamesFor returns the names a service's rows may carry: an ICMP
// probe is recorded as icmpv6 for IPv6 pairs.
func protocolNamesFor(p policy.Protocol) []string {
	if p.IsICMP() {
		return []string{policy.ICMP.String(), policy.ICMPv6.String()}
	}
	return []string{p.String()}
}
