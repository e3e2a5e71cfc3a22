package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "compile policy files and make a bridge enforce them, once",
		Description: `Reads the -f inputs, finds which endpoints are local (ports of the bridge
whose external_ids:iface-id is namespace/name, or whose name is the endpoint's
interfaceName), compiles, and replaces the bridge's flows in one atomic
bundle. Running it again with the same input changes nothing and says so.

  flowgate apply --bridge br-int -f /etc/flowgate/policy/
  OVS_RUNDIR=/tmp/ovs flowgate apply --ovsdb unix:/tmp/ovs/db.sock -f world.yaml

A port with an external_ids:iface-id that binds to no endpoint of the input
is held: its traffic is dropped both ways until an apply binds it. Ports
without an iface-id (uplinks, patch, tunnel, internal ports) are left alone.

Invalid documents are reported and left out; everything valid is enforced.

With --shared the bridge is shared with the Neutron OVS agent (br-int with
firewall_driver = noop): flowgate's tables are installed from --table-base on,
bound ports' traffic is diverted into them from Neutron's table 60 and handed
back with NORMAL (or --hand-back TABLE), and only flowgate's own flows (by
cookie) are read, replaced or deleted; Neutron's flows stay byte-identical.

--established-connections cut (Neutron's behaviour) makes the bridge check
every packet of an open connection against the policy in force, so running
apply with a policy that no longer allows a connection cuts it, in both
directions; survive (the default, Calico's) leaves open connections alone.

  flowgate apply --shared --bridge br-int -f /etc/flowgate/policy/`,
		Flags: append([]cli.Flag{fileFlag, bridgeFlag, ovsdbFlag, datapathFlag, nodeFlag, failsafeInboundFlag, failsafeOutboundFlag, establishedFlag}, sharedFlags...),
		Action: func(c *cli.Context) error {
			opts, err := agent.CompilerOptions(c.String("failsafe-inbound"), c.String("failsafe-outbound"))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			if opts.Established, err = establishedOption(c); err != nil {
				return cli.Exit(err.Error(), 2)
			}
			shared, err := sharedFromFlags(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			objs, problems := files.Read(c.StringSlice("filename"), c.App.Reader)
			for _, p := range problems {
				fmt.Fprintln(c.App.ErrWriter, p)
			}
			db, prog, err := agent.OpenBridge(c.Context, c.String("ovsdb"), c.String("bridge"), c.String("datapath-type"), shared, os.Environ())
			if err != nil {
				return err
			}
			defer db.Close()
			e := &agent.Engine{Bridge: c.String("bridge"), Node: c.String("node"), DB: db, Prog: prog, Opts: opts, Shared: shared}
			stats, errs, err := e.Replace(c.Context, objs)
			problems = append(problems, errs...)
			if err != nil {
				return err
			}
			flows, bound := e.Counts()
			if stats.Added+stats.Removed+stats.Changed == 0 {
				fmt.Fprintf(c.App.Writer, "bridge %s already enforces this policy: %d flows, %d local endpoints, no changes\n", e.Bridge, flows, bound)
			} else {
				fmt.Fprintf(c.App.Writer, "bridge %s: %d flows (%d added, %d removed, %d changed), %d local endpoints\n",
					e.Bridge, flows, stats.Added, stats.Removed, stats.Changed, bound)
			}
			if len(problems) > 0 {
				return cli.Exit(fmt.Sprintf("%d problem(s) in the input; the valid objects are enforced", len(problems)), 1)
			}
			return nil
		},
	}
}
