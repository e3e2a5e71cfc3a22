package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
)

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "packets and bytes per policy rule and per default, from the bridge's flow counters",
		ArgsUsage: " ",
		Description: `Reads the counters of the bridge's flows (ovs-ofctl dump-flows) and sums them
per policy rule — the rule id every rule flow's cookie carries — and per
default (the end of each tier that denies, an endpoint's default). With -f
(the policy the bridge enforces) each rule is named by tier, policy and its
index in the rule list, each tier default by its tier; without, by their
numbers.

Rules see the packets checked against policy: the first packet of each
connection (every packet in the cut modes, and every packet of untracked
endpoints); the rest of a connection is switched by conntrack before the
rules. Each tier that ends in deny has its own end-of-tier flow per
direction, so each tier's default is counted on its own.

  flowgate stats --bridge br-int -f /etc/flowgate/policy/
  flowgate stats --bridge br-int -o json

stats only reads.`,
		Flags: append([]cli.Flag{bridgeFlag, ovsdbFlag, nodeFlag,
			&cli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "policy files or directories, to name the rules (optional)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
		}, sharedFlags...),
		Action: func(c *cli.Context) error {
			if o := c.String("output"); o != "table" && o != "json" {
				return cli.Exit("--output: want table or json", exitUsage)
			}
			shared, err := sharedFromFlags(c)
			if err != nil {
				return cli.Exit(err.Error(), exitUsage)
			}
			bridge := c.String("bridge")
			db, _, err := agent.OpenBridgeReadOnly(c.Context, c.String("ovsdb"), bridge, shared, os.Environ())
			if err != nil {
				return cli.Exit(err.Error(), exitInvalid)
			}
			defer db.Close()
			var comp *compiler.Compiler
			if paths := c.StringSlice("filename"); len(paths) > 0 {
				objs, problems := files.Read(paths, c.App.Reader)
				for _, p := range problems {
					fmt.Fprintln(c.App.ErrWriter, p)
				}
				e := &agent.Engine{Bridge: bridge, Node: c.String("node"), DB: db}
				w, _ := e.BuildWorld(objs)
				comp, _ = compiler.New(w, compiler.Options{Locals: e.Bindings(w, e.Ports()), Shared: shared})
			}
			// On a shared bridge only flowgate's flows (its cookie mark):
			// the other controller's cookies are random.
			match := ""
			if shared != nil {
				match = fmt.Sprintf("cookie=%#x/%#x", compiler.SharedCookieMark, compiler.SharedCookieMask)
			}
			flows, err := openflow.DumpFlowStats(c.Context, bridge, match, os.Environ())
			if err != nil {
				return cli.Exit(err.Error(), exitInvalid)
			}
			stats := agent.RuleStats(flows, comp, shared)
			if c.String("output") == "json" {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(stats)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DIRECTION\tTIER\tPOLICY\tRULE\tACTION\tPACKETS\tBYTES")
			for _, s := range stats {
				if s.Default != "" {
					fmt.Fprintf(tw, "%s\t%s\t(%s)\t-\t-\t%d\t%d\n", s.Direction, orDash(s.Tier), s.Default, s.Packets, s.Bytes)
					continue
				}
				rule := fmt.Sprint(s.Rule)
				if s.RuleName != "" {
					rule += fmt.Sprintf(" %q", s.RuleName)
				}
				if s.Rule < 0 {
					rule = fmt.Sprintf("id %#x", s.RuleID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.Direction, orDash(s.Tier), s.Policy, rule, orDash(s.Action), s.Packets, s.Bytes)
			}
			return tw.Flush()
		},
	}
}

// orDash is s, or "-" when empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
