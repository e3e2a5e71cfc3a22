package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/translator/compiler"
)

// Flags of the commands that touch a bridge the Neutron agent may share.
var (
	sharedFlag = &cli.BoolFlag{Name: "shared",
		Usage: "share the bridge with the Neutron OVS agent: flowgate's tables move to --table-base+N, bound ports' traffic enters from --entry-table, leaves by --hand-back, and only flows with flowgate's cookie mark are read, replaced or deleted"}
	tableBaseFlag = &cli.IntFlag{Name: "table-base", Value: int(compiler.DefaultShared().TableBase),
		Usage: "with --shared: flowgate's table N is installed as table-base+N (Neutron uses 0–94)"}
	entryTableFlag = &cli.IntFlag{Name: "entry-table", Value: int(compiler.DefaultShared().EntryTable),
		Usage: "with --shared: the table whose traffic to and from bound ports is diverted into flowgate (Neutron's TRANSIENT_TABLE)"}
	handBackFlag = &cli.StringFlag{Name: "hand-back", Value: "normal",
		Usage: "with --shared: what accepted traffic goes to: normal (the NORMAL action) or a table number (e.g. 94, Neutron's ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE)"}
	sharedFlags = []cli.Flag{sharedFlag, tableBaseFlag, entryTableFlag, handBackFlag}
)

// sharedFromFlags is the placement the command line asks for, nil without
// --shared.
func sharedFromFlags(c *cli.Context) (*compiler.Shared, error) {
	if !c.Bool("shared") {
		return nil, nil
	}
	back, err := agent.ParseHandBack(c.String("hand-back"))
	if err != nil {
		return nil, fmt.Errorf("--hand-back: %w", err)
	}
	return agent.NewShared(c.Int("table-base"), c.Int("entry-table"), back)
}
