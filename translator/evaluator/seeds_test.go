package evaluator_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// seedsDir holds one directory per example reconstructed from the seed
// pages; every directory is a complete world (policy plus world.yaml).
const seedsDir = "../../examples/seeds"

// Short names for what decided one side of a verdict (see decided).
const (
	defAllow  = "default allow"
	endOfTier = "end of tier default"
	noSide    = "-" // that side is no endpoint
)

// loadSeed reads one example directory with the decoder and builds
// its world, failing on any problem: the examples must be valid as shipped.
func loadSeed(t *testing.T, dir string) *policy.World {
	t.Helper()
	path := filepath.Join(seedsDir, dir)
	objs, errs := evaltest.DecodeFS(os.DirFS(filepath.Dir(path)), filepath.Base(path))
	w, berrs := decode.Build(objs)
	for _, err := range append(errs, berrs...) {
		t.Errorf("%s: %v", dir, err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return w
}

// probe is one statement a seed page makes (or implies): a new connection
// from one participant to another is allowed or denied, and which rule or
// default decided each side. from and to are "namespace/name" or an IP
// address outside the world.
type probe struct {
	from, to string
	proto    policy.Protocol
	port     uint16
	allowed  bool
	// egress and ingress name what decided the source's and the
	// destination's side: a RuleRef string, defAllow, endOfTier or noSide.
	egress, ingress string
}

const (
	tcp  = policy.TCP
	udp  = policy.UDP
	sctp = policy.SCTP
)

// decided summarises one side's decision the way probes spell it.
func decided(d *evaluator.Decision) string {
	switch {
	case d == nil:
		return noSide
	case d.Rule != nil:
		return d.Rule.String()
	case d.Allowed:
		return defAllow
	case strings.HasPrefix(d.Reason, "tier "):
		return endOfTier
	}
	return "default deny"
}

// participant resolves "namespace/name" to an endpoint and its IPv4
// address, or an IP to itself (and the endpoint owning it, if any).
func participant(t *testing.T, ev *evaluator.Evaluator, s string) (*policy.Endpoint, netip.Addr) {
	t.Helper()
	if a, err := netip.ParseAddr(s); err == nil {
		return ev.EndpointAt(a), a
	}
	e := ev.Endpoint(s)
	if e == nil || len(e.IPs) == 0 {
		t.Fatalf("no endpoint %q with an address", s)
	}
	return e, e.IPs[0]
}

func evaluate(t *testing.T, ev *evaluator.Evaluator, from, to string, proto policy.Protocol, port uint16) evaluator.Verdict {
	t.Helper()
	src, sa := participant(t, ev, from)
	dst, da := participant(t, ev, to)
	pkt := evaluator.Packet{Src: sa, Dst: da, Protocol: proto, SrcPort: evaluator.SourcePort, DstPort: port}
	if proto.IsICMP() {
		pkt.SrcPort, pkt.DstPort, pkt.ICMPType = 0, 0, 8
	}
	return ev.Evaluate(src, dst, pkt)
}

func checkProbes(t *testing.T, ev *evaluator.Evaluator, probes []probe) {
	t.Helper()
	for _, p := range probes {
		v := evaluate(t, ev, p.from, p.to, p.proto, p.port)
		name := p.from + " -> " + p.to + " " + p.proto.String()
		if p.proto.HasPorts() {
			name += "/" + strconv.Itoa(int(p.port))
		}
		if v.Allowed != p.allowed {
			t.Errorf("%s: allowed = %v, want %v (%s)", name, v.Allowed, p.allowed, v.Reason())
		}
		if got := decided(v.Egress); got != p.egress {
			t.Errorf("%s: egress decided by %q, want %q", name, got, p.egress)
		}
		if got := decided(v.Ingress); got != p.ingress {
			t.Errorf("%s: ingress decided by %q, want %q", name, got, p.ingress)
		}
	}
}

// seedCases lists every example directory with the statements its page
// makes. TestEverySeedExampleIsTested keeps this list complete.
var seedCases = map[string][]probe{
	// "Use namespace rules in policy", first example (repeated verbatim by
	// "Get started with Calico network policy"): "ingress traffic is
	// allowed to endpoints in the namespace: production with label color:
	// red, and only from a pod in the same namespace with color: blue, on
	// port 6379."
	"calico-namespace-rules/same-namespace": {
		{"production/blue-client", "production/redis", tcp, 6379, true, defAllow, "default/production/allow-tcp-6379 ingress[0] Allow"},
		{"production/green-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"dev/blue-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"qa/blue-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"production/blue-client", "production/redis", tcp, 6380, false, defAllow, endOfTier},
		{"production/blue-client", "production/redis", udp, 6379, false, defAllow, endOfTier},
		{"203.0.113.7", "production/redis", tcp, 6379, false, noSide, endOfTier},
		// A namespaced policy selects only endpoints of its namespace.
		{"production/blue-client", "dev/redis", tcp, 6379, true, defAllow, defAllow},
		// The policy has ingress rules only, so it polices ingress only.
		{"production/redis", "production/blue-client", tcp, 80, true, defAllow, defAllow},
		{"production/green-client", "production/blue-client", tcp, 80, true, defAllow, defAllow},
	},
	// Second example: "ingress traffic is also allowed from endpoints with
	// color: blue in namespaces with shape: circle." The namespaceSelector
	// replaces the policy's namespace as the source's scope, and this
	// version replaces the first (same name); TestSeedNamespaceSelectorAlso
	// covers the "also".
	"calico-namespace-rules/namespace-selector": {
		{"dev/blue-client", "production/redis", tcp, 6379, true, defAllow, "default/production/allow-tcp-6379 ingress[0] Allow"},
		{"dev/green-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"qa/blue-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"production/blue-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"dev/blue-client", "production/redis", tcp, 6380, false, defAllow, endOfTier},
		{"dev/blue-client", "dev/redis", tcp, 6379, true, defAllow, defAllow},
	},
	// "users in the development environment can communicate only with pods
	// that have a namespace labeled, environment == "development"."
	"calico-namespace-rules/restrict-development-access": {
		{"dev/app", "dev-tools/ci", tcp, 80, true, "default/restrict-development-access egress[0] Allow", "default/restrict-development-access ingress[0] Allow"},
		{"dev-tools/ci", "dev/app", udp, 53, true, "default/restrict-development-access egress[0] Allow", "default/restrict-development-access ingress[0] Allow"},
		{"production/web", "dev/app", tcp, 80, false, defAllow, endOfTier},
		{"dev/app", "production/web", tcp, 80, false, endOfTier, defAllow},
		{"203.0.113.7", "dev/app", tcp, 80, false, noSide, endOfTier},
		{"dev/app", "203.0.113.7", tcp, 443, false, endOfTier, noSide},
		{"production/web", "production/db", tcp, 80, true, defAllow, defAllow},
	},
	// "incoming traffic to pods with label color=blue are allowed only if
	// they come from a pod with color=red, on port 80."
	"k8s-getting-started/allow-same-namespace": {
		{"default/red", "default/blue", tcp, 80, true, defAllow, "default/default/knp.default.allow-same-namespace ingress[0] Allow"},
		{"default/red", "default/blue", tcp, 81, false, defAllow, endOfTier},
		{"default/red", "default/blue", udp, 80, false, defAllow, endOfTier},
		{"default/green", "default/blue", tcp, 80, false, defAllow, endOfTier},
		{"square/red", "default/blue", tcp, 80, false, defAllow, endOfTier},
		{"203.0.113.7", "default/blue", tcp, 80, false, noSide, endOfTier},
		{"default/blue", "default/red", tcp, 80, true, defAllow, defAllow},
	},
	// "incoming traffic is allowed only if they come from a pod with label
	// color=red, in a namespace with label shape=square, on port 80."
	"k8s-getting-started/allow-different-namespace": {
		{"square/red", "default/blue", tcp, 80, true, defAllow, "default/default/knp.default.allow-different-namespace ingress[0] Allow"},
		{"default/red", "default/blue", tcp, 80, false, defAllow, endOfTier},
		{"circle/red", "default/blue", tcp, 80, false, defAllow, endOfTier},
		{"square/red", "default/blue", tcp, 81, false, defAllow, endOfTier},
		{"square/red", "default/green", tcp, 80, true, defAllow, defAllow},
	},
	// "outbound traffic is allowed only if they go to a pod with label
	// color=red, on port 80." With no policyTypes the policy also isolates
	// the blue pods for ingress (Kubernetes always includes Ingress).
	"k8s-getting-started/allow-egress-same-namespace": {
		{"default/blue", "default/red", tcp, 80, true, "default/default/knp.default.allow-egress-same-namespace egress[0] Allow", defAllow},
		{"default/blue", "default/red", tcp, 81, false, endOfTier, defAllow},
		{"default/blue", "default/green", tcp, 80, false, endOfTier, defAllow},
		{"default/blue", "square/red", tcp, 80, false, endOfTier, defAllow},
		{"default/blue", "8.8.8.8", udp, 53, false, endOfTier, noSide},
		{"default/red", "default/blue", tcp, 80, false, defAllow, endOfTier},
	},
	// "The following policy allows egress traffic to pods in CIDR,
	// 172.18.0.0/24." Again Ingress is implied.
	"k8s-getting-started/allow-egress-external": {
		{"default/red", "default/legacy", tcp, 80, true, "default/default/knp.default.allow-egress-external egress[0] Allow", defAllow},
		{"default/red", "172.18.0.99", udp, 53, true, "default/default/knp.default.allow-egress-external egress[0] Allow", noSide},
		{"default/red", "172.19.0.1", tcp, 443, false, endOfTier, noSide},
		{"default/red", "default/blue", tcp, 80, false, endOfTier, defAllow},
		{"default/blue", "default/red", tcp, 80, false, defAllow, endOfTier},
		{"square/red", "default/legacy", tcp, 80, true, defAllow, defAllow},
	},
	// "prevents all traffic to/from pods in the policy-demo namespace".
	"k8s-getting-started/default-deny": {
		{"policy-demo/a", "policy-demo/b", tcp, 80, false, endOfTier, endOfTier},
		{"default/blue", "policy-demo/a", tcp, 80, false, defAllow, endOfTier},
		{"policy-demo/a", "default/blue", tcp, 80, false, endOfTier, defAllow},
		{"policy-demo/a", "8.8.8.8", udp, 53, false, endOfTier, noSide},
		{"default/blue", "default/red", tcp, 80, true, defAllow, defAllow},
	},
	// The page's bare namespaced policy header: all() in production,
	// ingress only, no rules.
	"calico-getting-started/namespaced-policy-metadata": {
		{"production/blue-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"production/redis", "production/blue-client", tcp, 80, false, defAllow, endOfTier},
		{"dev/blue-client", "dev/redis", tcp, 6379, true, defAllow, defAllow},
		{"production/blue-client", "dev/redis", tcp, 6379, true, defAllow, defAllow},
	},
	// The page's bare global policy header: every endpoint, ingress only.
	"calico-getting-started/global-policy-metadata": {
		{"dev/blue-client", "dev/redis", tcp, 6379, false, defAllow, endOfTier},
		{"qa/blue-client", "production/green-client", tcp, 80, false, defAllow, endOfTier},
		{"production/blue-client", "8.8.8.8", udp, 53, true, defAllow, noSide},
	},
	// "incoming TCP traffic to any pods with label color: red is denied if
	// it comes from a pod with color: blue."
	"calico-getting-started/deny-blue": {
		{"production/blue-client", "production/redis", tcp, 6379, false, defAllow, "default/deny-blue ingress[0] Deny"},
		{"dev/blue-client", "production/redis", tcp, 6379, false, defAllow, "default/deny-blue ingress[0] Deny"},
		{"qa/blue-client", "dev/redis", tcp, 80, false, defAllow, "default/deny-blue ingress[0] Deny"},
		// Selected endpoints are default-deny: the rest is denied at the
		// end of the tier, not by the rule.
		{"production/green-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"production/blue-client", "production/redis", udp, 6379, false, defAllow, endOfTier},
		{"production/redis", "production/blue-client", tcp, 80, true, defAllow, defAllow},
		{"production/blue-client", "production/green-client", tcp, 80, true, defAllow, defAllow},
	},
	// "you can allow or deny ingress traffic from endpoints in specific
	// namespaces using a namespaceSelector in the policy rule".
	"calico-getting-started/deny-circle-blue": {
		{"dev/blue-client", "production/redis", tcp, 6379, false, defAllow, "default/deny-circle-blue ingress[0] Deny"},
		{"dev/blue-client", "dev/redis", tcp, 6379, false, defAllow, "default/deny-circle-blue ingress[0] Deny"},
		{"production/blue-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
		{"qa/blue-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
	},
	// "outgoing traffic is allowed from pods with the label color: red if it
	// goes to an IP address in the 1.2.3.4/24 CIDR block."
	"calico-getting-started/allow-egress-external": {
		{"production/redis", "1.2.3.4", tcp, 443, true, "default/production/allow-egress-external egress[0] Allow", noSide},
		{"production/redis", "1.2.3.200", udp, 53, true, "default/production/allow-egress-external egress[0] Allow", noSide},
		{"production/redis", "1.2.4.1", tcp, 443, false, endOfTier, noSide},
		{"production/redis", "production/blue-client", tcp, 80, false, endOfTier, defAllow},
		{"production/blue-client", "production/redis", tcp, 6379, true, defAllow, defAllow},
		{"dev/redis", "8.8.8.8", udp, 53, true, defAllow, noSide},
	},
	// The order skeletons as the page prints them: both select everything
	// for ingress and allow nothing.
	"calico-getting-started/policy-order": {
		{"production/web", "production/api", tcp, 80, false, defAllow, endOfTier},
		{"dev/client", "production/web", tcp, 80, false, defAllow, endOfTier},
		{"203.0.113.7", "production/web", tcp, 80, false, noSide, endOfTier},
		{"production/web", "203.0.113.7", tcp, 443, true, defAllow, noSide},
	},
	// The order skeletons filled in: order 10 allows the cluster, order 20
	// drops the rest. TestSeedPolicyOrder swaps the orders.
	"calico-getting-started/policy-order-filled": {
		{"dev/client", "production/web", tcp, 80, true, defAllow, "default/allow-cluster-internal-ingress ingress[0] Allow"},
		{"production/api", "production/web", udp, 53, true, defAllow, "default/allow-cluster-internal-ingress ingress[0] Allow"},
		{"203.0.113.7", "production/web", tcp, 80, false, noSide, "default/drop-other-ingress ingress[0] Deny"},
	},
	// "incoming TCP traffic to an application is denied, and each
	// connection attempt is logged". TestSeedLogThenDeny checks the log.
	"calico-getting-started/log-and-deny": {
		{"production/frontend", "production/database", tcp, 6379, false, defAllow, "default/production/allow-tcp-6379 ingress[1] Deny"},
		{"production/frontend", "production/database", udp, 6379, false, defAllow, endOfTier},
		{"production/backend", "production/database", tcp, 6379, false, defAllow, endOfTier},
		// types lists Egress and there are no egress rules.
		{"production/database", "production/backend", tcp, 80, false, endOfTier, defAllow},
		{"production/frontend", "production/backend", tcp, 80, true, defAllow, defAllow},
	},
	// "Allowed: prod/backend → prod/database:8080 - peer 1. dev/backend →
	// prod/database:8080 - peer 2. Denied: dev/frontend → prod/database - in
	// dev, but not a backend; peer 2's two selectors are ANDed.
	// prod/frontend → prod/database - not a backend at all."
	"database-allow-backends": {
		{"prod/backend", "prod/database", tcp, 8080, true, defAllow, "default/prod/knp.default.database-allow-backends ingress[0] Allow"},
		{"dev/backend", "prod/database", tcp, 8080, true, defAllow, "default/prod/knp.default.database-allow-backends ingress[0] Allow"},
		{"dev/frontend", "prod/database", tcp, 8080, false, defAllow, endOfTier},
		{"prod/frontend", "prod/database", tcp, 8080, false, defAllow, endOfTier},
		{"staging/backend", "prod/database", tcp, 8080, false, defAllow, endOfTier},
		{"prod/backend", "prod/database", tcp, 8081, false, defAllow, endOfTier},
		{"prod/backend", "prod/database", udp, 8080, false, defAllow, endOfTier},
		// policyTypes is Ingress only.
		{"prod/database", "dev/backend", tcp, 80, true, defAllow, defAllow},
	},
	// "split peer 2 onto two - items and the meaning explodes ... dev/frontend
	// would silently gain access."
	"database-allow-backends-trap": {
		{"dev/frontend", "prod/database", tcp, 8080, true, defAllow, "default/prod/knp.default.database-allow-backends ingress[0] Allow"},
		{"dev/backend", "prod/database", tcp, 8080, true, defAllow, "default/prod/knp.default.database-allow-backends ingress[0] Allow"},
		{"prod/backend", "prod/database", tcp, 8080, true, defAllow, "default/prod/knp.default.database-allow-backends ingress[0] Allow"},
		{"prod/frontend", "prod/database", tcp, 8080, false, defAllow, endOfTier},
		// The split-off podSelector has no namespaceSelector: prod only.
		{"staging/backend", "prod/database", tcp, 8080, false, defAllow, endOfTier},
	},
	// "curl http://nginx.customer2 shouldn't work anymore if you are a
	// service inside the namespace customer1 and vice versa", and "will also
	// disable all external traffic to these pods".
	"namespace-isolation": {
		{"customer1/client", "customer1/nginx", tcp, 80, true, defAllow, "default/customer1/knp.default.deny-from-other-namespaces ingress[0] Allow"},
		{"customer2/client", "customer2/nginx", tcp, 80, true, defAllow, "default/customer2/knp.default.deny-from-other-namespaces ingress[0] Allow"},
		{"customer1/client", "customer2/nginx", tcp, 80, false, defAllow, endOfTier},
		{"customer2/client", "customer1/nginx", tcp, 80, false, defAllow, endOfTier},
		{"203.0.113.7", "customer1/nginx", tcp, 80, false, noSide, endOfTier},
		{"customer1/client", "203.0.113.7", tcp, 443, true, defAllow, noSide},
	},
}

func TestSeedExamples(t *testing.T) {
	for dir, probes := range seedCases {
		t.Run(dir, func(t *testing.T) {
			ev := evaluator.New(loadSeed(t, dir), evaluator.DefaultOptions())
			checkProbes(t, ev, probes)
		})
	}
}

// TestEverySeedExampleIsTested fails when an example directory is added
// without the statements its page makes, or a listed one disappears.
func TestEverySeedExampleIsTested(t *testing.T) {
	var dirs []string
	err := filepath.WalkDir(seedsDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "world.yaml" {
			rel, _ := filepath.Rel(seedsDir, filepath.Dir(path))
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, ok := seedCases[d]; !ok {
			t.Errorf("example %s has no seed case", d)
		}
	}
	for d := range seedCases {
		if !slices.Contains(dirs, d) {
			t.Errorf("seed case %s has no example directory with a world.yaml", d)
		}
	}
}

// TestSeedNamespaceSelectorAlso: the page says blue pods of shape: circle
// namespaces are "also" allowed. With the second version alone, production's
// own blue pods keep access exactly when production is itself a circle.
func TestSeedNamespaceSelectorAlso(t *testing.T) {
	w := loadSeed(t, "calico-namespace-rules/namespace-selector")
	w.Namespaces["production"].Labels["shape"] = "circle"
	ev := evaluator.New(w, evaluator.DefaultOptions())
	rule := "default/production/allow-tcp-6379 ingress[0] Allow"
	checkProbes(t, ev, []probe{
		{"production/blue-client", "production/redis", tcp, 6379, true, defAllow, rule},
		{"dev/blue-client", "production/redis", tcp, 6379, true, defAllow, rule},
		{"production/green-client", "production/redis", tcp, 6379, false, defAllow, endOfTier},
	})
}

// TestSeedPolicyOrder: "the policy allow-cluster-internal-ingress (order:
// 10) will be applied before the policy drop-other-ingress (order: 20)".
func TestSeedPolicyOrder(t *testing.T) {
	for _, dir := range []string{"calico-getting-started/policy-order", "calico-getting-started/policy-order-filled"} {
		w := loadSeed(t, dir)
		var names []string
		for _, p := range w.PoliciesInOrder(policy.DefaultTier) {
			names = append(names, p.ID())
		}
		if want := []string{"allow-cluster-internal-ingress", "drop-other-ingress"}; !slices.Equal(names, want) {
			t.Errorf("%s: policies in order %v, want %v", dir, names, want)
		}
	}
	// With the orders swapped the deny policy runs first and wins.
	w := loadSeed(t, "calico-getting-started/policy-order-filled")
	for _, p := range w.Policies {
		p.Order = 30 - p.Order
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	checkProbes(t, ev, []probe{
		{"dev/client", "production/web", tcp, 80, false, defAllow, "default/drop-other-ingress ingress[0] Deny"},
	})
}

// TestSeedLogThenDeny: the Log rule records the connection attempt and does
// not end rule processing; the Deny rule after it decides.
func TestSeedLogThenDeny(t *testing.T) {
	ev := evaluator.New(loadSeed(t, "calico-getting-started/log-and-deny"), evaluator.DefaultOptions())
	logged := func(from string, proto policy.Protocol) []string {
		v := evaluate(t, ev, from, "production/database", proto, 6379)
		var out []string
		for _, r := range v.Ingress.Logged {
			out = append(out, r.String())
		}
		return out
	}
	if got, want := logged("production/frontend", tcp), []string{"default/production/allow-tcp-6379 ingress[0] Log"}; !slices.Equal(got, want) {
		t.Errorf("frontend TCP: logged %v, want %v", got, want)
	}
	if got := logged("production/frontend", udp); len(got) != 0 {
		t.Errorf("frontend UDP: logged %v, want nothing (the Log rule is TCP only)", got)
	}
	if got := logged("production/backend", tcp); len(got) != 0 {
		t.Errorf("backend TCP: logged %v, want nothing", got)
	}
}

// TestSeedDatabasePeers: the two peers become two rules of the one ingress
// rule the user wrote, so tools name both "ingress[0]".
func TestSeedDatabasePeers(t *testing.T) {
	for dir, n := range map[string]int{"database-allow-backends": 2, "database-allow-backends-trap": 3} {
		w := loadSeed(t, dir)
		if len(w.Policies) != 1 {
			t.Fatalf("%s: %d policies, want 1", dir, len(w.Policies))
		}
		p := w.Policies[0]
		if p.Types != policy.Ingress {
			t.Errorf("%s: types %v, want ingress", dir, p.Types)
		}
		if len(p.Ingress) != n {
			t.Errorf("%s: %d normalised ingress rules, want one per peer (%d)", dir, len(p.Ingress), n)
		}
		for i, r := range p.Ingress {
			if r.Index != 0 || r.Protocol != policy.TCP || len(r.Destination.Ports) != 1 || r.Destination.Ports[0].String() != "8080" {
				t.Errorf("%s: rule %d = index %d %s %v, want index 0 tcp [8080]", dir, i, r.Index, r.Protocol, r.Destination.Ports)
			}
		}
	}
}

// TestSeedNamespaceIsolationCopies: the page applies one file to two
// namespaces; apart from comments the two copies differ only in the
// namespace.
func TestSeedNamespaceIsolationCopies(t *testing.T) {
	read := func(n string) string {
		b, err := os.ReadFile(filepath.Join(seedsDir, "namespace-isolation", "network-policy-"+n+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n")
	}
	one, two := read("customer1"), read("customer2")
	if one == two || strings.ReplaceAll(two, "customer2", "customer1") != one {
		t.Error("network-policy-customer1.yaml and -customer2.yaml should differ only in the namespace")
	}
}
