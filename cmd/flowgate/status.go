package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/endpoints/ovsbind"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the bridge, its bound endpoints, the policies in force for each, and flow counts per table",
		Description: `Reads the bridge from OVSDB and its flow tables with ovs-ofctl. With -f (the
agent's policy paths) it also shows which endpoints are bound to which port
and which policies apply to each, in evaluation order.

  flowgate status --bridge br-int -f /etc/flowgate/policy/

status only reads: it changes nothing in OVSDB or in the flow tables, and a
bridge that does not exist is an error at once (exit 1). The bridge's
protocols must include OpenFlow14 or OpenFlow15 (apply and the agent add
them).`,
		Flags: append([]cli.Flag{bridgeFlag, ovsdbFlag, nodeFlag,
			&cli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "policy files or directories (optional)"}}, sharedFlags...),
		Action: func(c *cli.Context) error {
			bridge := c.String("bridge")
			shared, err := sharedFromFlags(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			db, prog, err := agent.OpenBridgeReadOnly(c.Context, c.String("ovsdb"), bridge, shared, os.Environ())
			if err != nil {
				return cli.Exit(err.Error(), exitInvalid)
			}
			defer db.Close()
			out := c.App.Writer
			fmt.Fprintf(out, "bridge %s\n\n", bridge)
			e := &agent.Engine{Bridge: bridge, Node: c.String("node"), DB: db}
			if paths := c.StringSlice("filename"); len(paths) > 0 {
				objs, problems := files.Read(paths, c.App.Reader)
				for _, p := range problems {
					fmt.Fprintln(c.App.ErrWriter, p)
				}
				w, _ := e.BuildWorld(objs)
				ports := e.Ports()
				locals := e.Bindings(w, ports)
				printBindings(out, w, locals)
				printHeld(out, ports, locals)
			} else {
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PORT\tOFPORT\tIFACE-ID\tMAC")
				for _, p := range e.Ports() {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.OFPort, p.IfaceID, p.AttachedMAC)
				}
				tw.Flush()
			}
			counts, err := prog.TableCounts(c.Context)
			if err != nil {
				return err
			}
			name := compiler.TableName
			if shared != nil {
				name = shared.TableName
			}
			printTableCounts(out, counts, name)
			return nil
		},
	}
}

func printBindings(out io.Writer, w *policy.World, locals map[string]compiler.Binding) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tKIND\tOFPORT\tMAC\tINGRESS POLICIES\tEGRESS POLICIES")
	ids := make([]string, 0, len(locals))
	for id := range locals {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		var ep = findEndpoint(w, id)
		if ep == nil {
			continue
		}
		labels := w.EndpointLabels(ep)
		var in, eg []string
		for _, t := range w.TiersInOrder() {
			for _, p := range w.PoliciesInOrder(t.Name) {
				if !p.AppliesTo.Matches(labels) {
					continue
				}
				if p.Types&policy.Ingress != 0 {
					in = append(in, t.Name+"/"+p.ID())
				}
				if p.Types&policy.Egress != 0 {
					eg = append(eg, t.Name+"/"+p.ID())
				}
			}
		}
		def := "default deny"
		if w.DefaultAllow(ep) {
			def = "default allow"
		}
		if ep.Guard == policy.GuardNone {
			// Port security off: no policy of its own applies.
			in, eg, def = nil, nil, "not filtered"
		}
		b := locals[id]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", id, ep.Kind, b.OFPort, b.MAC, listOr(in, def), listOr(eg, def))
	}
	tw.Flush()
	fmt.Fprintf(out, "\n%d endpoints, %d local, %d policies\n\n", len(w.Endpoints), len(locals), len(w.Policies))
}

// printHeld lists the workload ports bound to no endpoint, whose traffic
// `flowgate apply` and the agent drop (compiler.HoldFlows).
func printHeld(out io.Writer, ports []ovsbind.Port, locals map[string]compiler.Binding) {
	var held []string
	for _, p := range ovsbind.HeldPorts(ports, locals, ovsbind.IsWorkloadPort) {
		held = append(held, fmt.Sprintf("%s (iface-id %s)", p.Name, p.IfaceID))
	}
	if len(held) == 0 {
		return
	}
	sort.Strings(held)
	fmt.Fprintf(out, "held (iface-id bound to no endpoint; traffic dropped): %s\n\n", strings.Join(held, ", "))
}

func findEndpoint(w *policy.World, id string) *policy.Endpoint {
	for _, e := range w.Endpoints {
		if e.ID() == id {
			return e
		}
	}
	return nil
}

func listOr(xs []string, none string) string {
	if len(xs) == 0 {
		return "(" + none + ")"
	}
	return strings.Join(xs, ", ")
}

// printTableCounts shows how many flows each table holds, named by name.
func printTableCounts(out io.Writer, counts map[uint8]int, name func(uint8) string) {
	ids := make([]int, 0, len(counts))
	for id := range counts {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tNAME\tFLOWS")
	total := 0
	for _, id := range ids {
		n := counts[uint8(id)]
		total += n
		fmt.Fprintf(tw, "%d\t%s\t%d\n", id, name(uint8(id)), n)
	}
	fmt.Fprintf(tw, "\ttotal\t%d\n", total)
	tw.Flush()
}
