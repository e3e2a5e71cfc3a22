package integration

import (
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
)

// randWorld writes a random world as YAML: namespaces, local and remote
// pods, VMs, maybe a host endpoint, a network set, a tier, and random
// Calico and Kubernetes policies using every rule feature the compiler
// implements. Local endpoints are on node "local".
type randWorld struct {
	r *rand.Rand
	b strings.Builder
	// vms are the VMs given a network so far, which later VMs of the
	// other network may take the address of.
	vms []rwVM
	// baseline is set once the world has its BaselineAdminNetworkPolicy,
	// a singleton.
	baseline bool
}

type rwVM struct {
	ip      netip.Addr
	network string
}

var (
	rwNamespaces = []string{"ns-a", "ns-b", "ns-c"}
	rwApps       = []string{"web", "db", "api"}
	rwSelectors  = []string{"app == 'web'", "app == 'db'", "app != 'api'", "has(tier)", "tier in {'fe', 'be'}", "all()", "app == 'web' || tier == 'be'", "!has(app)", "global()"}
	rwNsSelect   = []string{"env == 'prod'", "env == 'dev'", "all()", "team == 'red'", "global()"}
	rwNets       = []string{"10.0.0.0/16", "10.0.1.0/24", "10.0.2.0/25", "192.168.0.0/16", "10.0.0.0/8", "fd00::/64"}
	rwPorts      = []string{"80", "81", "'80:90'", "http", "dns", "53", "443"}
)

// rwPairs are the address pairs VMs may have (formatted with the VM's
// index): an address of their own, a subnet, all addresses.
var rwPairs = []string{"10.0.5.%d", "10.0.6.0/24", "0.0.0.0/0"}

// rwVMMAC and rwPairMAC are VM i's MAC and its address pairs' MAC.
func rwVMMAC(i int) string   { return fmt.Sprintf("02:f6:01:00:00:%02x", i) }
func rwPairMAC(i int) string { return fmt.Sprintf("02:ee:00:00:00:%02x", i) }

// addLabel adds "key: value" to a YAML flow map of labels.
func addLabel(labels, kv string) string {
	labels = strings.TrimSuffix(labels, "}")
	if labels != "{" {
		labels += ", "
	}
	return labels + kv + "}"
}

func (g *randWorld) pick(xs []string) string { return xs[g.r.Intn(len(xs))] }
func (g *randWorld) chance(p float64) bool   { return g.r.Float64() < p }

func (g *randWorld) doc(format string, args ...any) {
	g.b.WriteString("---\n")
	fmt.Fprintf(&g.b, format, args...)
	g.b.WriteString("\n")
}

func (g *randWorld) labels() string {
	var ls []string
	if g.chance(0.85) {
		ls = append(ls, "app: "+g.pick(rwApps))
	}
	if g.chance(0.5) {
		ls = append(ls, "tier: "+g.pick([]string{"fe", "be"}))
	}
	return "{" + strings.Join(ls, ", ") + "}"
}

// generate returns the YAML.
func (g *randWorld) generate() string {
	for _, ns := range rwNamespaces {
		g.doc("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {env: %s, team: %s}}", ns, g.pick([]string{"prod", "dev"}), g.pick([]string{"red", "blue"}))
	}
	n := 4 + g.r.Intn(6)
	for i := 0; i < n+3; i++ {
		node := "local"
		if i >= n {
			node = "remote"
		}
		g.addEndpoint(i, node)
	}
	if g.chance(0.3) {
		g.doc("apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: host-eth0, labels: %s}\nspec: {node: local, interfaceName: eth0, expectedIPs: [10.0.9.1]}", g.labels())
	}
	g.doc("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: external, labels: {app: web, kind: external}}\nspec: {nets: [192.168.0.0/16]}")
	g.doc("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100, defaultAction: %s}", g.pick([]string{"Pass", "Deny"}))
	for i, np := 0, 1+g.r.Intn(4); i < np; i++ {
		if g.chance(0.35) {
			g.kubernetesPolicy(i)
		} else {
			g.calicoPolicy(i)
		}
	}
	g.clusterPolicies()
	return g.b.String()
}

func (g *randWorld) addEndpoint(i int, node string) {
	ns := g.pick(rwNamespaces)
	ip := netip.AddrFrom4([4]byte{10, 0, byte(g.r.Intn(3)), byte(10 + i)})
	ips := fmt.Sprintf("{ip: %s}", ip)
	if g.chance(0.25) {
		ips += fmt.Sprintf(", {ip: 'fd00::%x'}", 10+i)
	}
	if g.chance(0.25) {
		// An OpenStack-style VM: default-deny, no Kubernetes policy. Most
		// are in a network, and some reuse the address of a VM of the
		// other network (tenants overlap).
		labels := g.labels()
		if g.chance(0.7) {
			network := g.pick([]string{"net-a", "net-b"})
			for _, vm := range g.vms {
				if vm.network != network && g.chance(0.5) {
					ip = vm.ip
					break
				}
			}
			g.vms = append(g.vms, rwVM{ip, network})
			labels = addLabel(labels, "neutron.openstack.org/network: "+network)
		}
		// Neutron port semantics: some ports are stateless (untracked),
		// some have port security off (unfiltered), some have address
		// pairs — an address or a subnet, with a MAC of their own or not,
		// or all addresses (a MAC member).
		switch {
		case g.chance(0.15):
			labels = addLabel(labels, "neutron.openstack.org/stateful: 'false'")
		case g.chance(0.1):
			labels = addLabel(labels, "neutron.openstack.org/port-security: disabled")
		}
		annotations := "{}"
		if g.chance(0.35) {
			var pairs []string
			for _, p := range rwPairs {
				if !g.chance(0.5) {
					continue
				}
				pair := p
				if strings.Contains(p, "%") {
					pair = fmt.Sprintf(p, i)
				}
				if g.chance(0.5) {
					pair += fmt.Sprintf("@%s", rwPairMAC(i))
				}
				pairs = append(pairs, pair)
			}
			if len(pairs) == 0 {
				pairs = []string{"0.0.0.0/0"}
			}
			annotations = fmt.Sprintf("{neutron.openstack.org/allowed-address-pairs: '%s'}", strings.Join(pairs, ","))
		}
		g.doc("apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata: {name: vm%d, namespace: %s, labels: %s, annotations: %s}\nspec: {orchestrator: openstack, node: %s, mac: '%s', ipNetworks: [%s/32], ports: [{name: http, protocol: TCP, port: 81}]}",
			i, ns, labels, annotations, node, rwVMMAC(i), ip)
		return
	}
	g.doc("apiVersion: v1\nkind: Pod\nmetadata: {name: pod%d, namespace: %s, labels: %s}\nspec: {nodeName: %s, containers: [{name: c, image: x, ports: [{name: http, containerPort: %d}, {name: dns, containerPort: 53, protocol: UDP}]}]}\nstatus: {podIPs: [%s]}",
		i, ns, g.labels(), node, []int{80, 81, 85}[g.r.Intn(3)], ips)
}

func (g *randWorld) calicoPolicy(i int) {
	kind, meta := "GlobalNetworkPolicy", fmt.Sprintf("{name: gnp%d}", i)
	if g.chance(0.5) {
		kind, meta = "NetworkPolicy", fmt.Sprintf("{name: np%d, namespace: %s}", i, g.pick(rwNamespaces))
	}
	var spec []string
	if g.chance(0.7) {
		spec = append(spec, "selector: \""+g.pick(rwSelectors[:8])+"\"")
	}
	if g.chance(0.3) {
		spec = append(spec, "tier: security")
	}
	if g.chance(0.6) {
		spec = append(spec, fmt.Sprintf("order: %d", g.r.Intn(3)*10))
	}
	for _, dir := range []string{"ingress", "egress"} {
		if !g.chance(0.6) {
			continue
		}
		var rules []string
		for j, nr := 0, 1+g.r.Intn(3); j < nr; j++ {
			rules = append(rules, g.calicoRule())
		}
		spec = append(spec, dir+": ["+strings.Join(rules, ", ")+"]")
	}
	g.doc("apiVersion: projectcalico.org/v3\nkind: %s\nmetadata: %s\nspec: {%s}", kind, meta, strings.Join(spec, ", "))
}

func (g *randWorld) calicoRule() string {
	action := g.pick([]string{"Allow", "Allow", "Allow", "Deny", "Deny", "Pass", "Log"})
	parts := []string{"action: " + action}
	proto := ""
	switch g.r.Intn(6) {
	case 0, 1:
		proto = "TCP"
	case 2:
		proto = "UDP"
	case 3:
		proto = "ICMP"
	case 4:
		proto = "SCTP"
	}
	if proto != "" {
		parts = append(parts, "protocol: "+proto)
	} else if g.chance(0.15) {
		parts = append(parts, "notProtocol: UDP")
	}
	if proto == "ICMP" && g.chance(0.5) {
		parts = append(parts, "icmp: {type: 8}")
	}
	if proto == "ICMP" && g.chance(0.2) {
		parts = append(parts, "notICMP: {type: 0}")
	}
	withPorts := proto == "TCP" || proto == "UDP" || proto == "SCTP"
	for _, side := range []string{"source", "destination"} {
		var e []string
		if g.chance(0.4) {
			e = append(e, "selector: \""+g.pick(rwSelectors)+"\"")
		}
		if g.chance(0.2) {
			e = append(e, "namespaceSelector: \""+g.pick(rwNsSelect)+"\"")
		}
		if g.chance(0.2) {
			e = append(e, "nets: ["+g.pick(rwNets)+"]")
		}
		if g.chance(0.15) {
			e = append(e, "notNets: ["+g.pick(rwNets)+"]")
		}
		if g.chance(0.1) {
			e = append(e, "notSelector: \""+g.pick(rwSelectors[:8])+"\"")
		}
		if withPorts && side == "destination" && g.chance(0.6) {
			e = append(e, "ports: ["+g.pick(rwPorts)+", "+g.pick(rwPorts)+"]")
		}
		if withPorts && g.chance(0.1) {
			e = append(e, "notPorts: ["+g.pick(rwPorts)+"]")
		}
		if withPorts && side == "source" && g.chance(0.05) {
			e = append(e, "ports: ['40000:40010']")
		}
		if len(e) > 0 {
			parts = append(parts, side+": {"+strings.Join(e, ", ")+"}")
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (g *randWorld) kubernetesPolicy(i int) {
	ns := g.pick(rwNamespaces)
	var spec []string
	if g.chance(0.7) {
		spec = append(spec, "podSelector: {matchLabels: {app: "+g.pick(rwApps)+"}}")
	} else {
		spec = append(spec, "podSelector: {}")
	}
	var types []string
	for _, dir := range []string{"ingress", "egress"} {
		if !g.chance(0.6) {
			continue
		}
		types = append(types, map[string]string{"ingress": "Ingress", "egress": "Egress"}[dir])
		peerKey := map[string]string{"ingress": "from", "egress": "to"}[dir]
		var rules []string
		for j, nr := 0, g.r.Intn(3); j < nr; j++ {
			var r []string
			var peers []string
			for k, np := 0, g.r.Intn(3); k < np; k++ {
				switch g.r.Intn(4) {
				case 0:
					peers = append(peers, "{podSelector: {matchLabels: {app: "+g.pick(rwApps)+"}}}")
				case 1:
					peers = append(peers, "{namespaceSelector: {matchLabels: {env: "+g.pick([]string{"prod", "dev"})+"}}}")
				case 2:
					expr := g.pick([]string{"operator: In, values: [fe]", "operator: NotIn, values: [fe]", "operator: Exists", "operator: DoesNotExist"})
					peers = append(peers, "{namespaceSelector: {}, podSelector: {matchExpressions: [{key: tier, "+expr+"}]}}")
				case 3:
					peers = append(peers, "{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}")
				}
			}
			if len(peers) > 0 {
				r = append(r, peerKey+": ["+strings.Join(peers, ", ")+"]")
			}
			var ports []string
			for k, np := 0, g.r.Intn(3); k < np; k++ {
				switch g.r.Intn(4) {
				case 0:
					ports = append(ports, "{port: 80}")
				case 1:
					ports = append(ports, "{protocol: UDP, port: 53}")
				case 2:
					ports = append(ports, "{port: 80, endPort: 85}")
				case 3:
					ports = append(ports, "{port: http}")
				}
			}
			if len(ports) > 0 {
				r = append(r, "ports: ["+strings.Join(ports, ", ")+"]")
			}
			rules = append(rules, "{"+strings.Join(r, ", ")+"}")
		}
		spec = append(spec, dir+": ["+strings.Join(rules, ", ")+"]")
	}
	if len(types) > 0 && g.chance(0.7) {
		spec = append(spec, "policyTypes: ["+strings.Join(types, ", ")+"]")
	}
	g.doc("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: knp%d, namespace: %s}\nspec: {%s}", i, ns, strings.Join(spec, ", "))
}
