package compiler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// BenchmarkClusterPolicyScale compiles a world of 10,000 pods (evaltest's
// generator, 100 namespaces) with 100 cluster-scoped policies for a node
// running 200 of the pods, once as v1alpha2 ClusterNetworkPolicies and
// once as the same rules written by hand as Calico GlobalNetworkPolicies
// in the same tiers. Issue 12 asks that the first cost no more than the
// second (docs/benchmarks.md):
//
//	go test ./translator/compiler -run '^$' -bench ClusterPolicyScale -benchtime 5x
func BenchmarkClusterPolicyScale(b *testing.B) {
	gen := evaltest.Generate(12, 10000, 0)
	for _, form := range []struct {
		name  string
		write func(p clusterScalePolicy, i int) string
	}{{"cluster-network-policy", clusterScalePolicy.cnp}, {"calico-global", clusterScalePolicy.gnp}} {
		b.Run(form.name, func(b *testing.B) {
			var text strings.Builder
			text.WriteString(gen.YAML)
			for i := range 100 {
				text.WriteString("---\n")
				text.WriteString(form.write(newClusterScalePolicy(i), i))
			}
			w, err := evaltest.BuildWorld(form.name+".yaml", text.String())
			if err != nil {
				b.Fatal(err)
			}
			all := AllLocal(w, "")
			locals := map[string]Binding{}
			for _, p := range gen.Pods[:200] {
				locals[p.String()] = all[p.String()]
			}
			opts := Options{Locals: locals, FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()}
			var c *Compiler
			var n int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var errs []error
				c, errs = New(w, opts)
				if len(errs) > 0 {
					b.Fatal(errs[0])
				}
				n = len(c.Flows())
			}
			b.StopTimer()
			b.ReportMetric(float64(n), "flows")
			b.ReportMetric(float64(c.stats().active), "active-policies")
		})
	}
}

// clusterScalePolicy is one generated cluster-scoped policy's content,
// written either way by cnp and gnp.
type clusterScalePolicy struct {
	baseline          bool
	priority          int
	subjectNamespaces bool   // subject: namespaces (else pods)
	team, env, app    string // the subject's namespace labels (team; env, app for pods)
	action            string // the first ingress rule's action (Accept, Deny, Pass)
	fromEnv, fromApp  string // the second ingress rule's pods peer
	port, rangeStart  int
	network           string // the egress rule's networks peer
}

func newClusterScalePolicy(i int) clusterScalePolicy {
	apps := []string{"frontend", "backend", "api", "db", "cache", "worker"}
	teams := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	envs := []string{"prod", "staging", "dev"}
	p := clusterScalePolicy{
		baseline: i >= 70, priority: i % 70, subjectNamespaces: i%3 == 0,
		team: teams[i%5], env: envs[i%3], app: apps[i%6],
		action: []string{"Deny", "Accept", "Pass"}[i%3], fromEnv: envs[(i+1)%3], fromApp: apps[(i+2)%6],
		port: 8000 + i, rangeStart: 9000 + 10*i, network: fmt.Sprintf("192.168.%d.0/24", i),
	}
	if p.baseline && p.action == "Pass" {
		p.action = "Deny"
	}
	return p
}

func (p clusterScalePolicy) tier() (cnp, calico string) {
	if p.baseline {
		return "Baseline", "kube-baseline"
	}
	return "Admin", "kube-admin"
}

// cnp writes the policy as a v1alpha2 ClusterNetworkPolicy.
func (p clusterScalePolicy) cnp(i int) string {
	tier, _ := p.tier()
	subject := fmt.Sprintf("    namespaces: {matchLabels: {team: %s}}\n", p.team)
	if !p.subjectNamespaces {
		subject = fmt.Sprintf("    pods:\n      namespaceSelector: {matchLabels: {env: %s}}\n      podSelector: {matchLabels: {app: %s}}\n", p.env, p.app)
	}
	return fmt.Sprintf(`apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: cnp-%d}
spec:
  tier: %s
  priority: %d
  subject:
%s  ingress:
  - name: first
    action: %s
    from: [{namespaces: {matchLabels: {env: %s}}}]
    protocols: [{tcp: {destinationPort: {number: %d}}}]
  - name: second
    action: Accept
    from: [{pods: {namespaceSelector: {matchLabels: {env: %s}}, podSelector: {matchLabels: {app: %s}}}}]
    protocols: [{tcp: {destinationPort: {range: {start: %d, end: %d}}}}, {udp: {destinationPort: {number: 53}}}]
  egress:
  - name: out
    action: Accept
    to: [{networks: [%s]}]
    protocols: [{tcp: {destinationPort: {number: 443}}}]
  - name: cut
    action: Deny
    to: [{namespaces: {matchLabels: {env: %s}}}]
`, i, tier, p.priority, subject, p.action, p.fromEnv, p.port, p.fromEnv, p.fromApp, p.rangeStart, p.rangeStart+9, p.network, p.fromEnv)
}

// gnp writes the same rules as a Calico GlobalNetworkPolicy in the tier
// the conversion puts the ClusterNetworkPolicy in.
func (p clusterScalePolicy) gnp(i int) string {
	_, tier := p.tier()
	selector, nsSelector := fmt.Sprintf("app == '%s'", p.app), fmt.Sprintf("env == '%s'", p.env)
	if p.subjectNamespaces {
		selector, nsSelector = "all()", fmt.Sprintf("team == '%s'", p.team)
	}
	action := map[string]string{"Accept": "Allow"}[p.action]
	if action == "" {
		action = p.action
	}
	return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: %s.gnp-%d}
spec:
  tier: %s
  order: %d
  selector: %s
  namespaceSelector: %s
  types: [Ingress, Egress]
  ingress:
  - action: %s
    protocol: TCP
    source: {namespaceSelector: "env == '%s'"}
    destination: {ports: [%d]}
  - action: Allow
    protocol: TCP
    source: {namespaceSelector: "env == '%s'", selector: "app == '%s'"}
    destination: {ports: ["%d:%d"]}
  - action: Allow
    protocol: UDP
    source: {namespaceSelector: "env == '%s'", selector: "app == '%s'"}
    destination: {ports: [53]}
  egress:
  - action: Allow
    protocol: TCP
    destination: {nets: [%s], ports: [443]}
  - action: Deny
    destination: {namespaceSelector: "env == '%s'"}
`, tier, i, tier, p.priority, selector, nsSelector, action, p.fromEnv, p.port, p.fromEnv, p.fromApp, p.rangeStart, p.rangeStart+9,
		p.fromEnv, p.fromApp, p.network, p.fromEnv)
}
