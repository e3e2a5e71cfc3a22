package evaltest

import (
	"fmt"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
)

// Scenario is one truth-table test: Kubernetes NetworkPolicies applied to
// the scenario pods, and the reachability expected for every service.
type Scenario struct {
	// Name identifies the scenario (a short kebab-case phrase).
	Name string
	// Upstream names the upstream e2e test the scenario is modelled on
	// ("should ..."), or says what it adds ("not upstream: ...").
	Upstream string
	// Policies is the policy YAML (multi-document).
	Policies string
	// Expect returns the expected reachability for one service; it is
	// called once for each of Services().
	Expect func(Service) *Reachability
}

// YAML returns the whole scenario world: namespaces, pods and policies.
func (s Scenario) YAML() string { return WorldYAML() + s.Policies }

// networkPolicy writes a networking.k8s.io/v1 NetworkPolicy document;
// spec is the YAML of its spec, indented by two spaces. Namespace y must be
// quoted in YAML, where a bare y is the boolean true.
func networkPolicy(namespace, name, spec string) string {
	return fmt.Sprintf("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: %s\n  namespace: %q\nspec:\n%s",
		name, namespace, strings.TrimLeft(spec, "\n"))
}

var (
	tcp80  = Service{policy.TCP, 80}
	tcp81  = Service{policy.TCP, 81}
	udp81  = Service{policy.UDP, 81}
	sctp80 = Service{policy.SCTP, 80}
)

// always returns the same table for every service.
func always(build func(r *Reachability)) func(Service) *Reachability {
	return func(Service) *Reachability {
		r := NewReachability(true)
		build(r)
		return r
	}
}

// only returns one table for the given services and another for the rest.
func only(on []Service, match, rest func(r *Reachability)) func(Service) *Reachability {
	return func(s Service) *Reachability {
		r := NewReachability(true)
		for _, o := range on {
			if o == s {
				match(r)
				return r
			}
		}
		rest(r)
		return r
	}
}

func nothing(*Reachability) {}

// Scenarios returns every truth-table scenario. The first ones follow the
// upstream suite test by test (multi-step upstream tests become one
// scenario per step); the rest cover what upstream checks only on some
// platforms (SCTP, endPort, ipBlock except) and corner cases of the API.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Name:     "deny-all-ingress",
			Upstream: "should support a 'default-deny-ingress' policy",
			Policies: networkPolicy("x", "deny-ingress", `
  podSelector: {}
  policyTypes:
  - Ingress
`),
			Expect: always(func(r *Reachability) { r.Expect("", "x", false) }),
		},
		{
			Name:     "deny-all",
			Upstream: "should support a 'default-deny-all' policy",
			Policies: networkPolicy("x", "deny-all", `
  podSelector: {}
  policyTypes:
  - Ingress
  - Egress
`),
			Expect: always(func(r *Reachability) { r.Expect("", "x", false).Expect("x", "", false) }),
		},
		{
			Name:     "allow-from-same-namespace-pod",
			Upstream: "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
			Policies: networkPolicy("x", "x-a-allows-x-b", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - podSelector:
        matchLabels:
          pod: b
`),
			Expect: always(func(r *Reachability) { r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true) }),
		},
		{
			Name:     "allow-ingress-to-target",
			Upstream: "should enforce policy to allow ingress traffic for a target",
			Policies: networkPolicy("x", "deny-all", `
  podSelector: {}
  policyTypes:
  - Ingress
`) + networkPolicy("x", "allow-all-to-a", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - podSelector: {}
      namespaceSelector: {}
`),
			Expect: always(func(r *Reachability) {
				r.ExpectAllIngress("x/a", true).ExpectAllIngress("x/b", false).ExpectAllIngress("x/c", false)
			}),
		},
		{
			Name:     "allow-from-all-namespaces",
			Upstream: "should enforce policy to allow ingress traffic from pods in all namespaces",
			Policies: networkPolicy("x", "allow-from-another-ns", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {}
`),
			Expect: always(nothing),
		},
		{
			Name:     "allow-from-namespace",
			Upstream: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
			Policies: networkPolicy("x", "allow-client-a-via-ns-selector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: "y"
`),
			Expect: always(func(r *Reachability) { r.Expect("x", "x/a", false).Expect("z", "x/a", false) }),
		},
		{
			Name:     "pod-selector-match-expressions",
			Upstream: "should enforce policy based on PodSelector with MatchExpressions",
			Policies: networkPolicy("x", "x-a-allows-x-b", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - podSelector:
        matchExpressions:
        - key: pod
          operator: In
          values:
          - b
`),
			Expect: always(func(r *Reachability) { r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true) }),
		},
		{
			Name:     "namespace-selector-match-expressions",
			Upstream: "should enforce policy based on NamespaceSelector with MatchExpressions (kubernetes.io/metadata.name)",
			Policies: networkPolicy("x", "allow-ns-y-match-selector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: In
          values:
          - "y"
`),
			Expect: always(func(r *Reachability) { r.Expect("x", "x/a", false).Expect("z", "x/a", false) }),
		},
		{
			Name:     "pod-or-namespace-selector",
			Upstream: "should enforce policy based on PodSelector or NamespaceSelector",
			Policies: networkPolicy("x", "allow-ns-y-match-selector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - key: ns
          operator: NotIn
          values:
          - x
    - podSelector:
        matchLabels:
          pod: b
`),
			Expect: always(func(r *Reachability) { r.Expect("x/c", "x/a", false) }),
		},
		{
			Name:     "pod-and-namespace-selector",
			Upstream: "should enforce policy based on PodSelector and NamespaceSelector",
			Policies: networkPolicy("x", "allow-ns-y-podselector-and-nsselector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - key: ns
          operator: NotIn
          values:
          - x
      podSelector:
        matchLabels:
          pod: b
`),
			Expect: always(func(r *Reachability) {
				r.ExpectAllIngress("x/a", false).Expect("y/b", "x/a", true).Expect("z/b", "x/a", true)
			}),
		},
		{
			Name:     "multiple-pod-and-namespace-selectors",
			Upstream: "should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
			Policies: networkPolicy("x", "allow-ns-y-z-pod-b-c", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - key: ns
          operator: NotIn
          values:
          - x
      podSelector:
        matchExpressions:
        - key: pod
          operator: In
          values:
          - b
          - c
`),
			Expect: always(func(r *Reachability) {
				r.Expect("x", "x/a", false).Expect("y/a", "x/a", false).Expect("z/a", "x/a", false)
			}),
		},
		{
			Name:     "any-pod-selectors",
			Upstream: "should enforce policy based on any PodSelectors",
			Policies: networkPolicy("x", "allow-ns-x-pod-b-c", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - podSelector:
        matchLabels:
          pod: b
    - podSelector:
        matchLabels:
          pod: c
`),
			Expect: always(func(r *Reachability) {
				r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true).Expect("x/c", "x/a", true)
			}),
		},
		{
			Name:     "pod-in-other-namespace",
			Upstream: "should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
			Policies: networkPolicy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: "y"
      podSelector:
        matchLabels:
          pod: a
`),
			Expect: always(func(r *Reachability) { r.ExpectAllIngress("x/a", false).Expect("y/a", "x/a", true) }),
		},
		{
			Name:     "ingress-port",
			Upstream: "should enforce policy based on Ports",
			Policies: networkPolicy("x", "allow-client-a-via-ns-selector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: "y"
    ports:
    - port: 81
      protocol: TCP
`),
			Expect: only([]Service{tcp81},
				func(r *Reachability) { r.Expect("x", "x/a", false).Expect("z", "x/a", false) },
				func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "stacked-policies",
			Upstream: "should enforce multiple, stacked policies with overlapping podSelectors (after both policies exist)",
			Policies: networkPolicy("x", "allow-client-a-via-ns-selector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: "y"
    ports:
    - port: 81
      protocol: TCP
`) + networkPolicy("x", "allow-client-a-via-ns-selector-80", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: "y"
    ports:
    - port: 80
      protocol: TCP
`),
			Expect: only([]Service{tcp80, tcp81},
				func(r *Reachability) { r.Expect("x", "x/a", false).Expect("z", "x/a", false) },
				func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "allow-all-ingress",
			Upstream: "should support allow-all policy",
			Policies: networkPolicy("x", "allow-all", `
  podSelector: {}
  ingress:
  - {}
`),
			Expect: always(nothing),
		},
		{
			Name:     "named-port-ingress",
			Upstream: "should allow ingress access on one named port",
			Policies: networkPolicy("x", "allow-all", `
  podSelector: {}
  ingress:
  - ports:
    - port: serve-81-tcp
`),
			Expect: only([]Service{tcp81}, nothing, func(r *Reachability) { r.Expect("", "x", false) }),
		},
		{
			Name:     "named-port-from-namespace",
			Upstream: "should allow ingress access from namespace on one named port",
			Policies: networkPolicy("x", "allow-client-a-via-ns-selector-80", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: "y"
    ports:
    - port: serve-80-tcp
      protocol: TCP
`),
			Expect: only([]Service{tcp80},
				func(r *Reachability) { r.Expect("x", "x/a", false).Expect("z", "x/a", false) },
				func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "named-port-protocol-mismatch",
			Upstream: "not upstream: a named port resolves only for its own protocol (serve-80-tcp asked for as UDP matches nothing)",
			Policies: networkPolicy("x", "allow-udp-on-a-tcp-name", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - ports:
    - port: serve-80-tcp
      protocol: UDP
`),
			Expect: always(func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "named-port-egress",
			Upstream: "should allow egress access on one named port",
			Policies: networkPolicy("x", "allow-egress", `
  podSelector: {}
  policyTypes:
  - Egress
  egress:
  - ports:
    - port: serve-80-tcp
`),
			Expect: only([]Service{tcp80}, nothing, func(r *Reachability) { r.Expect("x", "", false) }),
		},
		{
			Name:     "egress-rules-imply-ingress-isolation",
			Upstream: "not upstream: with no policyTypes, a policy with only egress rules isolates for ingress as well",
			Policies: networkPolicy("x", "allow-egress-80", `
  podSelector: {}
  egress:
  - ports:
    - port: 80
`),
			Expect: only([]Service{tcp80},
				func(r *Reachability) { r.Expect("", "x", false).Expect("x", "", true).Expect("x", "x", false) },
				func(r *Reachability) { r.Expect("", "x", false).Expect("x", "", false) }),
		},
		{
			Name:     "deny-all-egress",
			Upstream: "should deny egress from all pods in a namespace",
			Policies: networkPolicy("x", "deny-egress-ns-x", `
  podSelector: {}
  policyTypes:
  - Egress
`),
			Expect: always(func(r *Reachability) { r.Expect("x", "", false) }),
		},
		{
			Name:     "ingress-and-egress-together",
			Upstream: "should work with Ingress, Egress specified together",
			Policies: networkPolicy("x", "allow-client-a-via-pod-selector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - podSelector:
        matchLabels:
          pod: b
  egress:
  - ports:
    - port: 80
  policyTypes:
  - Egress
  - Ingress
`),
			Expect: only([]Service{tcp80},
				func(r *Reachability) { r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true) },
				func(r *Reachability) {
					r.ExpectAllIngress("x/a", false).ExpectAllEgress("x/a", false).Expect("x/b", "x/a", true)
				}),
		},
		{
			Name:     "egress-denied-on-client-side",
			Upstream: "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
			Policies: networkPolicy("x", "allow-to-ns-y-pod-a", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Egress
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          ns: "y"
      podSelector:
        matchLabels:
          pod: a
`) + networkPolicy("y", "allow-from-xa-on-ya-match-selector", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: x
      podSelector:
        matchLabels:
          pod: a
`) + networkPolicy("y", "allow-from-xa-on-yb-match-selector", `
  podSelector:
    matchLabels:
      pod: b
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: x
      podSelector:
        matchLabels:
          pod: a
`),
			Expect: always(func(r *Reachability) {
				r.Expect("x/a", "", false).Expect("", "y/a", false).Expect("x/a", "y/a", true).Expect("", "y/b", false)
			}),
		},
		{
			Name:     "egress-to-pod-in-namespace",
			Upstream: "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
			Policies: networkPolicy("x", "allow-to-ns-y-pod-a", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Egress
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          ns: "y"
      podSelector:
        matchLabels:
          pod: a
`),
			Expect: always(func(r *Reachability) { r.ExpectAllEgress("x/a", false).Expect("x/a", "y/a", true) }),
		},
		{
			Name:     "ingress-by-protocol",
			Upstream: "should enforce ingress policy allowing any port traffic to a server on a specific protocol",
			Policies: networkPolicy("x", "allow-ingress-by-proto", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - ports:
    - protocol: TCP
`),
			Expect: only([]Service{tcp80, tcp81}, nothing, func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "ingress-port-80-only",
			Upstream: "should enforce multiple ingress policies with ingress allow-all policy taking precedence (first step)",
			Policies: networkPolicy("x", "allow-ingress-port-80", `
  podSelector: {}
  ingress:
  - ports:
    - port: 80
`),
			Expect: only([]Service{tcp80}, nothing, func(r *Reachability) { r.Expect("", "x", false) }),
		},
		{
			Name:     "ingress-allow-all-takes-precedence",
			Upstream: "should enforce multiple ingress policies with ingress allow-all policy taking precedence",
			Policies: networkPolicy("x", "allow-ingress-port-80", `
  podSelector: {}
  ingress:
  - ports:
    - port: 80
`) + networkPolicy("x", "allow-ingress", `
  podSelector: {}
  ingress:
  - {}
`),
			Expect: always(nothing),
		},
		{
			Name:     "egress-allow-all-takes-precedence",
			Upstream: "should enforce multiple egress policies with egress allow-all policy taking precedence",
			Policies: networkPolicy("x", "allow-egress-port-80", `
  podSelector: {}
  policyTypes:
  - Egress
  egress:
  - ports:
    - port: 80
`) + networkPolicy("x", "allow-egress", `
  podSelector: {}
  policyTypes:
  - Egress
  egress:
  - {}
`),
			Expect: always(nothing),
		},
		{
			Name:     "egress-port-80-only",
			Upstream: "should enforce multiple egress policies with egress allow-all policy taking precedence (first step)",
			Policies: networkPolicy("x", "allow-egress-port-80", `
  podSelector: {}
  policyTypes:
  - Egress
  egress:
  - ports:
    - port: 80
`),
			Expect: only([]Service{tcp80}, nothing, func(r *Reachability) { r.Expect("x", "", false) }),
		},
		{
			Name:     "egress-to-cidr",
			Upstream: "should allow egress access to server in CIDR block",
			Policies: networkPolicy("x", "allow-client-a-via-cidr-egress-rule", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Egress
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.2.2/32
`),
			Expect: always(func(r *Reachability) { r.ExpectAllEgress("x/a", false).Expect("x/a", "y/b", true) }),
		},
		{
			Name:     "egress-to-cidr-except",
			Upstream: "should enforce except clause while egress access to server in CIDR block",
			Policies: networkPolicy("x", "deny-client-a-via-except-cidr-egress-rule", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Egress
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.1.0/24
        except:
        - 10.0.1.2/32
`),
			Expect: always(func(r *Reachability) { r.ExpectAllEgress("x/a", false).Expect("x/a", "x/c", true) }),
		},
		{
			Name:     "ipblock-except-overlap-union",
			Upstream: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
			Policies: networkPolicy("x", "deny-client-a-via-except-cidr-egress-rule", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Egress
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.1.0/24
        except:
        - 10.0.1.2/32
`) + networkPolicy("x", "allow-client-a-via-cidr-egress-rule", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Egress
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.1.2/32
`),
			Expect: always(func(r *Reachability) {
				r.ExpectAllEgress("x/a", false).Expect("x/a", "x/b", true).Expect("x/a", "x/c", true)
			}),
		},
		{
			Name:     "ingress-from-cidr-except",
			Upstream: "not upstream: ipBlock with except on ingress (upstream tests it on egress)",
			Policies: networkPolicy("x", "allow-from-cluster-but-y", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Ingress
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/16
        except:
        - 10.0.2.0/24
`),
			Expect: always(func(r *Reachability) { r.Expect("y", "x/a", false) }),
		},
		{
			Name:     "ingress-end-port",
			Upstream: "not upstream: endPort on ingress, with the kubernetes.io/metadata.name namespace label",
			Policies: networkPolicy("x", "allow-client-a-via-ns-selector-81-90", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: "y"
    ports:
    - port: 81
      endPort: 90
      protocol: TCP
`),
			Expect: only([]Service{tcp81},
				func(r *Reachability) { r.Expect("x", "x/a", false).Expect("z", "x/a", false) },
				func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "egress-end-port-covers-both",
			Upstream: "not upstream: endPort ranges on egress, one TCP and one UDP",
			Policies: networkPolicy("x", "allow-egress-80-81", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Egress
  egress:
  - ports:
    - port: 80
      endPort: 81
      protocol: TCP
    - port: 1
      endPort: 80
      protocol: UDP
`),
			Expect: func(s Service) *Reachability {
				r := NewReachability(true)
				if s.Protocol == policy.SCTP || s == udp81 {
					r.ExpectAllEgress("x/a", false)
				}
				return r
			},
		},
		{
			Name:     "sctp-only",
			Upstream: "should not allow access by TCP when a policy specifies only SCTP",
			Policies: networkPolicy("x", "allow-only-sctp-ingress-on-port-80", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - ports:
    - port: 80
      protocol: SCTP
`),
			Expect: only([]Service{sctp80}, nothing, func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "udp-only",
			Upstream: "should not allow access by TCP when a policy specifies only UDP",
			Policies: networkPolicy("x", "allow-only-udp-ingress-on-port-81", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - ports:
    - port: 81
      protocol: UDP
`),
			Expect: only([]Service{udp81}, nothing, func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "named-port-egress-udp-to-namespace",
			Upstream: "not upstream: a UDP named port on egress, with a namespace peer",
			Policies: networkPolicy("x", "allow-egress-udp-81-to-y", `
  podSelector: {}
  policyTypes:
  - Egress
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          ns: "y"
    ports:
    - port: serve-81-udp
      protocol: UDP
`),
			Expect: only([]Service{udp81},
				func(r *Reachability) { r.Expect("x", "x", false).Expect("x", "z", false) },
				func(r *Reachability) { r.Expect("x", "", false) }),
		},
		{
			Name:     "policy-types-egress-ignores-ingress-rules",
			Upstream: "not upstream: policyTypes [Egress] isolates for egress only and ignores the ingress rules",
			Policies: networkPolicy("x", "egress-only", `
  podSelector: {}
  policyTypes:
  - Egress
  ingress:
  - from:
    - podSelector:
        matchLabels:
          pod: b
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          ns: x
`),
			Expect: always(func(r *Reachability) { r.Expect("x", "y", false).Expect("x", "z", false) }),
		},
		{
			Name:     "namespace-and-empty-pod-selector",
			Upstream: "not upstream: a namespaceSelector with an empty podSelector selects every pod of those namespaces",
			Policies: networkPolicy("x", "allow-from-z", `
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: z
      podSelector: {}
`),
			Expect: always(func(r *Reachability) { r.Expect("x", "x", false).Expect("y", "x", false) }),
		},
		{
			Name:     "pod-selector-exists-and-not-in",
			Upstream: "not upstream: matchExpressions Exists and NotIn, ANDed, across all namespaces",
			Policies: networkPolicy("x", "allow-all-but-b", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector:
        matchExpressions:
        - key: pod
          operator: Exists
        - key: pod
          operator: NotIn
          values:
          - b
`),
			Expect: always(func(r *Reachability) { r.Expect("/b", "x/a", false) }),
		},
		{
			Name:     "namespace-selector-does-not-exist",
			Upstream: "not upstream: DoesNotExist on a label every namespace has selects no namespace",
			Policies: networkPolicy("x", "allow-from-unlabelled-namespaces", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - key: ns
          operator: DoesNotExist
`),
			Expect: always(func(r *Reachability) { r.ExpectAllIngress("x/a", false) }),
		},
		{
			Name:     "two-policies-two-targets",
			Upstream: "not upstream: policies with different podSelectors in one namespace apply independently",
			Policies: networkPolicy("x", "a-from-y", `
  podSelector:
    matchLabels:
      pod: a
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: "y"
`) + networkPolicy("x", "b-from-z", `
  podSelector:
    matchLabels:
      pod: b
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          ns: z
`),
			Expect: always(func(r *Reachability) {
				r.Expect("x", "x/a", false).Expect("z", "x/a", false).Expect("x", "x/b", false).Expect("y", "x/b", false)
			}),
		},
		{
			Name:     "egress-to-cidr-or-pod",
			Upstream: "not upstream: an ipBlock peer and a podSelector peer of one egress rule are ORed",
			Policies: networkPolicy("x", "egress-to-z-or-b", `
  podSelector:
    matchLabels:
      pod: a
  policyTypes:
  - Egress
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.3.0/24
    - podSelector:
        matchLabels:
          pod: b
    ports:
    - port: 80
    - port: 81
      protocol: SCTP
`),
			Expect: only([]Service{tcp80, {policy.SCTP, 81}},
				func(r *Reachability) {
					r.ExpectAllEgress("x/a", false).Expect("x/a", "z", true).Expect("x/a", "x/b", true)
				},
				func(r *Reachability) { r.ExpectAllEgress("x/a", false) }),
		},
	}
}
