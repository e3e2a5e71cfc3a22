package evaltest

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
)

// The cluster-scoped policy conformance model, re-expressed from the
// network-policy-api conformance suite (conformance/, v0.3.0): four
// namespaces of two pods each, every pod serving TCP 80 and 8080, UDP 53
// and 5353 and SCTP 9003 and 9005, with TCP 80 named "web" and UDP 53
// named "dns". Cases change the policies between steps and keep the rest,
// as the suite does.

// Houses are the conformance namespaces' short names; the namespace is
// "network-policy-conformance-<house>", labelled conformance-house: <house>.
var Houses = []string{"gryffindor", "slytherin", "hufflepuff", "ravenclaw"}

// houseStudents names each house's pods (<student>-0 and <student>-1).
var houseStudents = map[string]string{
	"gryffindor": "harry-potter",
	"slytherin":  "draco-malfoy",
	"hufflepuff": "cedric-diggory",
	"ravenclaw":  "luna-lovegood",
}

// HouseNamespace returns a house's namespace name.
func HouseNamespace(house string) string { return "network-policy-conformance-" + house }

// ConformanceServices are the protocol and port pairs every conformance
// pod serves.
var ConformanceServices = []Service{
	{policy.TCP, 80}, {policy.TCP, 8080},
	{policy.UDP, 53}, {policy.UDP, 5353},
	{policy.SCTP, 9003}, {policy.SCTP, 9005},
}

// ConformancePods returns the eight pods, gryffindor's first; pod i of
// house h has address 10.9.<h+1>.<i+1>.
func ConformancePods() []Pod {
	var out []Pod
	for h, house := range Houses {
		for i := 0; i < 2; i++ {
			out = append(out, Pod{
				Namespace: HouseNamespace(house),
				Name:      fmt.Sprintf("%s-%d", houseStudents[house], i),
				IP:        netip.AddrFrom4([4]byte{10, 9, byte(h + 1), byte(i + 1)}),
			})
		}
	}
	return out
}

// ConformancePod returns the pod "<house>/<index>", e.g. "gryffindor/0".
func ConformancePod(ref string) Pod {
	house, idx, _ := strings.Cut(ref, "/")
	want := houseStudents[house] + "-" + idx
	for _, p := range ConformancePods() {
		if p.Namespace == HouseNamespace(house) && p.Name == want {
			return p
		}
	}
	panic("no conformance pod " + ref)
}

// ConformanceWorldYAML returns the namespaces and pods of the model.
func ConformanceWorldYAML() string {
	var b strings.Builder
	for _, house := range Houses {
		ns := HouseNamespace(house)
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    conformance-house: %s\n    kubernetes.io/metadata.name: %s\n", ns, house, ns)
	}
	for _, p := range ConformancePods() {
		house := strings.TrimPrefix(p.Namespace, "network-policy-conformance-")
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    conformance-house: %s\nspec:\n  containers:\n", p.Name, p.Namespace, house)
		fmt.Fprintf(&b, "  - name: web\n    image: registry.k8s.io/e2e-test-images/agnhost:2.45\n    ports:\n    - {name: web, containerPort: 80, protocol: TCP}\n")
		fmt.Fprintf(&b, "  - name: dns\n    image: registry.k8s.io/e2e-test-images/agnhost:2.45\n    ports:\n    - {name: dns, containerPort: 53, protocol: UDP}\n")
		fmt.Fprintf(&b, "status:\n  phase: Running\n  podIP: %s\n  podIPs:\n  - ip: %s\n", p.IP, p.IP)
	}
	return b.String()
}

// APIVersion selects which version of the cluster-scoped API a case's
// policies are written in.
type APIVersion int

const (
	// V1Alpha2 writes ClusterNetworkPolicy objects.
	V1Alpha2 APIVersion = iota
	// V1Alpha1 writes AdminNetworkPolicy and BaselineAdminNetworkPolicy
	// objects.
	V1Alpha1
)

// String names the version.
func (v APIVersion) String() string {
	if v == V1Alpha1 {
		return "v1alpha1"
	}
	return "v1alpha2"
}

// CPolicy is a cluster-scoped policy in a version-neutral form, rendered
// into either API version by YAML.
type CPolicy struct {
	// Name is the policy's name (a v1alpha1 Baseline policy is always
	// named "default", the singleton).
	Name string
	// Baseline puts the policy in the Baseline tier, else Admin.
	Baseline bool
	// Priority is the priority (ignored for a v1alpha1 Baseline policy).
	Priority int
	// SubjectHouse selects the subject pods by their house's namespace.
	SubjectHouse string
	// Ingress and Egress rules, in order.
	Ingress, Egress []CRule
}

// CRule is one rule: Action is Accept, Deny or Pass.
type CRule struct {
	Name   string
	Action string
	// Houses are namespace peers, one per house.
	Houses []string
	// PodsOf is a pods peer: pods of PodsOf[0]'s house labelled
	// conformance-house: PodsOf[1].
	PodsOf []string
	// Networks is a networks peer (egress only).
	Networks []string
	// Ports are "tcp/80", "udp/53-5353" (a range) or "named/web".
	Ports []string
}

// YAML renders the policy in API version v.
func (p CPolicy) YAML(v APIVersion) string {
	var b strings.Builder
	tier, action := "Admin", func(a string) string { return a }
	name := p.Name
	if v == V1Alpha2 {
		if p.Baseline {
			tier = "Baseline"
		}
		fmt.Fprintf(&b, "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata:\n  name: %s\nspec:\n  tier: %s\n  priority: %d\n", name, tier, p.Priority)
	} else {
		action = func(a string) string {
			if a == "Accept" {
				return "Allow"
			}
			return a
		}
		if p.Baseline {
			fmt.Fprintf(&b, "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata:\n  name: default\nspec:\n")
		} else {
			fmt.Fprintf(&b, "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata:\n  name: %s\nspec:\n  priority: %d\n", name, p.Priority)
		}
	}
	fmt.Fprintf(&b, "  subject:\n    namespaces:\n      matchLabels:\n        conformance-house: %s\n", p.SubjectHouse)
	for d, rules := range [2][]CRule{p.Ingress, p.Egress} {
		if len(rules) == 0 {
			continue
		}
		dir, peers := [2]string{"ingress", "egress"}[d], [2]string{"from", "to"}[d]
		fmt.Fprintf(&b, "  %s:\n", dir)
		for _, r := range rules {
			fmt.Fprintf(&b, "  - name: %q\n    action: %s\n    %s:\n", r.Name, action(r.Action), peers)
			for _, h := range r.Houses {
				fmt.Fprintf(&b, "    - namespaces:\n        matchLabels:\n          conformance-house: %s\n", h)
			}
			if len(r.PodsOf) == 2 {
				fmt.Fprintf(&b, "    - pods:\n        namespaceSelector:\n          matchLabels:\n            conformance-house: %s\n        podSelector:\n          matchLabels:\n            conformance-house: %s\n", r.PodsOf[0], r.PodsOf[1])
			}
			if len(r.Networks) > 0 {
				b.WriteString("    - networks:\n")
				for _, n := range r.Networks {
					fmt.Fprintf(&b, "      - %q\n", n)
				}
			}
			if len(r.Ports) > 0 {
				key := "protocols"
				if v == V1Alpha1 {
					key = "ports"
				}
				fmt.Fprintf(&b, "    %s:\n", key)
				for _, port := range r.Ports {
					b.WriteString(renderPort(v, port))
				}
			}
		}
	}
	return b.String()
}

func renderPort(v APIVersion, port string) string {
	proto, num, _ := strings.Cut(port, "/")
	if proto == "named" {
		if v == V1Alpha1 {
			return fmt.Sprintf("    - namedPort: %s\n", num)
		}
		return fmt.Sprintf("    - destinationNamedPort: %s\n", num)
	}
	lo, hi, isRange := strings.Cut(num, "-")
	if v == V1Alpha1 {
		if isRange {
			return fmt.Sprintf("    - portRange: {protocol: %s, start: %s, end: %s}\n", strings.ToUpper(proto), lo, hi)
		}
		return fmt.Sprintf("    - portNumber: {protocol: %s, port: %s}\n", strings.ToUpper(proto), lo)
	}
	if isRange {
		return fmt.Sprintf("    - %s:\n        destinationPort:\n          range: {start: %s, end: %s}\n", proto, lo, hi)
	}
	return fmt.Sprintf("    - %s:\n        destinationPort:\n          number: %s\n", proto, lo)
}

// Probe is one connection a step checks: from and to are conformance pod
// references ("gryffindor/0").
type Probe struct {
	From, To string
	Service  Service
	Allowed  bool
}

// String prints "ravenclaw/0 -> gryffindor/0 tcp/80: allowed".
func (p Probe) String() string {
	what := "denied"
	if p.Allowed {
		what = "allowed"
	}
	return fmt.Sprintf("%s -> %s %s: %s", p.From, p.To, p.Service, what)
}

// Step is one state of a case: the policies it sets (replacing any of the
// same name), the ones it deletes, and the probes that must then hold.
type Step struct {
	Name string
	// Set adds or replaces cluster-scoped policies, by name.
	Set []CPolicy
	// SetNetworkPolicies adds or replaces Kubernetes NetworkPolicy
	// documents, keyed by a name of the test's choosing.
	SetNetworkPolicies map[string]string
	// Delete removes policies set earlier, by name.
	Delete []string
	Probes []Probe
}

// Case is one conformance test: steps applied in order, state kept.
type Case struct {
	Name     string
	Upstream string
	// OnlyV1Alpha2 is set for cases v1alpha1 cannot express (Pass or
	// several policies in the Baseline tier).
	OnlyV1Alpha2 bool
	Steps        []Step
}

// Policies returns the YAML of all policies in force after step i.
func (c Case) Policies(i int, v APIVersion) string {
	cluster := map[string]CPolicy{}
	netpols := map[string]string{}
	for _, s := range c.Steps[:i+1] {
		for _, p := range s.Set {
			cluster[p.Name] = p
		}
		for k, y := range s.SetNetworkPolicies {
			netpols[k] = y
		}
		for _, name := range s.Delete {
			delete(cluster, name)
			delete(netpols, name)
		}
	}
	var names []string
	for n := range cluster {
		names = append(names, n)
	}
	for n := range netpols {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		if p, ok := cluster[n]; ok {
			b.WriteString(p.YAML(v))
		} else {
			b.WriteString(netpols[n])
		}
	}
	return b.String()
}

// ConformanceState is one step of one case in one API version, as the
// suites apply and probe it.
type ConformanceState struct {
	// Name is "version/case/step"; Case the case's name.
	Name, Case string
	Step       Step
	// YAML is the conformance world and every policy in force after the
	// step.
	YAML string
}

// ConformanceStates lists every step of every case in both API versions
// (v1alpha2 first), leaving out the cases v1alpha1 cannot express. The
// policies of one step replace the previous step's, as upstream.
func ConformanceStates() []ConformanceState {
	var out []ConformanceState
	for _, v := range []APIVersion{V1Alpha2, V1Alpha1} {
		for _, c := range ConformanceCases() {
			if c.OnlyV1Alpha2 && v != V1Alpha2 {
				continue
			}
			for i, step := range c.Steps {
				out = append(out, ConformanceState{Name: v.String() + "/" + c.Name + "/" + step.Name, Case: c.Name, Step: step,
					YAML: ConformanceWorldYAML() + c.Policies(i, v)})
			}
		}
	}
	return out
}
