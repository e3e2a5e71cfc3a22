// Package scalegen generates the compiler's scale world: many remote pods
// in many namespaces, a node's worth of local ones, and policies written
// the way people write them (docs/benchmarks.md, "Compiler"). It is
// deterministic and pure; the compiler's benchmarks build their world from
// it directly, and the agent's memory benchmark writes it to files.
package scalegen

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
)

// Config sizes a world.
type Config struct {
	// Remote pods run elsewhere; Local pods are bound to this host's bridge.
	Remote, Local int
	// Policies is the number of policies of all kinds.
	Policies int
}

// The target size, and smaller ones for quick runs and tests.
var (
	Target = Config{Remote: 100_000, Local: 200, Policies: 10_000}
	Small  = Config{Remote: 10_000, Local: 50, Policies: 1_000}
	Tiny   = Config{Remote: 1_500, Local: 20, Policies: 150}
)

// Shape of the world.
const (
	podsPerNamespace = 100
	teams            = 50
	// Monitoring and Ingress are namespaces every cluster has, whose pods
	// many policies name: monitoring scrapes everything, ingress fronts it.
	Monitoring = "monitoring"
	Ingress    = "ingress"
)

// Apps are the pods' app labels and Tiers each app's tier label.
var (
	Apps  = []string{"web", "api", "auth", "cart", "catalog", "search", "db", "cache", "queue", "worker"}
	Tiers = map[string]string{
		"web": "frontend", "api": "frontend", "auth": "backend", "cart": "backend", "catalog": "backend",
		"search": "backend", "db": "data", "cache": "data", "queue": "data", "worker": "backend",
	}
	envs = []string{"prod", "staging", "dev"}
)

// World is a generated world.
type World struct {
	// YAML holds the tiers, namespaces, network sets and policies, to be
	// decoded as real input is (so they are scoped exactly as real ones).
	YAML string
	// Pods are every pod, built directly: 100,000 pod documents would only
	// measure the decoder (WritePods writes them as documents for the
	// agent, which must decode them).
	Pods []*policy.Endpoint
	// Namespaces are the application namespaces (not the infra ones).
	Namespaces []string
	// Local are the pods bound to the bridge, in binding order (port 1 on).
	Local []*policy.Endpoint
	// NextIP is the first address no pod has.
	NextIP netip.Addr
}

// Generate builds the world of cfg's size for seed; the same arguments
// always give the same world.
func Generate(seed uint64, cfg Config) *World {
	r := rand.New(rand.NewPCG(seed, 0x5ca1e))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	total := cfg.Remote + cfg.Local
	nns := max(1, total/podsPerNamespace)
	g := &World{}
	var y strings.Builder
	doc := func(format string, args ...any) {
		y.WriteString("---\n")
		fmt.Fprintf(&y, format, args...)
		y.WriteString("\n")
	}
	doc("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}")
	doc("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: platform}\nspec: {order: 200, defaultAction: Pass}")
	nsTeam := map[string]string{}
	for i := 0; i < nns; i++ {
		name := fmt.Sprintf("ns-%04d", i)
		g.Namespaces = append(g.Namespaces, name)
		nsTeam[name] = fmt.Sprintf("t%d", r.IntN(teams))
		doc("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {team: %s, env: %s, kubernetes.io/metadata.name: %s}}", name, nsTeam[name], pick(envs), name)
	}
	for _, name := range []string{Monitoring, Ingress} {
		doc("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {team: platform, env: prod, kubernetes.io/metadata.name: %s}}", name, name)
	}
	for i := 0; i < 20; i++ {
		kind := []string{"blocklist", "partner"}[i%2]
		doc("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: set-%d, labels: {kind: %s}}\nspec: {nets: [198.%d.%d.0/24, 203.0.%d.0/25]}", i, kind, 18+i%2, i, i)
	}
	for i := 0; i < cfg.Policies; i++ {
		ns := pick(g.Namespaces)
		writePolicy(&y, r, i, ns, nsTeam[ns], pick)
	}
	g.YAML = y.String()

	// Pods: the application namespaces get total pods between them, the
	// infra namespaces 50 each on top.
	ip := netip.MustParseAddr("10.128.0.1")
	newPod := func(ns, app string, i int) *policy.Endpoint {
		e := &policy.Endpoint{
			Kind: policy.PodEndpoint, Orchestrator: policy.OrchestratorKubernetes, Namespace: ns,
			Name:   fmt.Sprintf("%s-%d", app, i),
			Labels: map[string]string{"app": app, "tier": Tiers[app], "version": fmt.Sprintf("v%d", 1+r.IntN(3))},
			IPs:    []netip.Addr{ip},
			Ports:  []policy.NamedPort{{Name: "http", Protocol: 6, Port: []uint16{80, 8080}[r.IntN(2)]}, {Name: "metrics", Protocol: 6, Port: 9090}},
		}
		if app == "db" || app == "cache" {
			e.Ports = append(e.Ports, policy.NamedPort{Name: "db", Protocol: 6, Port: []uint16{5432, 6379}[r.IntN(2)]})
		}
		ip = ip.Next()
		if ip.As4()[3] == 0 {
			ip = ip.Next()
		}
		return e
	}
	for i := 0; i < total; i++ {
		g.Pods = append(g.Pods, newPod(g.Namespaces[i%nns], pick(Apps), i))
	}
	for i := 0; i < 50; i++ {
		g.Pods = append(g.Pods, newPod(Monitoring, "prometheus", total+i), newPod(Ingress, "nginx", total+i))
	}
	g.NextIP = ip

	// Local pods: a node's share, from application namespaces at random.
	for _, i := range r.Perm(total)[:cfg.Local] {
		g.Local = append(g.Local, g.Pods[i])
	}
	return g
}

// WritePods writes every pod as a Kubernetes Pod document that decodes to
// it (labels, address, named ports).
func (g *World) WritePods(w io.Writer) error {
	var b strings.Builder
	for _, e := range g.Pods {
		b.Reset()
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n  labels: {app: %s, tier: %s, version: %s}\nspec:\n  containers:\n  - name: main\n    image: x\n    ports:\n",
			e.Name, e.Namespace, e.Labels["app"], e.Labels["tier"], e.Labels["version"])
		for _, p := range e.Ports {
			fmt.Fprintf(&b, "    - {name: %s, containerPort: %d}\n", p.Name, p.Port)
		}
		fmt.Fprintf(&b, "status: {phase: Running, podIP: %s}\n", e.IPs[0])
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// writePolicy writes policy i: Kubernetes and Calico, namespaced and
// global, in the proportions clusters have them.
func writePolicy(y *strings.Builder, r *rand.Rand, i int, ns, team string, pick func([]string) string) {
	const (
		k8s    = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p-%d, namespace: %s}\nspec:\n"
		calico = "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p-%d, namespace: %s}\nspec:\n"
		global = "---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p-%d}\nspec:\n"
	)
	app, peer := pick(Apps), pick(Apps)
	// named: whether the ports may include the named port http. Egress to
	// an ipBlock does not: a named port there would mean every pod's http
	// port in the cluster (one flow per pod), which real policies avoid.
	ports := func(named bool) string {
		var ps []string
		for n := 1 + r.IntN(3); n > 0; n-- {
			switch r.IntN(4) {
			case 0:
				if !named {
					ps = append(ps, "{port: 8443}")
					continue
				}
				ps = append(ps, "{port: http}")
			case 1:
				ps = append(ps, fmt.Sprintf("{port: %d, endPort: %d}", 8000+r.IntN(50), 8100+r.IntN(50)))
			default:
				ps = append(ps, fmt.Sprintf("{port: %d}", []int{80, 443, 5432, 6379, 8080, 9000}[r.IntN(6)]))
			}
		}
		return "[" + strings.Join(ps, ", ") + "]"
	}
	switch i % 20 {
	case 0, 1: // default deny
		types := "[Ingress]"
		if i%40 == 1 {
			types = "[Ingress, Egress]"
		}
		fmt.Fprintf(y, k8s+"  podSelector: {}\n  policyTypes: %s\n", i, ns, types)
	case 2, 3, 4, 5, 6: // app to app in the namespace
		fmt.Fprintf(y, k8s+"  podSelector: {matchLabels: {app: %s}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: %s}}}]\n    ports: %s\n", i, ns, app, peer, ports(true))
	case 7, 8: // a team's namespaces, and the ingress controllers
		fmt.Fprintf(y, k8s+"  podSelector: {matchLabels: {app: %s}}\n  ingress:\n  - from:\n    - {namespaceSelector: {matchLabels: {team: %s}}, podSelector: {matchLabels: {app: %s}}}\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}\n    ports: %s\n",
			i, ns, app, team, peer, Ingress, ports(true))
	case 9: // egress to the cluster and DNS
		fmt.Fprintf(y, k8s+"  podSelector: {matchLabels: {app: %s}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.128.0.0/9, except: [10.%d.0.0/16]}}]\n    ports: %s\n  - ports: [{port: 53, protocol: UDP}]\n",
			i, ns, app, 128+r.IntN(100), ports(false))
	case 10, 11, 12, 13, 14: // Calico: tiers of an application
		fmt.Fprintf(y, calico+`  order: %d
  selector: app == '%s' && version != 'v%d'
  ingress:
  - action: Allow
    protocol: TCP
    source: {selector: tier == '%s'}
    destination: {ports: [80, 443, '8000:8100']}
  - action: Deny
    source: {nets: [10.%d.0.0/16]}
  egress:
  - action: Allow
    protocol: TCP
    destination:
      selector: app in {'db', 'cache'}
      namespaceSelector: projectcalico.org/name == '%s'
      ports: [5432, 6379]
`, i, ns, r.IntN(1000), app, 1+r.IntN(3), pick([]string{"frontend", "backend"}), 128+r.IntN(100), ns)
	case 15, 16: // Calico: audit then deny admin ports
		fmt.Fprintf(y, calico+`  order: %d
  selector: tier == '%s'
  types: [Ingress]
  ingress:
  - action: Log
    protocol: TCP
    destination: {ports: [22, 3389]}
  - action: Deny
    protocol: TCP
    destination: {ports: [22, 3389]}
  - action: Pass
`, i, ns, r.IntN(1000), pick([]string{"frontend", "backend", "data"}))
	case 17, 18: // security tier: blocklists for an application everywhere
		fmt.Fprintf(y, global+`  tier: security
  order: %d
  selector: app == '%s'
  namespaceSelector: env == '%s'
  types: [Ingress, Egress]
  ingress:
  - action: Deny
    source: {selector: kind == 'blocklist'}
  - action: Pass
  egress:
  - action: Deny
    destination: {selector: kind == 'blocklist'}
  - action: Deny
    protocol: UDP
    destination: {notNets: [10.0.0.0/8]}
  - action: Pass
`, i, r.IntN(1000), app, pick(envs))
	default: // platform tier: monitoring may scrape a team's pods
		fmt.Fprintf(y, global+`  tier: platform
  order: %d
  selector: app == '%s'
  namespaceSelector: team == '%s'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source: {namespaceSelector: projectcalico.org/name == '%s', selector: app == 'prometheus'}
    destination: {ports: [9090, metrics]}
`, i, r.IntN(1000), app, team, Monitoring)
	}
}
