package evaltest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
)

// Generated describes a synthetic world made by Generate.
type Generated struct {
	// YAML holds every object: tiers, namespaces, network sets, pods and
	// policies, as users would write them.
	YAML string
	// Pods are the pods' IDs ("namespace/name") with their addresses, in
	// the order they were written.
	Pods []Pod
	// Namespaces are the namespace names.
	Namespaces []string
}

// Generation parameters that are not worth a knob.
const (
	podsPerNamespace = 100
	genPrefix        = "10.0.0.0"
)

var (
	genApps  = []string{"frontend", "backend", "api", "db", "cache", "worker"}
	genTeams = []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	genEnvs  = []string{"prod", "staging", "dev"}
)

// Generate returns a deterministic synthetic world of about the given
// numbers of pods (100 per namespace) and policies, for benchmarks and load
// tests. The policies have the shapes real clusters have, in proportion:
// Kubernetes default-deny, same-namespace app-to-app allows on ports,
// cross-namespace allows by namespace label on named ports, egress with
// ipBlock/except and DNS; Calico namespaced policies with set selectors,
// port ranges, notNets and service accounts; global policies in a
// security tier (deny a blocklist network set, Log then Pass), and
// namespace-scoped global policies. The same seed always gives the same
// bytes.
func Generate(seed uint64, pods, policies int) Generated {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var g Generated
	var b strings.Builder
	pick := func(s []string) string { return s[r.IntN(len(s))] }

	b.WriteString("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: security\nspec:\n  order: 100\n")
	b.WriteString("---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: blocklist\n  labels:\n    blocklist: \"true\"\nspec:\n  nets:\n  - 198.51.100.0/24\n  - 203.0.113.0/25\n")

	nns := max(1, (pods+podsPerNamespace-1)/podsPerNamespace)
	for i := range nns {
		name := fmt.Sprintf("ns-%03d", i)
		g.Namespaces = append(g.Namespaces, name)
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    team: %s\n    env: %s\n", name, pick(genTeams), pick(genEnvs))
	}
	addr := netip.MustParseAddr(genPrefix)
	for i := range pods {
		ns := g.Namespaces[i%nns]
		app := pick(genApps)
		addr = addr.Next()
		if addr.As4()[3] == 0 {
			addr = addr.Next()
		}
		name := fmt.Sprintf("%s-%d", app, i)
		g.Pods = append(g.Pods, Pod{Namespace: ns, Name: name, IP: addr})
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    app: %s\n    version: v%d\n", name, ns, app, 1+r.IntN(3))
		if r.IntN(4) == 0 {
			b.WriteString("    canary: \"true\"\n")
		}
		fmt.Fprintf(&b, "spec:\n  serviceAccountName: %s\n  containers:\n  - name: main\n    image: example/%s\n    ports:\n    - name: http\n      containerPort: %d\n    - name: metrics\n      containerPort: 9090\n",
			app, app, []int{80, 8080, 8443}[r.IntN(3)])
		if app == "db" || app == "cache" {
			b.WriteString("    - name: dns\n      containerPort: 53\n      protocol: UDP\n")
		}
		fmt.Fprintf(&b, "status:\n  phase: Running\n  podIP: %s\n  podIPs:\n  - ip: %s\n", addr, addr)
	}
	for i := range policies {
		ns := g.Namespaces[r.IntN(nns)]
		name := fmt.Sprintf("p-%d", i)
		b.WriteString("---\n")
		switch i % 10 {
		case 0:
			fmt.Fprintf(&b, k8sPolicy+"  podSelector: {}\n  policyTypes:\n  - Ingress\n", name, ns)
		case 1:
			fmt.Fprintf(&b, k8sPolicy+`  podSelector:
    matchLabels:
      app: %s
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: %s
    ports:
    - port: %d
    - port: http
`, name, ns, pick(genApps), pick(genApps), 8000+r.IntN(100))
		case 2:
			fmt.Fprintf(&b, k8sPolicy+`  podSelector:
    matchExpressions:
    - key: app
      operator: In
      values: [%s, %s]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          team: %s
      podSelector:
        matchExpressions:
        - key: canary
          operator: DoesNotExist
    - ipBlock:
        cidr: 192.168.%d.0/24
    ports:
    - port: http
    - port: 443
    - port: 9000
      endPort: 9100
`, name, ns, pick(genApps), pick(genApps), pick(genTeams), r.IntN(256))
		case 3:
			fmt.Fprintf(&b, k8sPolicy+`  podSelector:
    matchLabels:
      app: %s
  policyTypes:
  - Egress
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/8
        except:
        - 10.%d.0.0/16
    ports:
    - port: 5432
    - port: 6379
  - to:
    - namespaceSelector:
        matchLabels:
          env: %s
    ports:
    - port: 53
      protocol: UDP
    - port: dns
      protocol: UDP
`, name, ns, pick(genApps), 1+r.IntN(200), pick(genEnvs))
		case 4, 5:
			fmt.Fprintf(&b, calicoPolicy+`  order: %d
  selector: app in {'%s', '%s'} && version != 'v%d'
  ingress:
  - action: Deny
    source:
      notNets: [10.0.0.0/8]
  - action: Allow
    protocol: TCP
    source:
      selector: app == '%s' || canary == 'true'
    destination:
      ports: [%d, '9000:9100', http]
  - action: Allow
    protocol: UDP
    source:
      serviceAccounts:
        names: [%s]
  egress:
  - action: Allow
    protocol: TCP
    destination:
      namespaceSelector: team == '%s'
      ports: [80, 443, http]
  - action: Allow
    destination:
      notSelector: app == 'db'
      nets: [10.0.0.0/9]
`, name, ns, 10+r.IntN(900), pick(genApps), pick(genApps), 1+r.IntN(3), pick(genApps), 5000+r.IntN(1000), pick(genApps), pick(genTeams))
		case 6:
			fmt.Fprintf(&b, globalPolicy+`  tier: security
  order: %d
  selector: has(app)
  ingress:
  - action: Deny
    source:
      selector: blocklist == 'true'
  - action: Log
    protocol: TCP
    destination:
      ports: [22]
  - action: Pass
`, name, r.IntN(100))
		case 7:
			fmt.Fprintf(&b, globalPolicy+`  order: %d
  namespaceSelector: env == '%s'
  selector: app == '%s'
  types: [Ingress, Egress]
  ingress:
  - action: Allow
    source:
      namespaceSelector: env == '%s'
  egress:
  - action: Allow
    protocol: UDP
    destination:
      ports: [53]
  - action: Allow
    destination:
      namespaceSelector: all()
`, name, 500+r.IntN(400), pick(genEnvs), pick(genApps), pick(genEnvs))
		case 8:
			fmt.Fprintf(&b, calicoPolicy+`  selector: all()
  ingress:
  - action: Allow
    source:
      selector: app starts with '%s'
  - action: Allow
    protocol: ICMP
    icmp:
      type: 8
`, name, ns, pick(genApps)[:2])
		case 9:
			fmt.Fprintf(&b, k8sPolicy+`  podSelector:
    matchLabels:
      app: %s
  ingress:
  - {}
  egress:
  - to:
    - podSelector: {}
`, name, ns, pick(genApps))
		}
	}
	g.YAML = b.String()
	return g
}

const (
	k8sPolicy    = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n"
	calicoPolicy = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n"
	globalPolicy = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: %s\nspec:\n"
)

// GenerateWorld is Generate followed by decoding, for callers that want the
// world itself.
func GenerateWorld(seed uint64, pods, policies int) (*policy.World, Generated, error) {
	g := Generate(seed, pods, policies)
	w, err := BuildWorld("generated.yaml", g.YAML)
	return w, g, err
}
