package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/ovsdb"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// Flags every command that touches Open vSwitch takes. ovs-ofctl finds the
// bridge through OVS_RUNDIR, as the OVS tools do, so a private instance is
// driven exactly like the system one.
var (
	ovsdbFlag = &cli.StringFlag{Name: "ovsdb", Value: defaultOVSDB, EnvVars: []string{"FLOWGATE_OVSDB"},
		Usage: "ovsdb-server address (unix:PATH or tcp:HOST:PORT); ovs-ofctl uses $OVS_RUNDIR"}
	bridgeFlag   = &cli.StringFlag{Name: "bridge", Value: "br-int", Usage: "integration bridge (created with fail_mode=secure if missing)"}
	datapathFlag = &cli.StringFlag{Name: "datapath-type", Value: "system", Usage: "datapath_type for a bridge flowgate creates: system or netdev"}
	nodeFlag     = &cli.StringFlag{Name: "node", EnvVars: []string{"NODE_NAME"}, Usage: "only endpoints on this node are local (default: every endpoint bound to the bridge)"}
)

// openBridge connects to OVSDB, makes sure the bridge exists and its
// tables are named, and returns a flow programmer for it. With shared set
// only flowgate's placed tables are named and the programmer owns only
// flows with flowgate's cookie mark.
func openBridge(ctx context.Context, addr, bridge, datapathType string, shared *compiler.Shared) (*ovsdb.Client, *openflow.Programmer, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := ovsdb.Connect(cctx, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to OVSDB %s: %w", addr, err)
	}
	if err := db.EnsureBridge(cctx, bridge, datapathType); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	names := map[uint8]string{}
	for _, t := range compiler.Tables {
		names[t.ID] = t.Name
	}
	if shared != nil {
		names = shared.TableNames()
	}
	if err := db.NameTables(cctx, bridge, names); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("name tables of %s: %w", bridge, err)
	}
	prog := openflow.NewProgrammer(bridge, os.Environ())
	if shared != nil {
		prog.Share(compiler.SharedCookieMark, compiler.SharedCookieMask, shared.ForeignTables())
	}
	return db, prog, nil
}

// openBridgeReadOnly connects to OVSDB and to an existing bridge for tools
// that only read (status): unlike openBridge it creates nothing, adds no
// OpenFlow version and names no table, and a missing bridge is an error at
// once.
func openBridgeReadOnly(ctx context.Context, addr, bridge string, shared *compiler.Shared) (*ovsdb.Client, *openflow.Programmer, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := ovsdb.Connect(cctx, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to OVSDB %s: %w", addr, err)
	}
	if !db.HasBridge(bridge) {
		db.Close()
		return nil, nil, fmt.Errorf("bridge %s does not exist in OVSDB %s (status only reads; flowgate apply or the agent creates it)", bridge, addr)
	}
	prog := openflow.NewProgrammer(bridge, os.Environ())
	if shared != nil {
		prog.Share(compiler.SharedCookieMark, compiler.SharedCookieMask, shared.ForeignTables())
	}
	return db, prog, nil
}

// compilerOptions turns failsafe settings into compiler options.
func compilerOptions(inbound, outbound string) (compiler.Options, error) {
	in, err := policy.ParseFailsafes(inbound)
	if err != nil {
		return compiler.Options{}, fmt.Errorf("failsafe inbound: %w", err)
	}
	out, err := policy.ParseFailsafes(outbound)
	if err != nil {
		return compiler.Options{}, fmt.Errorf("failsafe outbound: %w", err)
	}
	return compiler.Options{FailsafeInbound: in, FailsafeOutbound: out}, nil
}

// establishedFlag chooses what a policy change does to open connections
// (the agent's establishedConnections setting).
var establishedFlag = &cli.StringFlag{Name: "established-connections", Value: "survive",
	Usage: "what a policy change does to open connections: survive (Calico: they keep working), cut (those the new policy denies are cut, both directions; every packet checked) or cut-initiator (Neutron: the same, the initiator's packets checked)"}

// establishedOption reads --established-connections.
func establishedOption(c *cli.Context) (compiler.Established, error) {
	m, err := compiler.ParseEstablished(c.String(establishedFlag.Name))
	if err != nil {
		return m, fmt.Errorf("--%s: %w", establishedFlag.Name, err)
	}
	return m, nil
}
