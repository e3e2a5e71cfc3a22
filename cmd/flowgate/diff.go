package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
)

// Exit codes of `flowgate diff`, for pipelines that gate a policy change.
const (
	diffExitInvalid = 1
	diffExitChanged = 3
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "list the connections a policy change opens and closes",
		Description: `Compares two states of the world and lists every connection (source,
destination, protocol, port) whose verdict differs, grouped by source and
destination namespace, each with the tier/policy/rule that decided before
and after.

  flowgate diff --before live/ --after live-with-my-change/
  flowgate diff --before examples/seeds/database-allow-backends/ \
                --after examples/seeds/database-allow-backends-trap/ --ports 8080
  flowgate diff --after /etc/flowgate/policy/      # before: what the agent enforces now
  flowgate diff --before world/ --after world/,staged.yaml   # what committing staged policy does

The before state is its inputs' enforced policy. The after state is its
inputs with their staged policies (StagedNetworkPolicy,
StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy) committed: a Set
replaces or creates the policy of its name, a Delete removes it. Without
--after, the after state is the before inputs: the diff is what their staged
policies would do.

Without --before, the before state is what the agent on this host enforces
now, read from its health server (--agent, the agent config's
healthAddress, GET /objects).

Only the endpoints a changed object can affect are re-evaluated, so a change
to one policy in a world of thousands of endpoints answers in seconds.
Endpoints in only one state are listed, not compared.

Exit status: 0 nothing changes, 1 invalid input (in either state), 3 some
connection changes (or an endpoint is only in one state).

-o json prints one row per changed connection: the keys of matrix -o json
("from", "to", "protocol", "port"), "before" and "after" (the verdicts) and
"beforeDecided"/"afterDecided" (each side's deciding tier/policy/rule).
-o html prints one self-contained page: the after matrix with the opened and
closed connections highlighted (it evaluates the whole after matrix:
narrow a large world with --namespace).`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "before", Aliases: []string{"b"}, Usage: "YAML or JSON file or directory of the before state (repeatable; - for stdin; default: what --agent enforces)"},
			&cli.StringSliceFlag{Name: "after", Aliases: []string{"a"}, Usage: "file or directory of the after state (repeatable; default: the before inputs, staged policy committed)"},
			&cli.StringFlag{Name: "agent", Value: "127.0.0.1:9808", Usage: "the agent's health address, read for the before state when --before is not given"},
			&cli.StringFlag{Name: "ports", Value: "80", Usage: "comma-separated destination ports"},
			&cli.StringFlag{Name: "protocols", Value: "tcp", Usage: "comma-separated protocols: tcp, udp, sctp, icmp"},
			&cli.StringFlag{Name: "extra-addresses", Usage: "comma-separated IPs outside the world to include"},
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "comma-separated namespaces: show only connections from or to them"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table, json or html"},
			failsafeInboundFlag, failsafeOutboundFlag,
		},
		Action: runDiff,
	}
}

func runDiff(c *cli.Context) error {
	q, err := readQuestion(c)
	if err != nil {
		return err
	}
	services, extra, format, opts := q.services, q.extra, q.format, q.opts
	beforeObjs, errs := readDiffState(c, "before")
	afterObjs, afterErrs := beforeObjs, []error(nil)
	if len(c.StringSlice("after")) > 0 {
		afterObjs, afterErrs = readDiffState(c, "after")
	}
	before, berrs := decode.Build(beforeObjs)
	after, aerrs := decode.Build(afterObjs)
	errs = append(append(append(errs, berrs...), afterErrs...), aerrs...)
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(c.App.ErrWriter, err)
		}
		return cli.Exit(fmt.Sprintf("%d problem(s) in the input: nothing compared", len(errs)), diffExitInvalid)
	}
	d := evaluator.Diff(before, after.WithStaged(), opts, services, extra)
	logrus.WithFields(logrus.Fields{"probes": d.Probes, "changed": len(d.Changed), "staged": len(after.Staged)}).Debug("diffed")
	d.Changed = filterChanged(d.Changed, splitList(c.String("namespace")))
	switch format {
	case "json":
		if err := writeDiffJSON(c.App.Writer, d.Changed); err != nil {
			return err
		}
	case "html":
		// The page draws the whole after matrix, so it evaluates every
		// pair of its participants: --namespace keeps it to a size a
		// person reads (and a browser draws) anyway.
		ps := inNamespaces(d.Participants, splitList(c.String("namespace")))
		ev := evaluator.New(after.WithStaged(), opts)
		page := newMatrixPage("flowgate diff", ps, services, ev.MatrixCells(ps, services))
		page.addChanges(d.Changed)
		if err := page.write(c.App.Writer); err != nil {
			return err
		}
	default:
		writeDiffTable(c.App.Writer, d)
	}
	if len(d.Changed) > 0 || len(d.Added) > 0 || len(d.Removed) > 0 {
		return cli.Exit("", diffExitChanged)
	}
	return nil
}

// readDiffState reads one state's inputs: the files of --before/--after,
// or for the before state without files, what the agent enforces.
func readDiffState(c *cli.Context, flag string) ([]decode.Object, []error) {
	if paths := c.StringSlice(flag); len(paths) > 0 {
		return files.Read(paths, os.Stdin)
	}
	return readAgentObjects(c.Context, c.String("agent"))
}

func parseExtraAddresses(s string) ([]netip.Addr, error) {
	var extra []netip.Addr
	for _, f := range splitList(s) {
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("--extra-addresses: %q is not an IP", f), 2)
		}
		extra = append(extra, a.Unmap())
	}
	return extra, nil
}

// filterChanged keeps the connections from or to one of namespaces (all
// when none are given).
func filterChanged(cs []evaluator.ChangedConnection, namespaces []string) []evaluator.ChangedConnection {
	if len(namespaces) == 0 {
		return cs
	}
	keep := map[string]bool{}
	for _, ns := range namespaces {
		keep[ns] = true
	}
	var out []evaluator.ChangedConnection
	for _, c := range cs {
		if keep[c.FromNamespace] || keep[c.ToNamespace] {
			out = append(out, c)
		}
	}
	return out
}

// diffRow is one changed connection in -o json: matrix -o json's keys,
// both verdicts and what decided each.
type diffRow struct {
	From          string  `json:"from"`
	To            string  `json:"to"`
	Protocol      string  `json:"protocol"`
	Port          uint16  `json:"port"`
	Before        bool    `json:"before"`
	After         bool    `json:"after"`
	BeforeDecided decided `json:"beforeDecided"`
	AfterDecided  decided `json:"afterDecided"`
}

func writeDiffJSON(w io.Writer, cs []evaluator.ChangedConnection) error {
	rows := make([]diffRow, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, diffRow{From: c.From, To: c.To, Protocol: c.Protocol, Port: c.Port,
			Before: c.Before.Allowed, After: c.After.Allowed,
			BeforeDecided: decidedBy(c.Before), AfterDecided: decidedBy(c.After)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// writeDiffTable prints the changes grouped by source and destination
// namespace, one block per connection with both states' deciding rules.
func writeDiffTable(w io.Writer, d evaluator.WorldDiff) {
	opened, closed := 0, 0
	group := "\x00"
	for _, c := range d.Changed {
		if g := nsLabel(c.FromNamespace) + " -> " + nsLabel(c.ToNamespace); g != group {
			if group != "\x00" {
				fmt.Fprintln(w)
			}
			group = g
			fmt.Fprintf(w, "%s\n", g)
		}
		word, mark := "closed", "-"
		if c.Opened() {
			word, mark = "opened", "+"
			opened++
		} else {
			closed++
		}
		svc := c.Protocol
		if c.Port != 0 {
			svc += "/" + strconv.Itoa(int(c.Port))
		}
		fmt.Fprintf(w, "  %s %s -> %s %s %s\n", mark, c.From, c.To, svc, word)
		fmt.Fprintf(w, "      before: %s  %s\n", allowedWord(c.Before.Allowed), c.Before.Reason)
		fmt.Fprintf(w, "      after:  %s  %s\n", allowedWord(c.After.Allowed), c.After.Reason)
	}
	if len(d.Changed) > 0 {
		fmt.Fprintln(w)
	}
	for _, n := range d.Added {
		fmt.Fprintf(w, "endpoint added (not compared): %s\n", n)
	}
	for _, n := range d.Removed {
		fmt.Fprintf(w, "endpoint removed (not compared): %s\n", n)
	}
	fmt.Fprintf(w, "%d connection(s) opened, %d closed\n", opened, closed)
}

func allowedWord(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied "
}

// nsLabel names a namespace in grouped output; host endpoints and outside
// addresses have none.
func nsLabel(ns string) string {
	if ns == "" {
		return "(no namespace)"
	}
	return ns
}

// decided is what decided one verdict, side by side, for JSON and HTML.
type decided struct {
	// Reason is the verdict's reason as matrix prints it.
	Reason string `json:"reason"`
	// Egress and Ingress are the source's and destination's decisions;
	// absent for a side that is no endpoint.
	Egress  *sideDecision `json:"egress,omitempty"`
	Ingress *sideDecision `json:"ingress,omitempty"`
}

// sideDecision is one endpoint's decision in one direction: the deciding
// rule, or the default that decided (Rule is then absent).
type sideDecision struct {
	Allowed  bool   `json:"allowed"`
	Endpoint string `json:"endpoint"`
	Tier     string `json:"tier,omitempty"`
	Policy   string `json:"policy,omitempty"`
	Rule     *int   `json:"rule,omitempty"`
	Action   string `json:"action,omitempty"`
	Reason   string `json:"reason"`
}

func decidedBy(r evaluator.Cell) decided {
	return decided{Reason: r.Reason, Egress: side(r.Verdict.Egress), Ingress: side(r.Verdict.Ingress)}
}

func side(d *evaluator.Decision) *sideDecision {
	if d == nil {
		return nil
	}
	s := &sideDecision{Allowed: d.Allowed, Endpoint: d.Endpoint, Reason: d.Reason}
	if d.Rule != nil {
		idx := d.Rule.Index
		s.Tier, s.Policy, s.Rule, s.Action = d.Rule.Tier, d.Rule.Policy, &idx, d.Rule.Action.String()
	}
	return s
}
