package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/ovs/unixctl"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// liveTraceFlags are the flags of the commands that trace the live bridge
// (trace, verify): where the bridge is, and where the policy it enforces
// is read from.
var liveTraceFlags = []cli.Flag{
	bridgeFlag, ovsdbFlag, nodeFlag,
	&cli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Usage: "the policy the bridge enforces: files or directories (the agent's policyPaths); or --agent"},
	&cli.StringFlag{Name: "agent", Usage: "read the policy from the agent's health address (its /objects), e.g. 127.0.0.1:9808, instead of -f"},
	&cli.UintFlag{Name: "in-port", Usage: "OpenFlow port packets from beyond the host enter through (default: the first port with no endpoint and no iface-id, else LOCAL)"},
	failsafeInboundFlag, failsafeOutboundFlag, skipInvalidFlag,
}

// liveTracer reads the world (-f or --agent) and the bridge's bindings,
// and returns a tracer for the bridge; close releases OVSDB and
// ovs-vswitchd.
func liveTracer(c *cli.Context) (t *agent.Tracer, w *policy.World, closeFn func(), err error) {
	var objs []decode.Object
	var problems []error
	switch {
	case c.String("agent") != "":
		objs, problems = readAgentObjects(c.Context, c.String("agent"))
	case len(c.StringSlice("filename")) > 0:
		objs, problems = files.Read(c.StringSlice("filename"), c.App.Reader)
	default:
		return nil, nil, nil, cli.Exit("give the policy the bridge enforces: -f FILES or --agent ADDR", exitUsage)
	}
	printWarnings(c.App.ErrWriter, objs)
	if _, errs := decode.Build(objs); len(errs) > 0 {
		problems = append(problems, errs...)
	}
	// As verdict: an evaluator without a broken Deny would call the
	// bridge wrong; refuse unless --skip-invalid.
	if _, err := refuseInvalid(c, problems); err != nil {
		return nil, nil, nil, err
	}
	opts, err := agent.CompilerOptions(c.String("failsafe-inbound"), c.String("failsafe-outbound"))
	if err != nil {
		return nil, nil, nil, cli.Exit(err.Error(), exitUsage)
	}
	evOpts := evaluator.Options{FailsafeInbound: opts.FailsafeInbound, FailsafeOutbound: opts.FailsafeOutbound}
	bridge := c.String("bridge")
	db, _, err := agent.OpenBridgeReadOnly(c.Context, c.String("ovsdb"), bridge, nil, os.Environ())
	if err != nil {
		return nil, nil, nil, cli.Exit(err.Error(), exitInvalid)
	}
	e := &agent.Engine{Bridge: bridge, Node: c.String("node"), DB: db}
	w, _ = e.BuildWorld(objs)
	ports := e.Ports()
	locals := e.Bindings(w, ports)
	opts.Locals = locals
	comp, errs := compiler.New(w, opts)
	for _, err := range errs {
		fmt.Fprintln(c.App.ErrWriter, "compile:", err)
	}
	out := agent.OutsidePort(ports, locals)
	if c.IsSet("in-port") {
		out = uint32(c.Uint("in-port"))
	}
	client := unixctl.New(unixctl.RunDir(os.Environ()), "ovs-vswitchd", 30*time.Second)
	t = &agent.Tracer{Bridge: bridge, Call: client.Call, Locals: locals, OutsidePort: out, Comp: comp, Eval: evaluator.New(w, evOpts)}
	if len(w.Staged) > 0 {
		t.Staged, t.Staging = evaluator.New(w.WithStaged(), evOpts), len(w.Staged)
	}
	return t, w, func() { client.Close(); db.Close() }, nil
}
