package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/translator/compiler"
)

// sharedConfig is the agent configuration's `shared` section: share the
// bridge with the Neutron OVS agent (deploy/config/agent.yaml).
type sharedConfig struct {
	// Enabled turns shared mode on; off, flowgate owns the whole bridge.
	Enabled bool `json:"enabled"`
	// TableBase, EntryTable and HandBack are compiler.Shared's fields.
	TableBase  int      `json:"tableBase"`
	EntryTable int      `json:"entryTable"`
	HandBack   handBack `json:"handBack"`
}

func defaultSharedConfig() sharedConfig {
	d := compiler.DefaultShared()
	return sharedConfig{TableBase: int(d.TableBase), EntryTable: int(d.EntryTable), HandBack: handBack(d.HandBack)}
}

// layout is the section as a placement, nil when shared mode is off.
func (c sharedConfig) layout() (*compiler.Shared, error) {
	if !c.Enabled {
		return nil, nil
	}
	return newShared(c.TableBase, c.EntryTable, uint8(c.HandBack))
}

func newShared(base, entry int, back uint8) (*compiler.Shared, error) {
	for _, v := range []struct {
		name string
		n    int
	}{{"tableBase", base}, {"entryTable", entry}} {
		if v.n < 0 || v.n > 253 {
			return nil, fmt.Errorf("shared: %s %d: want a table number 0–253", v.name, v.n)
		}
	}
	s := compiler.Shared{TableBase: uint8(base), EntryTable: uint8(entry), HandBack: back}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("shared: %w", err)
	}
	return &s, nil
}

// handBack is "normal" (0, the NORMAL action) or a table number.
type handBack uint8

// UnmarshalJSON reads `normal` or a table number such as 94.
func (h *handBack) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n, err := parseHandBack(strings.Trim(fmt.Sprint(v), `"`))
	if err != nil {
		return err
	}
	*h = handBack(n)
	return nil
}

func parseHandBack(s string) (uint8, error) {
	if strings.EqualFold(s, "normal") {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 253 {
		return 0, fmt.Errorf("handBack %q: want normal or a table number 1–253", s)
	}
	return uint8(n), nil
}

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
	back, err := parseHandBack(c.String("hand-back"))
	if err != nil {
		return nil, fmt.Errorf("--hand-back: %w", err)
	}
	return newShared(c.Int("table-base"), c.Int("entry-table"), back)
}
