package compiler

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// randWorld generates random worlds and random changes to them. It keeps
// its own model of the world (maps by ID) so that a test can build a fresh
// World for a full compile after every change, independent of the one the
// incremental compiler owns. Objects are never modified once handed out:
// a change replaces them.
//
// Policies are generated as YAML (JSON) and decoded by translator/decode,
// so their selectors are scoped exactly as real Calico and Kubernetes
// policies are.
type randWorld struct {
	tb testing.TB
	r  *rand.Rand
	// shuffle orders the slices of built worlds; it has its own source so
	// that it does not disturb the sequence of changes. ports, likewise,
	// draws port protection and address pairs.
	shuffle, ports *rand.Rand
	cfg            randConfig
	// established cycles with the seed (worlds 100 seeds apart share it,
	// as TestChangesTurnOneWorldIntoAnother needs), so every mode meets every
	// check that runs on random worlds.
	established Established

	namespaces      map[string]*policy.Namespace
	serviceAccounts map[string]*policy.ServiceAccount
	endpoints       map[string]*policy.Endpoint
	sets            map[string]*policy.NetworkSet
	policies        map[string]*policy.Policy
	tiers           map[string]*policy.Tier
	locals          map[string]Binding

	seq      int
	nextPort uint32
}

// randConfig sizes a generated world.
type randConfig struct {
	namespaces int // namespaces ns-0…; endpoints also use one that never exists
	endpoints  int
	sets       int
	policies   int
	// localPercent of endpoints are bound to a port.
	localPercent int
	// maxRules bounds the rules per direction of a generated policy.
	maxRules int
	// addrs is how many distinct IPv4 host addresses endpoints draw from.
	addrs int
	// networks labels endpoints with networks, which share addresses.
	networks bool
}

var smallWorld = randConfig{namespaces: 4, endpoints: 24, sets: 4, policies: 14, localPercent: 40, maxRules: 4, addrs: 200, networks: true}

func newRandWorld(tb testing.TB, seed uint64, cfg randConfig) *randWorld {
	g := &randWorld{
		tb:              tb,
		r:               rand.New(rand.NewPCG(seed, 0x5eed)),
		shuffle:         rand.New(rand.NewPCG(seed, 0xface)),
		ports:           rand.New(rand.NewPCG(seed, 0xa1a1)),
		cfg:             cfg,
		established:     Established(seed % 100 % 3),
		namespaces:      map[string]*policy.Namespace{},
		serviceAccounts: map[string]*policy.ServiceAccount{},
		endpoints:       map[string]*policy.Endpoint{},
		sets:            map[string]*policy.NetworkSet{},
		policies:        map[string]*policy.Policy{},
		tiers:           map[string]*policy.Tier{},
		locals:          map[string]Binding{},
		nextPort:        1,
	}
	for i := 0; i < cfg.namespaces; i++ {
		ns := g.namespace(fmt.Sprintf("ns-%d", i))
		g.namespaces[ns.Name] = ns
		for j := 0; j < 2; j++ {
			sa := g.serviceAccount(ns.Name, fmt.Sprintf("sa-%d", j))
			g.serviceAccounts[sa.Namespace+"/"+sa.Name] = sa
		}
	}
	for _, name := range []string{"security", "platform", "default"} {
		if g.r.IntN(4) != 0 {
			t := g.tier(name)
			g.tiers[t.Name] = t
		}
	}
	for i := 0; i < cfg.endpoints; i++ {
		e := g.endpoint()
		g.endpoints[e.ID()] = e
		if g.r.IntN(100) < cfg.localPercent {
			g.locals[e.ID()] = g.binding()
		}
	}
	for i := 0; i < cfg.sets; i++ {
		s := g.networkSet()
		g.sets[s.ID()] = s
	}
	for i := 0; i < cfg.policies; i++ {
		p := g.policy(g.newPolicyName())
		g.policies[p.ID()] = p
	}
	return g
}

// world builds a fresh World from the model, its slices in a random order
// (the compiler's output must not depend on it).
func (g *randWorld) world() *policy.World {
	w := policy.NewWorld()
	delete(w.Tiers, policy.DefaultTier)
	for _, k := range sortedKeys(g.tiers) {
		w.Tiers[k] = g.tiers[k]
	}
	for _, k := range sortedKeys(g.namespaces) {
		w.Namespaces[k] = g.namespaces[k]
	}
	for _, k := range sortedKeys(g.serviceAccounts) {
		w.ServiceAccounts[k] = g.serviceAccounts[k]
	}
	for _, k := range sortedKeys(g.endpoints) {
		w.Endpoints = append(w.Endpoints, g.endpoints[k])
	}
	for _, k := range sortedKeys(g.sets) {
		w.NetworkSets = append(w.NetworkSets, g.sets[k])
	}
	for _, k := range sortedKeys(g.policies) {
		w.Policies = append(w.Policies, g.policies[k])
	}
	g.shuffle.Shuffle(len(w.Endpoints), func(i, j int) { w.Endpoints[i], w.Endpoints[j] = w.Endpoints[j], w.Endpoints[i] })
	g.shuffle.Shuffle(len(w.NetworkSets), func(i, j int) { w.NetworkSets[i], w.NetworkSets[j] = w.NetworkSets[j], w.NetworkSets[i] })
	g.shuffle.Shuffle(len(w.Policies), func(i, j int) { w.Policies[i], w.Policies[j] = w.Policies[j], w.Policies[i] })
	return w
}

// options returns compiler options with a copy of the bindings.
func (g *randWorld) options() Options {
	locals := make(map[string]Binding, len(g.locals))
	for k, v := range g.locals {
		locals[k] = v
	}
	return Options{
		Locals:           locals,
		FailsafeInbound:  policy.DefaultFailsafeInbound(),
		FailsafeOutbound: policy.DefaultFailsafeOutbound(),
		DefaultZone:      7,
		Generation:       3,
		Established:      g.established,
	}
}

// ---- random pieces -------------------------------------------------------

func (g *randWorld) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *randWorld) chance(percent int) bool { return g.r.IntN(100) < percent }

func (g *randWorld) labels(vocab map[string][]string, max int) map[string]string {
	keys := make([]string, 0, len(vocab))
	for k := range vocab {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]string{}
	n := g.r.IntN(max + 1)
	for i := 0; i < n; i++ {
		k := keys[g.r.IntN(len(keys))]
		out[k] = g.pick(vocab[k]...)
	}
	return out
}

var (
	endpointVocab = map[string][]string{
		"app":     {"web", "api", "db", "cache", "mq"},
		"role":    {"frontend", "backend", "admin"},
		"version": {"v1", "v2"},
	}
	// networkVocab adds networks (randConfig.networks): their scopes and
	// zones come and go with the endpoints that carry them.
	networkVocab = map[string][]string{
		"app":               {"web", "api", "db", "cache", "mq"},
		"role":              {"frontend", "backend", "admin"},
		"version":           {"v1", "v2"},
		policy.LabelNetwork: {"net-a", "net-b"},
	}
	namespaceVocab = map[string][]string{
		"env":  {"prod", "dev", "test"},
		"team": {"a", "b"},
	}
	accountVocab = map[string][]string{"level": {"gold", "silver"}}
	setVocab     = map[string][]string{
		"app":  {"external", "partner", "db"},
		"role": {"backend", "admin"},
	}
)

func (g *randWorld) namespace(name string) *policy.Namespace {
	return &policy.Namespace{Name: name, Labels: g.labels(namespaceVocab, 2)}
}

func (g *randWorld) serviceAccount(ns, name string) *policy.ServiceAccount {
	return &policy.ServiceAccount{Namespace: ns, Name: name, Labels: g.labels(accountVocab, 1)}
}

func (g *randWorld) tier(name string) *policy.Tier {
	t := &policy.Tier{Name: name, Order: policy.NoOrder, DefaultAction: policy.Deny}
	switch name {
	case "security":
		t.Order = float64(100 * g.r.IntN(3))
	case "platform":
		t.Order = float64(500 + 1_000_000*g.r.IntN(2))
	case policy.DefaultTier:
		t.Order = policy.DefaultTierOrder
	}
	if g.chance(20) {
		t.Order = policy.NoOrder
	}
	if g.chance(40) {
		t.DefaultAction = policy.Pass
	}
	return t
}

func (g *randWorld) addr4() netip.Addr {
	n := g.r.IntN(g.cfg.addrs)
	return netip.AddrFrom4([4]byte{10, byte(n / 1000), byte(n / 100 % 10 * 8), byte(n%100 + 1)})
}

func (g *randWorld) addr6() netip.Addr {
	n := g.r.IntN(g.cfg.addrs)
	return netip.MustParseAddr(fmt.Sprintf("fd00:%x::%x", n/100, n%100+1))
}

func (g *randWorld) ips() []netip.Addr {
	var out []netip.Addr
	switch g.r.IntN(10) {
	case 0: // none
	case 1, 2:
		out = []netip.Addr{g.addr4(), g.addr6()}
	case 3:
		out = []netip.Addr{g.addr6()}
	case 4:
		out = []netip.Addr{g.addr4(), g.addr4()}
	default:
		out = []netip.Addr{g.addr4()}
	}
	if len(out) == 2 && out[0] == out[1] {
		out = out[:1]
	}
	return out
}

func (g *randWorld) namedPorts() []policy.NamedPort {
	all := []policy.NamedPort{
		{Name: "http", Protocol: 6, Port: 80},
		{Name: "http", Protocol: 6, Port: 8080},
		{Name: "https", Protocol: 6, Port: 443},
		{Name: "dns", Protocol: 17, Port: 53},
		{Name: "dns", Protocol: 6, Port: 53},
		{Name: "metrics", Protocol: 6, Port: 9090},
		{Name: "sig", Protocol: 132, Port: 3868},
	}
	var out []policy.NamedPort
	seen := map[string]bool{}
	for i := g.r.IntN(3); i > 0; i-- {
		p := all[g.r.IntN(len(all))]
		if k := fmt.Sprint(p.Name, p.Protocol); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

func (g *randWorld) endpointNamespace() string {
	if g.chance(8) {
		return "ns-gone" // a namespace that does not exist
	}
	return fmt.Sprintf("ns-%d", g.r.IntN(g.cfg.namespaces))
}

func (g *randWorld) endpointVocab() map[string][]string {
	if g.cfg.networks {
		return networkVocab
	}
	return endpointVocab
}

func (g *randWorld) endpoint() *policy.Endpoint {
	g.seq++
	e := &policy.Endpoint{Name: fmt.Sprintf("ep-%d", g.seq), Labels: g.labels(g.endpointVocab(), 3), IPs: g.ips(), Ports: g.namedPorts()}
	switch k := g.r.IntN(20); {
	case k < 12:
		e.Kind = policy.PodEndpoint
		e.Orchestrator = policy.OrchestratorKubernetes
		e.Namespace = g.endpointNamespace()
		if g.chance(60) {
			e.ServiceAccount = g.pick("sa-0", "sa-1", "sa-9")
		}
	case k < 17:
		e.Kind = policy.WorkloadEndpoint
		e.Orchestrator = g.pick("openstack", policy.OrchestratorKubernetes)
		e.Namespace = g.endpointNamespace()
		switch g.r.IntN(4) {
		case 0:
			e.Profiles = []string{policy.DefaultAllowProfile}
		case 1:
			e.Profiles = []string{"kns." + e.Namespace}
		}
		g.portGuard(e)
	default:
		e.Kind = policy.HostEndpoint
		e.Name = fmt.Sprintf("host-%d", g.seq)
		e.Ports = nil
	}
	return e
}

// relabel returns a copy of e with new labels (and, sometimes, new
// addresses, ports, service account or profiles).
func (g *randWorld) relabel(e *policy.Endpoint) *policy.Endpoint {
	n := *e
	n.Labels = g.labels(g.endpointVocab(), 3)
	if g.chance(30) {
		n.IPs = g.ips()
	}
	if g.chance(20) && n.Kind != policy.HostEndpoint {
		n.Ports = g.namedPorts()
	}
	if g.chance(10) && n.Kind == policy.PodEndpoint {
		n.ServiceAccount = g.pick("", "sa-0", "sa-1")
	}
	if g.chance(10) && n.Kind == policy.WorkloadEndpoint {
		n.Profiles = []string{g.pick(policy.DefaultAllowProfile, "kns."+n.Namespace, "other")}
	}
	if g.ports.IntN(100) < 15 && n.Kind == policy.WorkloadEndpoint {
		g.portGuard(&n)
	}
	return &n
}

// portGuard gives a workload endpoint Neutron port protection and address
// pairs, sometimes: pairs of all addresses (members by MAC), prefixes,
// and MACs shared with other endpoints' pairs or bindings.
func (g *randWorld) portGuard(e *policy.Endpoint) {
	e.Guard = policy.Guard(0)
	e.AddressPairs = nil
	r := g.ports
	if r.IntN(100) >= 30 {
		return
	}
	e.Guard = []policy.Guard{policy.GuardNeutron, policy.GuardNeutron, policy.GuardNone, policy.GuardDefault}[r.IntN(4)]
	macs := []string{"", "", "02:aa:00:00:00:01", "02:aa:00:00:00:02", "02:00:00:00:00:03"}
	nets := []string{"0.0.0.0/0", "::/0", "10.0.16.0/24", "10.0.0.9/32", "fd00:1::/48"}
	for n := 1 + r.IntN(2); n > 0; n-- {
		p := policy.AddressPair{Prefix: netip.MustParsePrefix(nets[r.IntN(len(nets))])}
		if m := macs[r.IntN(len(macs))]; m != "" {
			p.MAC, _ = net.ParseMAC(m)
		}
		e.AddressPairs = append(e.AddressPairs, p)
	}
}

func (g *randWorld) binding() Binding {
	port := g.nextPort
	g.nextPort++
	b := Binding{OFPort: port, MAC: net.HardwareAddr{0x02, 0, 0, byte(port >> 16), byte(port >> 8), byte(port)}}
	switch g.r.IntN(30) {
	case 0:
		b.MAC = nil // does not compile
	case 1, 2, 3:
		b.Zone = uint16(1 + g.r.IntN(3))
	}
	return b
}

var netChoices4 = []string{"10.0.0.0/8", "10.0.0.0/16", "10.0.8.0/21", "10.0.16.0/24", "10.0.0.5/32", "0.0.0.0/0", "192.168.0.0/16", "10.1.0.0/16"}
var netChoices6 = []string{"fd00::/16", "fd00:0::/32", "fd00:1::/48", "::/0", "fd00::5/128"}

func (g *randWorld) netsFor(ipVersion int, n int) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range g.netStrings(ipVersion, n) {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func (g *randWorld) netStrings(ipVersion int, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		v := ipVersion
		if v == 0 {
			v = 4
			if g.chance(30) {
				v = 6
			}
		}
		if v == 4 {
			out = append(out, g.pick(netChoices4...))
		} else {
			out = append(out, g.pick(netChoices6...))
		}
	}
	return out
}

func (g *randWorld) networkSet() *policy.NetworkSet {
	g.seq++
	s := &policy.NetworkSet{Name: fmt.Sprintf("set-%d", g.seq), Labels: g.labels(setVocab, 2)}
	if g.chance(50) {
		s.Namespace = g.endpointNamespace()
	}
	s.Nets = g.netsFor(0, 1+g.r.IntN(3))
	if g.chance(30) {
		// Overlap with endpoint addresses.
		s.Nets = append(s.Nets, netip.PrefixFrom(g.addr4(), 32))
	}
	return s
}

// ---- policies ------------------------------------------------------------

type policyName struct {
	kind      policy.Kind
	namespace string
	name      string // as written, without the Kubernetes prefix
}

func (g *randWorld) newPolicyName() policyName {
	g.seq++
	n := policyName{name: fmt.Sprintf("pol-%d", g.seq)}
	switch g.r.IntN(12) {
	case 0, 1, 2, 3:
		n.kind, n.namespace = policy.CalicoNetworkPolicy, g.endpointNamespace()
	case 4, 5, 6:
		n.kind = policy.CalicoGlobalNetworkPolicy
	case 10:
		n.kind = policy.ClusterNetworkPolicy
	case 11:
		n.kind = policy.AdminNetworkPolicy
	default:
		n.kind, n.namespace = policy.KubernetesNetworkPolicy, g.endpointNamespace()
	}
	return n
}

func nameOf(p *policy.Policy) policyName {
	n := policyName{kind: p.Kind, namespace: p.Namespace, name: p.Name}
	for _, prefix := range []string{policy.KubernetesPrefix, policy.ClusterAdminPrefix, policy.ClusterBaselinePrefix, policy.AdminPrefix} {
		n.name = strings.TrimPrefix(n.name, prefix)
	}
	return n
}

// policy generates and decodes one policy named n.
func (g *randWorld) policy(n policyName) *policy.Policy {
	var doc map[string]any
	switch n.kind {
	case policy.KubernetesNetworkPolicy:
		doc = g.kubernetesPolicy(n)
	case policy.ClusterNetworkPolicy, policy.AdminNetworkPolicy:
		doc = g.clusterPolicy(n)
	default:
		doc = g.calicoPolicy(n)
	}
	// One policy in five asks for its denials to be logged; the choice
	// hashes the name so the worlds' random draws stay as they were.
	h := fnv.New32a()
	h.Write([]byte(n.name))
	if h.Sum32()%5 == 0 {
		doc["metadata"].(map[string]any)["annotations"] = map[string]any{policy.LogDeniedAnnotation: "true"}
	}
	js, err := json.Marshal(doc)
	if err != nil {
		g.tb.Fatal(err)
	}
	objs, errs := decode.Decode("generated.yaml", js)
	if len(errs) > 0 || len(objs) != 1 {
		g.tb.Fatalf("generated policy does not decode: %v\n%s", errs, js)
	}
	return objs[0].Value.(*policy.Policy)
}

var (
	calicoSelectors = []string{
		"app == 'web'", "app == 'db'", "app in {'api', 'cache'}", "has(role)", "!has(app)",
		"role != 'admin'", "app == 'web' && version == 'v2'", "all()", "app starts with 'c'",
		"app == 'external' || role == 'backend'", "global()", "has(app) && !has(version)",
	}
	namespaceSelectors = []string{"env == 'prod'", "team == 'a'", "all()", "has(env)", "projectcalico.org/name == 'ns-1'", "env != 'dev'"}
	portChoices        = []any{80, 443, 53, "1000:2000", "8000:8080", 9090, "http", "dns", "metrics", "sig", "1:65535"}
)

func (g *randWorld) calicoPolicy(n policyName) map[string]any {
	meta := map[string]any{"name": n.name}
	kind := "GlobalNetworkPolicy"
	if n.kind == policy.CalicoNetworkPolicy {
		kind = "NetworkPolicy"
		meta["namespace"] = n.namespace
	}
	spec := map[string]any{}
	if g.chance(70) {
		spec["selector"] = g.pick(calicoSelectors...)
	}
	if g.chance(70) {
		spec["order"] = float64(g.r.IntN(5) * 100)
	}
	if g.chance(50) {
		spec["tier"] = g.pick("security", "platform", "default", "ghost")
	}
	if n.kind == policy.CalicoGlobalNetworkPolicy && g.chance(30) {
		spec["namespaceSelector"] = g.pick(namespaceSelectors...)
	}
	if g.chance(15) {
		spec["serviceAccountSelector"] = g.pick("level == 'gold'", "has(level)")
	}
	var types []string
	for _, d := range []string{"Ingress", "Egress"} {
		if g.chance(60) {
			rules := []any{}
			for i := g.r.IntN(g.cfg.maxRules + 1); i > 0; i-- {
				rules = append(rules, g.calicoRule())
			}
			if len(rules) > 0 {
				spec[map[string]string{"Ingress": "ingress", "Egress": "egress"}[d]] = rules
			}
			types = append(types, d)
		}
	}
	if g.chance(60) && len(types) > 0 {
		spec["types"] = types
	} else {
		// Without types, Calico defaults from the rules present.
		delete(spec, "types")
		if _, ok := spec["ingress"]; !ok && len(types) == 2 {
			spec["types"] = types
		}
	}
	return map[string]any{"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": meta, "spec": spec}
}

func (g *randWorld) calicoRule() map[string]any {
	r := map[string]any{}
	switch k := g.r.IntN(20); {
	case k < 9:
		r["action"] = "Allow"
	case k < 13:
		r["action"] = "Deny"
	case k < 15:
		r["action"] = "Pass"
	default:
		r["action"] = "Log"
	}
	ipVersion := 0
	if g.chance(15) {
		ipVersion = 4 + 2*g.r.IntN(2)
		r["ipVersion"] = ipVersion
	}
	proto := ""
	switch k := g.r.IntN(20); {
	case k < 6:
	case k < 12:
		proto = "TCP"
	case k < 15:
		proto = "UDP"
	case k < 17:
		proto = "ICMP"
		if ipVersion == 6 {
			proto = "ICMPv6"
		}
	case k < 18:
		proto = "ICMPv6"
		if ipVersion == 4 {
			proto = "ICMP"
		}
	case k < 19:
		proto = "SCTP"
	default:
		proto = "UDPLite"
	}
	if proto != "" {
		r["protocol"] = proto
	}
	if g.chance(8) {
		r["notProtocol"] = g.pick("UDP", "TCP", "ICMP", "47")
	}
	if proto == "ICMP" || proto == "ICMPv6" {
		if g.chance(40) {
			m := map[string]any{"type": g.pick("8", "0", "128")}
			if g.chance(50) {
				m["code"] = 0
			}
			typ := 8
			fmt.Sscan(m["type"].(string), &typ)
			m["type"] = typ
			r["icmp"] = m
		} else if g.chance(20) {
			r["notICMP"] = map[string]any{"type": 3}
		}
	}
	hasPorts := proto == "TCP" || proto == "UDP" || proto == "SCTP"
	if side := g.entityRule(ipVersion, hasPorts, false); len(side) > 0 {
		r["source"] = side
	}
	if side := g.entityRule(ipVersion, hasPorts, true); len(side) > 0 {
		r["destination"] = side
	}
	return r
}

func (g *randWorld) entityRule(ipVersion int, hasPorts, destination bool) map[string]any {
	s := map[string]any{}
	if g.chance(25) {
		s["nets"] = g.netStrings(ipVersion, 1+g.r.IntN(2))
	}
	if g.chance(10) {
		s["notNets"] = g.netStrings(ipVersion, 1)
	}
	if g.chance(40) {
		s["selector"] = g.pick(calicoSelectors...)
	}
	if g.chance(10) {
		s["notSelector"] = g.pick(calicoSelectors...)
	}
	if g.chance(15) {
		s["namespaceSelector"] = g.pick(namespaceSelectors...)
	}
	if g.chance(8) {
		if g.chance(50) {
			s["serviceAccounts"] = map[string]any{"names": []string{g.pick("sa-0", "sa-1")}}
		} else {
			s["serviceAccounts"] = map[string]any{"selector": "level == 'gold'"}
		}
	}
	portPct := 15
	if destination {
		portPct = 60
	}
	if hasPorts && g.chance(portPct) {
		var ports []any
		for i := 1 + g.r.IntN(2); i > 0; i-- {
			ports = append(ports, portChoices[g.r.IntN(len(portChoices))])
		}
		s["ports"] = ports
	}
	if hasPorts && g.chance(8) {
		s["notPorts"] = []any{portChoices[g.r.IntN(len(portChoices))]}
	}
	return s
}

func (g *randWorld) labelSelectorDoc() map[string]any {
	switch g.r.IntN(6) {
	case 0:
		return map[string]any{}
	case 1, 2:
		return map[string]any{"matchLabels": map[string]any{"app": g.pick(endpointVocab["app"]...)}}
	case 3:
		return map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "In", "values": []string{"web", "api"}}}}
	case 4:
		return map[string]any{"matchExpressions": []any{map[string]any{"key": "role", "operator": g.pick("Exists", "DoesNotExist")}}}
	}
	return map[string]any{"matchLabels": map[string]any{"role": "backend"}, "matchExpressions": []any{map[string]any{"key": "app", "operator": "NotIn", "values": []string{"db"}}}}
}

func (g *randWorld) namespaceLabelSelectorDoc() map[string]any {
	switch g.r.IntN(4) {
	case 0:
		return map[string]any{}
	case 1:
		return map[string]any{"matchLabels": map[string]any{"env": g.pick(namespaceVocab["env"]...)}}
	case 2:
		return map[string]any{"matchExpressions": []any{map[string]any{"key": "team", "operator": "Exists"}}}
	}
	return map[string]any{"matchLabels": map[string]any{"team": "b"}}
}

func (g *randWorld) kubernetesPeers() []any {
	var peers []any
	for i := g.r.IntN(3); i > 0; i-- {
		switch g.r.IntN(5) {
		case 0:
			peers = append(peers, map[string]any{"podSelector": g.labelSelectorDoc()})
		case 1:
			peers = append(peers, map[string]any{"namespaceSelector": g.namespaceLabelSelectorDoc()})
		case 2:
			peers = append(peers, map[string]any{"podSelector": g.labelSelectorDoc(), "namespaceSelector": g.namespaceLabelSelectorDoc()})
		case 3:
			peers = append(peers, map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/16", "except": []string{g.pick("10.0.8.0/21", "10.0.0.5/32")}}})
		default:
			peers = append(peers, map[string]any{"ipBlock": map[string]any{"cidr": g.pick("10.0.0.0/8", "fd00::/16", "0.0.0.0/0")}})
		}
	}
	return peers
}

func (g *randWorld) kubernetesPorts() []any {
	var ports []any
	for i := g.r.IntN(3); i > 0; i-- {
		p := map[string]any{}
		if g.chance(60) {
			p["protocol"] = g.pick("TCP", "UDP", "SCTP")
		}
		switch g.r.IntN(4) {
		case 0:
		case 1:
			p["port"] = g.pick("http", "dns", "metrics")
		case 2:
			p["port"] = 8000
			p["endPort"] = 8100
		default:
			p["port"] = g.pick("80", "443", "53")
		}
		if s, ok := p["port"].(string); ok && s[0] >= '0' && s[0] <= '9' {
			var n int
			fmt.Sscan(s, &n)
			p["port"] = n
		}
		ports = append(ports, p)
	}
	return ports
}

func (g *randWorld) kubernetesPolicy(n policyName) map[string]any {
	spec := map[string]any{"podSelector": g.labelSelectorDoc()}
	var types []string
	for _, d := range []string{"Ingress", "Egress"} {
		if !g.chance(60) {
			continue
		}
		types = append(types, d)
		var rules []any
		for i := g.r.IntN(g.cfg.maxRules); i > 0; i-- {
			r := map[string]any{}
			key := "from"
			if d == "Egress" {
				key = "to"
			}
			if peers := g.kubernetesPeers(); len(peers) > 0 {
				r[key] = peers
			}
			if ports := g.kubernetesPorts(); len(ports) > 0 {
				r["ports"] = ports
			}
			rules = append(rules, r)
		}
		if len(rules) > 0 {
			spec[map[string]string{"Ingress": "ingress", "Egress": "egress"}[d]] = rules
		}
	}
	if len(types) > 0 && g.chance(70) {
		spec["policyTypes"] = types
	}
	return map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": n.name, "namespace": n.namespace}, "spec": spec,
	}
}

// ---- changes -------------------------------------------------------------

// anyKey returns a random key of m, or "" when m is empty.
func anyKey[V any](g *randWorld, m map[string]V) string {
	if len(m) == 0 {
		return ""
	}
	keys := sortedKeys(m)
	return keys[g.r.IntN(len(keys))]
}

// change picks a random change, applies it to the model and returns it.
// invalid reports a change Update must reject.
func (g *randWorld) change() (ch Change, invalid bool) {
	for {
		ch, invalid, ok := g.tryChange()
		if ok {
			return ch, invalid
		}
	}
}

func (g *randWorld) tryChange() (Change, bool, bool) {
	switch k := g.r.IntN(100); {
	case k < 9: // new endpoint
		e := g.endpoint()
		g.endpoints[e.ID()] = e
		return Change{UpsertEndpoint: e}, false, true
	case k < 22: // relabel (or readdress) an endpoint
		id := anyKey(g, g.endpoints)
		if id == "" {
			return Change{}, false, false
		}
		e := g.relabel(g.endpoints[id])
		if g.chance(10) {
			e = g.endpoints[id] // the same again: nothing changes
		}
		g.endpoints[id] = e
		return Change{UpsertEndpoint: e}, false, true
	case k < 28:
		id := anyKey(g, g.endpoints)
		if id == "" {
			return Change{}, false, false
		}
		delete(g.endpoints, id)
		return Change{DeleteEndpoint: id}, false, true
	case k < 35: // new policy
		p := g.policy(g.newPolicyName())
		g.policies[p.ID()] = p
		return Change{UpsertPolicy: p}, false, true
	case k < 46: // change a policy
		id := anyKey(g, g.policies)
		if id == "" {
			return Change{}, false, false
		}
		old := g.policies[id]
		var p *policy.Policy
		if g.chance(30) {
			q := *old
			q.Order = float64(g.r.IntN(5) * 100)
			if g.chance(40) && q.Kind != policy.KubernetesNetworkPolicy && q.Kind != policy.ClusterNetworkPolicy && q.Kind != policy.AdminNetworkPolicy {
				q.Tier = g.pick("security", "platform", "default", "ghost")
			}
			p = &q
		} else {
			p = g.policy(nameOf(old))
		}
		g.policies[id] = p
		return Change{UpsertPolicy: p}, false, true
	case k < 51:
		id := anyKey(g, g.policies)
		if id == "" {
			return Change{}, false, false
		}
		delete(g.policies, id)
		return Change{DeletePolicy: id}, false, true
	case k < 58: // relabel or create a namespace
		name := fmt.Sprintf("ns-%d", g.r.IntN(g.cfg.namespaces))
		if g.chance(10) {
			name = "ns-gone"
		}
		ns := g.namespace(name)
		g.namespaces[name] = ns
		return Change{UpsertNamespace: ns}, false, true
	case k < 61:
		name := anyKey(g, g.namespaces)
		if name == "" {
			return Change{}, false, false
		}
		delete(g.namespaces, name)
		return Change{DeleteNamespace: name}, false, true
	case k < 65:
		sa := g.serviceAccount(g.endpointNamespace(), g.pick("sa-0", "sa-1", "sa-9"))
		g.serviceAccounts[sa.Namespace+"/"+sa.Name] = sa
		return Change{UpsertServiceAccount: sa}, false, true
	case k < 67:
		key := anyKey(g, g.serviceAccounts)
		if key == "" {
			return Change{}, false, false
		}
		delete(g.serviceAccounts, key)
		return Change{DeleteServiceAccount: key}, false, true
	case k < 72:
		var s *policy.NetworkSet
		if id := anyKey(g, g.sets); id != "" && g.chance(60) {
			q := *g.sets[id]
			q.Labels = g.labels(setVocab, 2)
			if g.chance(50) {
				q.Nets = g.netsFor(0, 1+g.r.IntN(2))
			}
			s = &q
		} else {
			s = g.networkSet()
		}
		g.sets[s.ID()] = s
		return Change{UpsertNetworkSet: s}, false, true
	case k < 75:
		id := anyKey(g, g.sets)
		if id == "" {
			return Change{}, false, false
		}
		delete(g.sets, id)
		return Change{DeleteNetworkSet: id}, false, true
	case k < 80:
		t := g.tier(g.pick("security", "platform", "default", "ghost"))
		g.tiers[t.Name] = t
		return Change{UpsertTier: t}, false, true
	case k < 82:
		name := anyKey(g, g.tiers)
		if name == "" {
			return Change{}, false, false
		}
		delete(g.tiers, name)
		return Change{DeleteTier: name}, false, true
	case k < 90: // bind an endpoint (or a name not known yet), or move it
		id := anyKey(g, g.endpoints)
		if id == "" || g.chance(10) {
			id = g.endpointNamespace() + fmt.Sprintf("/ep-%d", g.seq+1+g.r.IntN(3))
		}
		b := g.binding()
		g.locals[id] = b
		return Change{Bind: &LocalBinding{EndpointID: id, Binding: b}}, false, true
	case k < 96:
		id := anyKey(g, g.locals)
		if id == "" {
			return Change{}, false, false
		}
		delete(g.locals, id)
		return Change{Unbind: id}, false, true
	}
	// Invalid changes leave everything as it was.
	switch g.r.IntN(5) {
	case 0:
		return Change{}, true, true
	case 1:
		return Change{DeleteEndpoint: "nowhere/none", DeletePolicy: "none"}, true, true
	case 2:
		return Change{DeletePolicy: "no-such-policy"}, true, true
	case 3:
		return Change{Unbind: "nowhere/none"}, true, true
	}
	return Change{DeleteTier: "no-such-tier"}, true, true
}
