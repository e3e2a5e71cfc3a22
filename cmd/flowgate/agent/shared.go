package agent

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/flowgate/flowgate/translator/compiler"
)

// SharedConfig is the agent configuration's `shared` section: share the
// bridge with the Neutron OVS agent (deploy/config/agent.yaml).
type SharedConfig struct {
	// Enabled turns shared mode on; off, flowgate owns the whole bridge.
	Enabled bool `json:"enabled"`
	// TableBase, EntryTable and HandBack are compiler.Shared's fields.
	TableBase  int      `json:"tableBase"`
	EntryTable int      `json:"entryTable"`
	HandBack   HandBack `json:"handBack"`
}

func defaultSharedConfig() SharedConfig {
	d := compiler.DefaultShared()
	return SharedConfig{TableBase: int(d.TableBase), EntryTable: int(d.EntryTable), HandBack: HandBack(d.HandBack)}
}

// Layout is the section as a placement, nil when shared mode is off.
func (c SharedConfig) Layout() (*compiler.Shared, error) {
	if !c.Enabled {
		return nil, nil
	}
	return NewShared(c.TableBase, c.EntryTable, uint8(c.HandBack))
}

// NewShared is the placement of flowgate's tables on a bridge shared with
// the Neutron OVS agent, checked: the config section and the commands' flags
// both make theirs with it.
func NewShared(base, entry int, back uint8) (*compiler.Shared, error) {
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

// HandBack is "normal" (0, the NORMAL action) or a table number.
type HandBack uint8

// UnmarshalJSON reads `normal` or a table number such as 94.
func (h *HandBack) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n, err := ParseHandBack(strings.Trim(fmt.Sprint(v), `"`))
	if err != nil {
		return err
	}
	*h = HandBack(n)
	return nil
}

// ParseHandBack reads "normal" (0) or a table number 1–253.
func ParseHandBack(s string) (uint8, error) {
	if strings.EqualFold(s, "normal") {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 253 {
		return 0, fmt.Errorf("handBack %q: want normal or a table number 1–253", s)
	}
	return uint8(n), nil
}
