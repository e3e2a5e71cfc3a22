package evaltest

import "github.com/flowgate/flowgate/translator/policy"

var (
	cTCP80    = Service{policy.TCP, 80}
	cTCP8080  = Service{policy.TCP, 8080}
	cUDP53    = Service{policy.UDP, 53}
	cUDP5353  = Service{policy.UDP, 5353}
	cSCTP9003 = Service{policy.SCTP, 9003}
	cSCTP9005 = Service{policy.SCTP, 9005}
)

func allow(from, to string, s Service) Probe {
	return Probe{From: from, To: to, Service: s, Allowed: true}
}
func deny(from, to string, s Service) Probe {
	return Probe{From: from, To: to, Service: s, Allowed: false}
}

// reorder returns rules in the order of idx.
func reorder(rules []CRule, idx ...int) []CRule {
	out := make([]CRule, len(idx))
	for i, j := range idx {
		out[i] = rules[j]
	}
	return out
}

// ingressTCPRules are the conformance suite's ingress rule-order rules.
var ingressTCPRules = []CRule{
	{Name: "allow-from-ravenclaw-everything", Action: "Accept", Houses: []string{"ravenclaw"}},
	{Name: "deny-from-ravenclaw-everything", Action: "Deny", Houses: []string{"ravenclaw"}},
	{Name: "pass-from-ravenclaw-everything", Action: "Pass", Houses: []string{"ravenclaw"}},
	{Name: "deny-from-slytherin-at-port-80", Action: "Deny", Houses: []string{"slytherin"}, Ports: []string{"tcp/80"}},
	{Name: "pass-from-slytherin-at-port-80", Action: "Pass", Houses: []string{"slytherin"}, Ports: []string{"tcp/80"}},
	{Name: "allow-from-hufflepuff-at-port-80", Action: "Accept", Houses: []string{"hufflepuff"}, Ports: []string{"tcp/80"}},
	{Name: "deny-from-hufflepuff-everything-else", Action: "Deny", Houses: []string{"hufflepuff"}},
}

func ingressTCP(idx ...int) CPolicy {
	return CPolicy{Name: "ingress-tcp", Priority: 3, SubjectHouse: "gryffindor", Ingress: reorder(ingressTCPRules, idx...)}
}

// passExample and baselineDefault are the API-integration case's policies.
func passExample(ingress, egress string) CPolicy {
	return CPolicy{Name: "pass-example", Priority: 10, SubjectHouse: "gryffindor",
		Ingress: []CRule{{Name: "ingress-from-slytherin", Action: ingress, Houses: []string{"slytherin"}}},
		Egress:  []CRule{{Name: "egress-to-slytherin", Action: egress, Houses: []string{"slytherin"}}},
	}
}

var baselineDefault = CPolicy{Name: "default", Baseline: true, Priority: 10, SubjectHouse: "gryffindor",
	Ingress: []CRule{{Name: "deny-all-ingress-from-slytherin", Action: "Deny", Houses: []string{"slytherin"}}},
	Egress:  []CRule{{Name: "deny-all-egress-to-slytherin", Action: "Deny", Houses: []string{"slytherin"}}},
}

const gryffindorAllowsSlytherin = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-gress-from-to-slytherin-to-gryffindor
  namespace: network-policy-conformance-gryffindor
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          conformance-house: slytherin
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          conformance-house: slytherin
`

// ConformanceCases returns the cluster-scoped policy cases: the upstream
// conformance suite's scenarios, re-expressed, plus flowgate's own
// choices where the API leaves one.
func ConformanceCases() []Case {
	return []Case{
		{
			Name:     "admin-ingress-tcp-rule-order",
			Upstream: "CNPAdminTierIngressTCP",
			Steps: []Step{
				{Name: "declared order", Set: []CPolicy{ingressTCP(0, 1, 2, 3, 4, 5, 6)}, Probes: []Probe{
					allow("ravenclaw/0", "gryffindor/0", cTCP80), allow("ravenclaw/1", "gryffindor/0", cTCP8080),
					allow("hufflepuff/0", "gryffindor/1", cTCP80), deny("hufflepuff/1", "gryffindor/1", cTCP8080),
					deny("slytherin/0", "gryffindor/0", cTCP80), allow("slytherin/1", "gryffindor/0", cTCP8080),
					// Only ingress rules: the subject's egress is untouched.
					allow("gryffindor/0", "ravenclaw/0", cTCP80), allow("gryffindor/1", "slytherin/0", cTCP80),
				}},
				{Name: "deny before allow", Set: []CPolicy{ingressTCP(1, 0, 2, 3, 4, 5, 6)}, Probes: []Probe{
					deny("ravenclaw/0", "gryffindor/1", cTCP80), deny("ravenclaw/1", "gryffindor/1", cTCP8080),
				}},
				{Name: "pass first", Set: []CPolicy{ingressTCP(2, 0, 1, 3, 4, 5, 6)}, Probes: []Probe{
					allow("ravenclaw/0", "gryffindor/0", cTCP80), allow("ravenclaw/1", "gryffindor/0", cTCP8080),
				}},
				{Name: "pass at port 80 first", Set: []CPolicy{ingressTCP(2, 0, 1, 4, 3, 5, 6)}, Probes: []Probe{
					allow("slytherin/0", "gryffindor/0", cTCP80), allow("slytherin/1", "gryffindor/0", cTCP8080),
				}},
			},
		},
		{
			Name:     "admin-egress-udp-sctp",
			Upstream: "CNPAdminTierEgressUDP, CNPAdminTierEgressSCTP",
			Steps: []Step{
				{Name: "declared order", Set: []CPolicy{{Name: "egress-udp", Priority: 4, SubjectHouse: "gryffindor", Egress: []CRule{
					{Name: "allow-to-ravenclaw-everything", Action: "Accept", Houses: []string{"ravenclaw"}},
					{Name: "deny-to-ravenclaw-everything", Action: "Deny", Houses: []string{"ravenclaw"}},
					{Name: "deny-to-slytherin-at-port-53", Action: "Deny", Houses: []string{"slytherin"}, Ports: []string{"udp/53"}},
					{Name: "allow-to-hufflepuff-at-sctp-9003", Action: "Accept", Houses: []string{"hufflepuff"}, Ports: []string{"sctp/9003"}},
					{Name: "deny-to-hufflepuff-everything-else", Action: "Deny", Houses: []string{"hufflepuff"}},
				}}}, Probes: []Probe{
					allow("gryffindor/0", "ravenclaw/0", cUDP53), allow("gryffindor/1", "ravenclaw/1", cUDP5353),
					deny("gryffindor/0", "slytherin/0", cUDP53), allow("gryffindor/0", "slytherin/1", cUDP5353),
					allow("gryffindor/1", "hufflepuff/0", cSCTP9003), deny("gryffindor/1", "hufflepuff/0", cSCTP9005),
					deny("gryffindor/1", "hufflepuff/1", cUDP53),
					// Only egress rules: the subject's ingress is untouched.
					allow("slytherin/0", "gryffindor/0", cUDP53), allow("hufflepuff/0", "gryffindor/0", cUDP5353),
				}},
			},
		},
		{
			Name:     "admin-port-ranges",
			Upstream: "CNPAdminTierPortRange",
			Steps: []Step{
				{Name: "ranges", Set: []CPolicy{{Name: "port-range", Priority: 5, SubjectHouse: "gryffindor", Ingress: []CRule{
					{Name: "deny-sctp-range", Action: "Deny", Houses: []string{"slytherin"}, Ports: []string{"sctp/9000-9004"}},
					{Name: "deny-tcp-range", Action: "Deny", Houses: []string{"hufflepuff"}, Ports: []string{"tcp/1-1000"}},
					{Name: "deny-udp-range", Action: "Deny", Houses: []string{"ravenclaw"}, Ports: []string{"udp/5000-6000"}},
				}}}, Probes: []Probe{
					deny("slytherin/0", "gryffindor/0", cSCTP9003), allow("slytherin/0", "gryffindor/0", cSCTP9005),
					deny("hufflepuff/1", "gryffindor/1", cTCP80), allow("hufflepuff/1", "gryffindor/1", cTCP8080),
					allow("ravenclaw/0", "gryffindor/1", cUDP53), deny("ravenclaw/0", "gryffindor/1", cUDP5353),
				}},
			},
		},
		{
			Name:     "admin-priority-changes",
			Upstream: "CNPAdminTierPriorityField",
			Steps: []Step{
				{Name: "allow at 10 before deny at 20", Set: []CPolicy{
					{Name: "allow-ravenclaw", Priority: 10, SubjectHouse: "gryffindor", Ingress: []CRule{{Name: "allow", Action: "Accept", Houses: []string{"ravenclaw"}}}},
					{Name: "deny-ravenclaw", Priority: 20, SubjectHouse: "gryffindor", Ingress: []CRule{{Name: "deny", Action: "Deny", Houses: []string{"ravenclaw"}}}},
				}, Probes: []Probe{allow("ravenclaw/0", "gryffindor/0", cTCP80), allow("ravenclaw/1", "gryffindor/1", cUDP53)}},
				{Name: "deny moves to 5", Set: []CPolicy{
					{Name: "deny-ravenclaw", Priority: 5, SubjectHouse: "gryffindor", Ingress: []CRule{{Name: "deny", Action: "Deny", Houses: []string{"ravenclaw"}}}},
				}, Probes: []Probe{deny("ravenclaw/0", "gryffindor/0", cTCP80), deny("ravenclaw/1", "gryffindor/1", cUDP53)}},
				{Name: "allow moves to 1", Set: []CPolicy{
					{Name: "allow-ravenclaw", Priority: 1, SubjectHouse: "gryffindor", Ingress: []CRule{{Name: "allow", Action: "Accept", Houses: []string{"ravenclaw"}}}},
				}, Probes: []Probe{allow("ravenclaw/0", "gryffindor/0", cTCP80), allow("ravenclaw/1", "gryffindor/1", cUDP53)}},
			},
		},
		{
			Name:     "admin-same-priority-by-name",
			Upstream: "not upstream: the API leaves equal priorities undefined; flowgate orders them by name",
			Steps: []Step{
				{Name: "a-deny before b-allow", Set: []CPolicy{
					{Name: "b-allow", Priority: 7, SubjectHouse: "gryffindor", Ingress: []CRule{{Name: "allow", Action: "Accept", Houses: []string{"ravenclaw"}}}},
					{Name: "a-deny", Priority: 7, SubjectHouse: "gryffindor", Ingress: []CRule{{Name: "deny", Action: "Deny", Houses: []string{"ravenclaw"}}}},
				}, Probes: []Probe{deny("ravenclaw/0", "gryffindor/0", cTCP80)}},
			},
		},
		{
			Name:     "admin-networkpolicy-baseline-integration",
			Upstream: "CNPAdminTierIntegration",
			Steps: []Step{
				{Name: "admin denies what the NetworkPolicy allows",
					Set:                []CPolicy{passExample("Deny", "Deny"), baselineDefault},
					SetNetworkPolicies: map[string]string{"np": gryffindorAllowsSlytherin},
					Probes: []Probe{
						deny("slytherin/0", "gryffindor/0", cTCP80), deny("slytherin/1", "gryffindor/1", cUDP53),
						deny("gryffindor/0", "slytherin/0", cTCP80), deny("gryffindor/1", "slytherin/1", cUDP5353),
						// The NetworkPolicy isolates gryffindor from everyone else.
						deny("ravenclaw/0", "gryffindor/0", cTCP80),
					}},
				{Name: "ingress passes to the NetworkPolicy", Set: []CPolicy{passExample("Pass", "Deny")}, Probes: []Probe{
					allow("slytherin/0", "gryffindor/0", cTCP80), allow("slytherin/1", "gryffindor/1", cUDP53),
					deny("gryffindor/0", "slytherin/0", cTCP80),
				}},
				{Name: "egress passes to the NetworkPolicy", Set: []CPolicy{passExample("Pass", "Pass")}, Probes: []Probe{
					allow("gryffindor/0", "slytherin/0", cTCP80), allow("gryffindor/1", "slytherin/1", cUDP5353),
				}},
				{Name: "without the NetworkPolicy the baseline decides", Delete: []string{"np"}, Probes: []Probe{
					deny("slytherin/0", "gryffindor/0", cTCP80), deny("gryffindor/0", "slytherin/0", cTCP80),
					allow("ravenclaw/0", "gryffindor/0", cTCP80), allow("gryffindor/1", "hufflepuff/0", cUDP53),
				}},
			},
		},
		{
			Name:     "admin-egress-networks",
			Upstream: "CNPAdminTierEgressInlineCIDRPeers",
			Steps: []Step{
				{Name: "networks match pod addresses", Set: []CPolicy{{Name: "egress-cidr", Priority: 6, SubjectHouse: "gryffindor", Egress: []CRule{
					{Name: "deny-one-slytherin-pod-at-80", Action: "Deny", Networks: []string{"10.9.2.1/32"}, Ports: []string{"tcp/80"}},
					{Name: "allow-slytherin-subnet", Action: "Accept", Networks: []string{"10.9.2.0/24"}},
					{Name: "deny-everything", Action: "Deny", Networks: []string{"0.0.0.0/0", "::/0"}},
				}}}, Probes: []Probe{
					deny("gryffindor/0", "slytherin/0", cTCP80), allow("gryffindor/0", "slytherin/0", cTCP8080),
					allow("gryffindor/1", "slytherin/1", cTCP80),
					deny("gryffindor/0", "hufflepuff/0", cTCP80), deny("gryffindor/1", "ravenclaw/1", cUDP53),
					deny("gryffindor/0", "gryffindor/1", cSCTP9003),
				}},
				{Name: "last rule passes", Set: []CPolicy{{Name: "egress-cidr", Priority: 6, SubjectHouse: "gryffindor", Egress: []CRule{
					{Name: "deny-one-slytherin-pod-at-80", Action: "Deny", Networks: []string{"10.9.2.1/32"}, Ports: []string{"tcp/80"}},
					{Name: "pass-everything", Action: "Pass", Networks: []string{"0.0.0.0/0"}},
				}}}, Probes: []Probe{
					deny("gryffindor/0", "slytherin/0", cTCP80), allow("gryffindor/0", "hufflepuff/0", cTCP80),
					allow("gryffindor/1", "ravenclaw/1", cUDP53),
				}},
			},
		},
		{
			Name:     "admin-named-ports",
			Upstream: "CNPAdminTierGressRules (named ports)",
			Steps: []Step{
				{Name: "named ports resolve on the destination pod", Set: []CPolicy{{Name: "named", Priority: 8, SubjectHouse: "gryffindor",
					Ingress: []CRule{
						{Name: "allow-web-from-slytherin", Action: "Accept", Houses: []string{"slytherin"}, Ports: []string{"named/web"}},
						{Name: "deny-slytherin", Action: "Deny", Houses: []string{"slytherin"}},
					},
					Egress: []CRule{
						{Name: "allow-dns-to-hufflepuff", Action: "Accept", PodsOf: []string{"hufflepuff", "hufflepuff"}, Ports: []string{"named/dns"}},
						{Name: "deny-hufflepuff", Action: "Deny", PodsOf: []string{"hufflepuff", "hufflepuff"}},
					},
				}}, Probes: []Probe{
					allow("slytherin/0", "gryffindor/0", cTCP80), deny("slytherin/0", "gryffindor/0", cTCP8080),
					deny("slytherin/1", "gryffindor/1", cUDP53),
					allow("gryffindor/0", "hufflepuff/0", cUDP53), deny("gryffindor/0", "hufflepuff/0", cUDP5353),
					deny("gryffindor/1", "hufflepuff/1", cTCP80),
				}},
			},
		},
		{
			Name:         "baseline-pass-and-networkpolicy-override",
			Upstream:     "CNPBaselineTierIngressTCP and API integration (Pass in the Baseline tier is v1alpha2 only)",
			OnlyV1Alpha2: true,
			Steps: []Step{
				{Name: "baseline pass skips the rest of the tier", Set: []CPolicy{
					{Name: "b1", Baseline: true, Priority: 1, SubjectHouse: "gryffindor", Ingress: []CRule{{Name: "pass-ravenclaw", Action: "Pass", Houses: []string{"ravenclaw"}}}},
					{Name: "b2", Baseline: true, Priority: 2, SubjectHouse: "gryffindor", Ingress: []CRule{{Name: "deny-some", Action: "Deny", Houses: []string{"ravenclaw", "slytherin"}}}},
				}, Probes: []Probe{
					allow("ravenclaw/0", "gryffindor/0", cTCP80), deny("slytherin/0", "gryffindor/0", cTCP80),
					allow("hufflepuff/0", "gryffindor/0", cTCP80),
				}},
				{Name: "a NetworkPolicy overrides the baseline", SetNetworkPolicies: map[string]string{"np": gryffindorAllowsSlytherin}, Probes: []Probe{
					allow("slytherin/0", "gryffindor/0", cTCP80), deny("ravenclaw/0", "gryffindor/0", cTCP80),
					deny("hufflepuff/0", "gryffindor/1", cUDP53),
				}},
			},
		},
		{
			Name:     "baseline-rules",
			Upstream: "CNPBaselineTierIngressUDP, CNPBaselineTierEgressTCP",
			Steps: []Step{
				{Name: "baseline allow before deny", Set: []CPolicy{{Name: "default", Baseline: true, Priority: 0, SubjectHouse: "gryffindor",
					Ingress: []CRule{
						{Name: "allow-dns-from-ravenclaw", Action: "Accept", Houses: []string{"ravenclaw"}, Ports: []string{"udp/53"}},
						{Name: "deny-ravenclaw", Action: "Deny", Houses: []string{"ravenclaw"}},
					},
					Egress: []CRule{{Name: "deny-tcp-to-hufflepuff", Action: "Deny", Houses: []string{"hufflepuff"}, Ports: []string{"tcp/80", "tcp/8080"}}},
				}}, Probes: []Probe{
					allow("ravenclaw/0", "gryffindor/0", cUDP53), deny("ravenclaw/0", "gryffindor/0", cUDP5353),
					deny("ravenclaw/1", "gryffindor/1", cTCP80),
					deny("gryffindor/0", "hufflepuff/0", cTCP80), deny("gryffindor/0", "hufflepuff/1", cTCP8080),
					allow("gryffindor/0", "hufflepuff/1", cUDP53),
				}},
			},
		},
	}
}
