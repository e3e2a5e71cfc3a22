package evaluator_test

import (
	"net/netip"
	"testing"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// scopingWorld has pods in two namespaces with service accounts, a host
// endpoint and a global network set, and policies on prod/db whose rules
// each admit one TCP port from one kind of source.
const scopingWorld = `
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {team: b}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web-sa, namespace: prod, labels: {tier: front}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web-sa, namespace: dev}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {serviceAccountName: web-sa}
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: prod, labels: {app: other}}
status: {podIP: 10.0.1.3}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: dev, labels: {app: web}}
spec: {serviceAccountName: web-sa}
status: {podIP: 10.0.2.2}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: dev, labels: {app: other}}
status: {podIP: 10.0.2.3}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {app: web}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.0.1]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: corp, labels: {net: corp}}
spec: {nets: [172.16.0.0/12]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: scoped, namespace: prod}
spec:
  order: 1
  selector: app == 'db'
  ingress:
  - {action: Allow, protocol: TCP, source: {selector: "app == 'web'"}, destination: {ports: [1001]}}
  - {action: Allow, protocol: TCP, source: {notSelector: "app == 'web'"}, destination: {ports: [1002]}}
  - {action: Allow, protocol: TCP, source: {namespaceSelector: "global()"}, destination: {ports: [1003]}}
  - {action: Allow, protocol: TCP, source: {serviceAccounts: {names: [web-sa]}}, destination: {ports: [1004]}}
  - {action: Allow, protocol: TCP, source: {serviceAccounts: {selector: "tier == 'front'"}}, destination: {ports: [1005]}}
  - {action: Allow, protocol: TCP, source: {namespaceSelector: "team == 'b'"}, destination: {ports: [1006]}}
  - {action: Allow, protocol: TCP, source: {nets: [203.0.113.0/24]}, destination: {ports: [1007]}}
  - {action: Allow, protocol: TCP, source: {selector: "net == 'corp'"}, destination: {ports: [1008]}}
  - {action: Allow, protocol: TCP, source: {namespaceSelector: "all()"}, destination: {ports: [1009]}}
  - {action: Allow, protocol: TCP, source: {namespaceSelector: "all()", notSelector: "app == 'web'"}, destination: {ports: [1010]}}
  - {action: Allow, protocol: TCP, source: {notNets: [10.0.0.0/8], notSelector: "net == 'corp'"}, destination: {ports: [1011]}}
  - {action: Pass, protocol: TCP, destination: {ports: [3000]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: unscoped}
spec:
  order: 2
  selector: app == 'db'
  ingress:
  - {action: Allow, protocol: TCP, source: {selector: "net == 'corp'"}, destination: {ports: [2001]}}
  - {action: Allow, protocol: TCP, source: {selector: "app == 'web'"}, destination: {ports: [2002]}}
  - {action: Allow, protocol: TCP, source: {serviceAccounts: {names: [web-sa]}}, destination: {ports: [2003]}}
`

// TestCalicoRuleScoping checks, through verdicts, how Calico scopes rule
// selectors: to the policy's namespace in a namespaced policy unless a
// namespaceSelector is given; all() meaning namespaced entities and
// global() the others; service accounts by name and by their labels;
// notSelector and nets never scoped; nothing scoped in a global policy.
func TestCalicoRuleScoping(t *testing.T) {
	w, err := evaltest.BuildWorld("scoping.yaml", scopingWorld)
	if err != nil {
		t.Fatal(err)
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	db := ev.Endpoint("prod/db")
	sources := map[string]string{
		"prod/web": "10.0.1.2", "prod/other": "10.0.1.3", "dev/web": "10.0.2.2", "dev/other": "10.0.2.3",
		"host": "192.168.0.1", "corp": "172.16.1.1", "internet": "203.0.113.5",
	}
	// allowed[port] lists the sources admitted on that port; every other
	// source must be denied there.
	allowed := map[uint16][]string{
		1001: {"prod/web"},
		1002: {"prod/other"},
		1003: {"host", "corp"},
		1004: {"prod/web"},
		1005: {"prod/web"},
		1006: {"dev/web", "dev/other"},
		1007: {"internet"},
		1008: {},
		1009: {"prod/web", "prod/other", "dev/web", "dev/other"},
		// The notSelector is not scoped: web pods of every namespace are
		// excluded, not only prod's.
		1010: {"prod/other", "dev/other"},
		// A notSelector alone still confines the rule to the policy's
		// namespace (as libcalico-go does), so no outside address matches
		// even though none of them is corp or in 10.0.0.0/8.
		1011: {},
		2001: {"corp"},
		2002: {"prod/web", "dev/web", "host"},
		2003: {"prod/web", "dev/web"},
		3000: {}, // Pass: on to the next tier, which has no policy; pods default to allow
	}
	for port, who := range allowed {
		for name, addr := range sources {
			want := port == 3000
			for _, w := range who {
				want = want || w == name
			}
			pkt := evaluator.Packet{Src: netip.MustParseAddr(addr), Dst: netip.MustParseAddr("10.0.1.1"), Protocol: policy.TCP, SrcPort: evaluator.SourcePort, DstPort: port}
			d := ev.Decide(db, policy.Ingress, pkt)
			if d.Allowed != want {
				t.Errorf("%s -> prod/db tcp/%d: allowed %v, want %v (%s)", name, port, d.Allowed, want, d.Reason)
			}
		}
	}
}

// TestMixedKubernetesAndCalico: a Kubernetes NetworkPolicy is a Calico
// policy of order 1000 in the default tier, so Calico policies with a lower
// order run before it and policies without an order after it.
func TestMixedKubernetesAndCalico(t *testing.T) {
	w, err := evaltest.BuildWorld("mixed.yaml", `
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: prod, labels: {app: batch}}
status: {podIP: 10.0.1.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-to-db, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: no-ssh, namespace: prod}
spec:
  order: 500
  selector: app == 'db'
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: [22]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: catch-all}
spec:
  selector: app == 'db'
  ingress:
  - {action: Allow, protocol: TCP, destination: {ports: [9090]}}
  - {action: Deny}
`)
	if err != nil {
		t.Fatal(err)
	}
	ev := evaluator.New(w, evaluator.DefaultOptions())
	checkProbes(t, ev, []probe{
		{"prod/web", "prod/db", tcp, 5432, true, defAllow, "default/prod/knp.default.web-to-db ingress[0] Allow"},
		{"prod/web", "prod/db", tcp, 22, false, defAllow, "default/prod/no-ssh ingress[0] Deny"},
		{"prod/batch", "prod/db", tcp, 9090, true, defAllow, "default/catch-all ingress[0] Allow"},
		{"prod/batch", "prod/db", tcp, 5432, false, defAllow, "default/catch-all ingress[1] Deny"},
	})
}
