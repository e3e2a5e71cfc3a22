package compiler

import (
	"net"
	"sort"

	"github.com/flowgate/flowgate/translator/policy"
)

// AllLocal binds every endpoint of w that has a chosen node (or every
// endpoint when node is empty) to a made-up port: ofports 1, 2, … in
// endpoint-ID order, and the endpoint's MAC or one derived from the port
// (02:fg:…). It is how `flowgate compile` shows a host's flows without a
// bridge, and how tests lay out a bridge.
func AllLocal(w *policy.World, node string) map[string]Binding {
	var ids []string
	byID := map[string]net.HardwareAddr{}
	for _, e := range w.Endpoints {
		if node != "" && e.Node != node {
			continue
		}
		ids = append(ids, e.ID())
		byID[e.ID()] = e.MAC
	}
	sort.Strings(ids)
	out := make(map[string]Binding, len(ids))
	for i, id := range ids {
		port := uint32(i + 1)
		mac := byID[id]
		if len(mac) != 6 {
			mac = net.HardwareAddr{0x02, 0xf6, 0, byte(port >> 16), byte(port >> 8), byte(port)}
		}
		out[id] = Binding{OFPort: port, MAC: mac}
	}
	return out
}
