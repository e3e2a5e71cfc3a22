package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/translator/compiler"
)

// Flags every command that touches Open vSwitch takes. ovs-ofctl finds the
// bridge through OVS_RUNDIR, as the OVS tools do, so a private instance is
// driven exactly like the system one.
var (
	ovsdbFlag = &cli.StringFlag{Name: "ovsdb", Value: agent.DefaultOVSDB, EnvVars: []string{"FLOWGATE_OVSDB"},
		Usage: "ovsdb-server address (unix:PATH or tcp:HOST:PORT); ovs-ofctl uses $OVS_RUNDIR"}
	bridgeFlag   = &cli.StringFlag{Name: "bridge", Value: "br-int", Usage: "integration bridge (created with fail_mode=secure if missing)"}
	datapathFlag = &cli.StringFlag{Name: "datapath-type", Value: "system", Usage: "datapath_type for a bridge flowgate creates: system or netdev"}
	nodeFlag     = &cli.StringFlag{Name: "node", EnvVars: []string{"NODE_NAME"}, Usage: "only endpoints on this node are local (default: every endpoint bound to the bridge)"}
)

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
