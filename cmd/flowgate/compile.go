package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/translator/compiler"
)

func compileCommand() *cli.Command {
	return &cli.Command{
		Name:  "compile",
		Usage: "print the OpenFlow flows that enforce the policy on one host",
		Description: `Compiles the -f inputs into the flows of one bridge, deterministically:
the same input always prints the same bytes.

  flowgate compile -f world.yaml                  # every endpoint local
  flowgate compile -f world.yaml --node node-1    # endpoints whose node is node-1
  flowgate compile -f world.yaml -o flows > flows.txt
  ovs-ofctl -O OpenFlow15 add-flows br-int flows.txt

Without a bridge to read ports from, local endpoints get ports 1, 2, ... in
namespace/name order and, when they have none, MACs 02:f6:00:... from the
port number. -o flows prints ovs-ofctl add-flows lines; -o names prints the
same with table names (as the docs show them); -o json prints objects.
--shared prints the flows as installed beside the Neutron OVS agent
(flowgate apply --shared): relocated tables, entry flows in Neutron's table
60, the hand-back instead of NORMAL, flowgate's cookie mark.

With any invalid input, or a policy that does not compile, compile prints no
flows: every problem on stderr, exit 1. --skip-invalid prints the flows of
the valid objects, the first line a "# PARTIAL" comment (ovs-ofctl skips
comment lines); with -o json (a list of flows) the notice is on stderr only.`,
		Flags: []cli.Flag{
			fileFlag,
			&cli.StringFlag{Name: "node", Usage: "only endpoints on this node are local (default: all)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "flows", Usage: "flows, names or json"},
			failsafeInboundFlag, failsafeOutboundFlag, establishedFlag,
			sharedFlag, tableBaseFlag, entryTableFlag, handBackFlag, skipInvalidFlag,
		},
		Action: func(c *cli.Context) error {
			shared, err := sharedFromFlags(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			format := c.String("output")
			if format != "flows" && format != "names" && format != "json" {
				return cli.Exit("--output: want flows, names or json", exitUsage)
			}
			w, problems := readWorld(c)
			eo, err := evaluatorOptions(c)
			if err != nil {
				return err
			}
			established, err := establishedOption(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			opts := compiler.Options{
				Locals:           compiler.AllLocal(w, c.String("node")),
				FailsafeInbound:  eo.FailsafeInbound,
				FailsafeOutbound: eo.FailsafeOutbound,
				Established:      established,
				Shared:           shared,
			}
			comp, errs := compiler.New(w, opts)
			partial, err := refuseInvalid(c, append(problems, errs...))
			if err != nil {
				return err
			}
			// No ports are read: nothing is held.
			flows, named := comp.BridgeFlows(nil), compiler.Flow.Named
			if shared != nil {
				compiler.SortFlows(flows)
				named = shared.Named
			}
			out := c.App.Writer
			if partial && format != "json" {
				fmt.Fprintln(out, "# "+partialLine)
			}
			switch format {
			case "flows":
				for _, f := range flows {
					fmt.Fprintln(out, f.String())
				}
			case "names":
				for _, f := range flows {
					fmt.Fprintln(out, named(f))
				}
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(flows)
			}
			return nil
		},
	}
}
