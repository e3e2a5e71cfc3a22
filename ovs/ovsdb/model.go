package ovsdb

import (
	"github.com/ovn-org/libovsdb/model"
)

// The models below are written by hand and trimmed to the columns flowgate
// reads or writes: libovsdb maps only tagged fields, the monitor asks the
// server for exactly these columns (so Interface statistics, which
// ovs-vswitchd rewrites every few seconds, never wake the agent), and a
// column list this short is easier to review than modelgen's 4,000 lines
// for the whole schema. Connect validates them against the server's schema;
// TestModelsMatchSchema does the same offline against the Debian schema.

// openvSwitch is the root row of the Open_vSwitch database.
type openvSwitch struct {
	UUID        string            `ovsdb:"_uuid"`
	Bridges     []string          `ovsdb:"bridges"`
	OtherConfig map[string]string `ovsdb:"other_config"`
	NextCfg     int               `ovsdb:"next_cfg"`
	CurCfg      int               `ovsdb:"cur_cfg"`
}

// bridge is a row of the Bridge table.
type bridge struct {
	UUID         string            `ovsdb:"_uuid"`
	Name         string            `ovsdb:"name"`
	Ports        []string          `ovsdb:"ports"`
	Protocols    []string          `ovsdb:"protocols"`
	FailMode     *string           `ovsdb:"fail_mode"`
	DatapathType string            `ovsdb:"datapath_type"`
	FlowTables   map[int]string    `ovsdb:"flow_tables"`
	ExternalIDs  map[string]string `ovsdb:"external_ids"`
}

// port is a row of the Port table.
type port struct {
	UUID       string   `ovsdb:"_uuid"`
	Name       string   `ovsdb:"name"`
	Interfaces []string `ovsdb:"interfaces"`
}

// iface is a row of the Interface table.
type iface struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Type        string            `ovsdb:"type"`
	Ofport      *int              `ovsdb:"ofport"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
	MACInUse    *string           `ovsdb:"mac_in_use"`
	LinkState   *string           `ovsdb:"link_state"`
	Error       *string           `ovsdb:"error"`
}

// flowTable is a row of the Flow_Table table.
type flowTable struct {
	UUID string  `ovsdb:"_uuid"`
	Name *string `ovsdb:"name"`
}

// Table names, as the schema spells them.
const (
	tableOpenvSwitch = "Open_vSwitch"
	tableBridge      = "Bridge"
	tablePort        = "Port"
	tableInterface   = "Interface"
	tableFlowTable   = "Flow_Table"
)

// clientModel is the part of the Open_vSwitch database flowgate uses.
func clientModel() (model.ClientDBModel, error) {
	return model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		tableOpenvSwitch: &openvSwitch{},
		tableBridge:      &bridge{},
		tablePort:        &port{},
		tableInterface:   &iface{},
		tableFlowTable:   &flowTable{},
	})
}
