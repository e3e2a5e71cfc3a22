// Package ovsbind decides which endpoints are local: bound to a port of
// the integration bridge. It is pure: the agent hands it the endpoints and
// the bridge's interfaces (read from OVSDB) and gets the compiler's
// bindings back.
package ovsbind

import (
	"net"
	"sort"
	"strings"

	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// Port is what binding needs to know of one bridge interface.
type Port struct {
	// Name is the interface name (matched against interfaceName).
	Name string
	// OFPort is the OpenFlow port; ≤ 0 means not (yet) usable.
	OFPort int
	// IfaceID is external_ids:iface-id, the OVS integration convention:
	// "<namespace>/<pod>" for pods, the endpoint name or port UUID for VMs.
	IfaceID string
	// AttachedMAC is external_ids:attached-mac, the workload's MAC.
	AttachedMAC string
	// MACInUse is the interface's own MAC, used when nothing better is known.
	MACInUse string
}

// Options restrict binding.
type Options struct {
	// Node, when set, makes only endpoints whose node is Node local.
	Node string
}

// LocalPort is the OpenFlow number of a bridge's own internal interface
// (OFPP_LOCAL, the interface named like the bridge).
const LocalPort = 65534

// WildcardInterface is the interfaceName of a host endpoint that stands
// for every interface of the host (Calico's all-interfaces host endpoint,
// and the automatic ones made from Kubernetes Nodes).
const WildcardInterface = "*"

// Bind returns the bindings of every endpoint that a usable port carries.
// An endpoint is bound by iface-id — its ID ("namespace/name") or, for
// namespaced workload endpoints, its bare name — or by interfaceName.
// A host endpoint with interfaceName "*" (all of the host's interfaces) is
// bound to the host's own port on the bridge: the port whose iface-id is
// its name if there is one (a host whose address sits on another internal
// port), else the bridge's internal interface, LOCAL. Only traffic that
// crosses the bridge is filtered: host interfaces outside it never reach
// OpenFlow. The
// MAC is the endpoint's own, else attached-mac, else the port's (for host
// endpoints on internal ports, the port's MAC is the host's). Endpoints
// without a usable port, or on another node when Node is set, are remote.
func Bind(eps []*policy.Endpoint, ports []Port, opts Options) map[string]compiler.Binding {
	// Ports are indexed by iface-id split at its first "/", so that an
	// endpoint is looked up by its namespace and name without building its
	// ID: Bind runs on every change, over every endpoint of the cluster.
	byIfaceID, byName, byOFPort := indexPorts(ports)
	// Candidates first, then in ID order, so that when two endpoints
	// claim one port the same one wins whatever the input order.
	type candidate struct {
		id string
		e  *policy.Endpoint
		p  *Port
	}
	var cands []candidate
	for _, e := range eps {
		if opts.Node != "" && e.Node != opts.Node {
			continue
		}
		if p := portFor(e, byIfaceID, byName, byOFPort); p != nil {
			cands = append(cands, candidate{e.ID(), e, p})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].id < cands[j].id })
	out := map[string]compiler.Binding{}
	usedPort := map[int]bool{}
	for _, c := range cands {
		e, p, id := c.e, c.p, c.id
		if usedPort[p.OFPort] {
			continue
		}
		mac := e.MAC
		for _, s := range []string{p.AttachedMAC, p.MACInUse} {
			if len(mac) == 6 {
				break
			}
			if m, err := net.ParseMAC(s); err == nil && len(m) == 6 {
				mac = m
			}
		}
		if len(mac) != 6 {
			continue
		}
		usedPort[p.OFPort] = true
		out[id] = compiler.Binding{OFPort: uint32(p.OFPort), MAC: mac}
	}
	return out
}

// idKey is an endpoint ID ("namespace/name", or a bare name) in parts.
// indexPorts indexes the ports an endpoint can be bound to by iface-id,
// name and OpenFlow port number.
func indexPorts(ports []Port) (byIfaceID map[idKey]*Port, byName map[string]*Port, byOFPort map[int]*Port) {
	byIfaceID, byName, byOFPort = map[idKey]*Port{}, map[string]*Port{}, map[int]*Port{}
	sorted := append([]Port(nil), ports...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for i := range sorted {
		p := &sorted[i]
		if p.OFPort <= 0 {
			continue
		}
		if p.IfaceID != "" {
			k := splitID(p.IfaceID)
			if _, dup := byIfaceID[k]; !dup {
				byIfaceID[k] = p
			}
		}
		byName[p.Name] = p
		byOFPort[p.OFPort] = p
	}
	return byIfaceID, byName, byOFPort
}

// Candidates are the endpoints of eps that Bind may bind to one of ports
// (on opts.Node, with a port that names them). Bind of the candidates
// alone gives what Bind of all eps gives, which lets the agent rebind
// after one endpoint changed without looking at the other 100,000.
func Candidates(eps []*policy.Endpoint, ports []Port, opts Options) []*policy.Endpoint {
	byIfaceID, byName, byOFPort := indexPorts(ports)
	var out []*policy.Endpoint
	for _, e := range eps {
		if opts.Node != "" && e.Node != opts.Node {
			continue
		}
		if portFor(e, byIfaceID, byName, byOFPort) != nil {
			out = append(out, e)
		}
	}
	return out
}

type idKey struct{ namespace, name string }

func splitID(id string) idKey {
	if ns, name, ok := strings.Cut(id, "/"); ok && ns != "" {
		return idKey{ns, name}
	}
	return idKey{"", id}
}

func portFor(e *policy.Endpoint, byIfaceID map[idKey]*Port, byName map[string]*Port, byOFPort map[int]*Port) *Port {
	if p := byIfaceID[idKey{e.Namespace, e.Name}]; p != nil {
		return p
	}
	if e.Kind == policy.WorkloadEndpoint {
		if p := byIfaceID[idKey{"", e.Name}]; p != nil {
			return p
		}
	}
	if e.Kind == policy.HostEndpoint && e.InterfaceName == WildcardInterface {
		return byOFPort[LocalPort]
	}
	if e.InterfaceName != "" {
		return byName[e.InterfaceName]
	}
	return nil
}
