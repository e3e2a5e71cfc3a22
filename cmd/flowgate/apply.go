package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "compile policy files and make a bridge enforce them, once",
		Description: `Reads the -f inputs, finds which endpoints are local (ports of the bridge
whose external_ids:iface-id is namespace/name, or whose name is the endpoint's
interfaceName), compiles, and replaces the bridge's flows in one atomic
bundle. Running it again with the same input changes nothing and says so.
Every apply records on the bridge (external_ids:flowgate-apply) a hash of
what its flows are compiled from (the flowgate binary, the command line,
every input file's bytes, the bridge's ports and the host's addresses) and a
digest of those flows in OVS's normalised form; an apply with the same hash
then only dumps the bridge's flows and compares their digest, without
decoding or compiling (so it prints no input warnings). Any flow added,
deleted or edited since makes it compile and compare everything and put the
right flows back.

  flowgate apply --bridge br-int -f /etc/flowgate/policy/
  OVS_RUNDIR=/tmp/ovs flowgate apply --ovsdb unix:/tmp/ovs/db.sock -f world.yaml

A port with an external_ids:iface-id that binds to no endpoint of the input
is held: its traffic is dropped both ways until an apply binds it. Ports
without an iface-id (uplinks, patch, tunnel, internal ports) are left alone.

With any invalid input (a document that does not decode, two objects with
one kind/namespace/name, a policy that does not compile) apply changes
nothing on the bridge, not even opening it: every problem is printed on
stderr and the exit code is 1. Dropping one broken object and enforcing the
rest could drop a Deny.

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
		Flags: append([]cli.Flag{fileFlag, bridgeFlag, ovsdbFlag, datapathFlag, nodeFlag, failsafeInboundFlag, failsafeOutboundFlag, establishedFlag, cpuProfileFlag, memProfileFlag}, sharedFlags...),
		Action: func(c *cli.Context) (err error) {
			stopProfiles, err := startProfiles(c)
			if err != nil {
				return cli.Exit(err.Error(), exitUsage)
			}
			defer func() {
				if perr := stopProfiles(); perr != nil && err == nil {
					err = perr
				}
			}()
			if os.Getenv("GOGC") == "" {
				// apply runs once and exits: decoding leaves garbage
				// faster than the default GC target collects it cheaply.
				// At 50,000 pods 200 saves 0.15-0.2 s of 2 s for ~80 MB
				// more peak (docs/benchmarks.md); GOGC overrides it.
				debug.SetGCPercent(200)
			}
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
			read := func() []files.Input { return files.ReadInputs(c.StringSlice("filename"), c.App.Reader) }
			look := alreadyApplied(c.Context, c.String("ovsdb"), c.String("bridge"), shared, os.Args[1:], read)
			if look.stopPrefetch != nil {
				defer look.stopPrefetch()
			}
			if look.applied {
				fmt.Fprintf(c.App.Writer, "bridge %s already enforces this policy: %d flows, %d local endpoints, no changes\n", c.String("bridge"), look.rec.Flows, look.rec.Bound)
				return nil
			}
			ins := look.ins
			e := &agent.Engine{Bridge: c.String("bridge"), Node: c.String("node"), Opts: opts, Shared: shared}
			objs, pre, err := checkApplyInput(c, e, look)
			if err != nil {
				return err
			}
			db, prog, err := agent.OpenBridge(c.Context, c.String("ovsdb"), c.String("bridge"), c.String("datapath-type"), shared, os.Environ())
			if err != nil {
				return err
			}
			defer db.Close()
			e.DB, e.Prog = db, prog
			desired := digestWhileSyncing(c.Context, e)
			if look.pre != nil {
				prog.SetPrefetched(look.pre)
			}
			var stats openflow.SyncStats
			var errs []error
			if pre != nil {
				stats, err = e.ReplaceCompiled(c.Context, pre)
			} else {
				stats, errs, err = e.Replace(c.Context, objs)
			}
			if err != nil {
				return err
			}
			if len(errs) > 0 { // checkApplyInput built the same objects
				return fmt.Errorf("internal error: %d problem(s) after the input was checked, nothing changed: %v", len(errs), errs[0])
			}
			flows, bound := e.Counts()
			recordApplied(c.Context, e, desired, os.Args[1:], ins, flows, bound)
			if stats.Added+stats.Removed+stats.Changed == 0 {
				fmt.Fprintf(c.App.Writer, "bridge %s already enforces this policy: %d flows, %d local endpoints, no changes\n", e.Bridge, flows, bound)
			} else {
				fmt.Fprintf(c.App.Writer, "bridge %s: %d flows (%d added, %d removed, %d changed), %d local endpoints\n",
					e.Bridge, flows, stats.Added, stats.Removed, stats.Changed, bound)
			}
			return nil
		},
	}
}

// checkApplyInput decodes and compiles the input before apply touches the
// bridge (every endpoint of --node taken as local, so every policy that
// can apply on this host is compiled): with any problem it lists them all
// and refuses, and nothing changes. When the bridge's ports (look) bind
// every endpoint of the node, that compilation is the one apply installs
// (pre; agent.Engine.CompileForAllLocal), otherwise pre is nil and
// Replace compiles for the ports it finds.
func checkApplyInput(c *cli.Context, e *agent.Engine, look bridgeLook) ([]decode.Object, *agent.Compiled, error) {
	objs, problems := files.DecodeInputs(look.ins)
	printWarnings(c.App.ErrWriter, objs)
	w, berrs := decode.Build(objs)
	problems = append(problems, berrs...)
	var pre *agent.Compiled
	if len(problems) == 0 {
		checked := false
		if look.found {
			var cerrs []error
			pre, cerrs, checked = e.CompileForAllLocal(objs, look.ports)
			problems = append(problems, cerrs...)
		}
		if !checked {
			opts := e.Opts
			opts.Locals = compiler.AllLocal(w, c.String("node"))
			_, cerrs := compiler.New(w, opts)
			problems = append(problems, cerrs...)
		}
	}
	for _, p := range problems {
		fmt.Fprintln(c.App.ErrWriter, p)
	}
	if len(problems) > 0 {
		return nil, nil, cli.Exit(fmt.Sprintf("%d problem(s) in the input; nothing changed on the bridge", len(problems)), exitInvalid)
	}
	return objs, pre, nil
}
