package kube

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// The projectcalico.org/v3 CRDs in deploy/kubernetes/crds are generated
// here, so that the rule schema shared by four places (ingress and egress
// of two policy kinds) is written once and the field set follows the
// decoder's wire types (translator/decode/calico_types.go): a field the
// decoder reads must be in the schema, or the API server would prune it.
// `go test ./endpoints/kube -run TestCRDs -update` rewrites the files.

var update = flag.Bool("update", false, "rewrite deploy/kubernetes/crds from the generator")

type obj = map[string]any

func str() obj                { return obj{"type": "string"} }
func strs() obj               { return obj{"type": "array", "items": str()} }
func strPattern(p string) obj { return obj{"type": "string", "pattern": p} }
func arrayOf(items obj) obj   { return obj{"type": "array", "items": items} }
func enum(vals ...any) obj    { return obj{"type": "string", "enum": vals} }
func object(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// ipOrCIDR admits what parseCIDROrIP reads (an address or a CIDR, IPv4 or
// IPv6); the exact check is the agent's.
const ipOrCIDR = `^[0-9a-fA-F:.]+(/[0-9]{1,3})?$`

// protocol: a name in any case, or a number 1-255.
func protocol(desc string) obj {
	return obj{
		"x-kubernetes-int-or-string": true,
		"anyOf":                      []any{obj{"type": "integer"}, obj{"type": "string"}},
		"minimum":                    1,
		"maximum":                    255,
		"pattern":                    `^((?i:tcp|udp|icmp|icmpv6|sctp|udplite)|[0-9]{1,3})$`,
		"description":                desc,
	}
}

// port: a number 1-65535, "min:max", or a port name (IANA service name).
func port() obj {
	return obj{
		"x-kubernetes-int-or-string": true,
		"anyOf":                      []any{obj{"type": "integer"}, obj{"type": "string"}},
		"minimum":                    1,
		"maximum":                    65535,
		"pattern":                    `^([0-9]{1,5}(:[0-9]{1,5})?|[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?)$`,
	}
}

func icmp() obj {
	return object(obj{
		"type": obj{"type": "integer", "minimum": 0, "maximum": 254},
		"code": obj{"type": "integer", "minimum": 0, "maximum": 255},
	})
}

func entityRule() obj {
	return object(obj{
		"nets":              arrayOf(strPattern(ipOrCIDR)),
		"notNets":           arrayOf(strPattern(ipOrCIDR)),
		"selector":          str(),
		"notSelector":       str(),
		"namespaceSelector": str(),
		"ports":             arrayOf(port()),
		"notPorts":          arrayOf(port()),
		"serviceAccounts":   object(obj{"names": strs(), "selector": str()}),
		"services":          object(obj{"name": str(), "namespace": str()}),
	})
}

func rule() obj {
	return object(obj{
		"action":      enum("Allow", "Deny", "Log", "Pass"),
		"ipVersion":   obj{"type": "integer", "enum": []any{4, 6}},
		"protocol":    protocol("TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a protocol number 1-255"),
		"notProtocol": protocol("TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a protocol number 1-255"),
		"icmp":        icmp(),
		"notICMP":     icmp(),
		"source":      entityRule(),
		"destination": entityRule(),
		"http": object(obj{
			"methods": strs(),
			"paths":   arrayOf(object(obj{"exact": str(), "prefix": str()})),
		}),
		"metadata": object(obj{"annotations": obj{"type": "object", "additionalProperties": str()}}),
	}, "action")
}

func policySpec(global bool) obj {
	p := obj{
		"tier":                   str(),
		"order":                  obj{"type": "number"},
		"selector":               str(),
		"types":                  arrayOf(enum("Ingress", "Egress")),
		"ingress":                arrayOf(rule()),
		"egress":                 arrayOf(rule()),
		"serviceAccountSelector": str(),
		"performanceHints":       arrayOf(enum("AssumeNeededOnEveryNode")),
	}
	if global {
		p["namespaceSelector"] = str()
		p["doNotTrack"] = obj{"type": "boolean"}
		p["preDNAT"] = obj{"type": "boolean"}
		p["applyOnForward"] = obj{"type": "boolean"}
	}
	return object(p)
}

func endpointPort() obj {
	return object(obj{
		"name": str(),
		"protocol": obj{
			"x-kubernetes-int-or-string": true,
			"anyOf":                      []any{obj{"type": "integer"}, obj{"type": "string"}},
			"pattern":                    `^(?i:tcp|udp|sctp)$`,
		},
		"port":     obj{"type": "integer", "minimum": 1, "maximum": 65535},
		"hostPort": obj{"type": "integer", "minimum": 1, "maximum": 65535},
		"hostIP":   str(),
	}, "name", "port")
}

// stagedPolicySpec is a Calico policy spec with stagedAction, as Calico's
// StagedNetworkPolicy and StagedGlobalNetworkPolicy have it.
func stagedPolicySpec(global bool) obj {
	spec := policySpec(global)
	spec["properties"].(obj)["stagedAction"] = stagedAction()
	return spec
}

func stagedAction() obj {
	a := enum("Set", "Delete")
	a["description"] = "What committing this staged policy would do to the policy of its name: Set (the default) creates or replaces it, Delete removes it."
	return a
}

func labelSelector() obj {
	return object(obj{
		"matchLabels": obj{"type": "object", "additionalProperties": str()},
		"matchExpressions": arrayOf(object(obj{
			"key":      str(),
			"operator": enum("In", "NotIn", "Exists", "DoesNotExist"),
			"values":   strs(),
		}, "key", "operator")),
	})
}

// kubernetesPolicySpec is networking.k8s.io/v1 NetworkPolicySpec with
// stagedAction: Calico's StagedKubernetesNetworkPolicy.
func kubernetesPolicySpec() obj {
	peer := object(obj{
		"podSelector":       labelSelector(),
		"namespaceSelector": labelSelector(),
		"ipBlock":           object(obj{"cidr": strPattern(ipOrCIDR), "except": arrayOf(strPattern(ipOrCIDR))}, "cidr"),
	})
	ports := arrayOf(object(obj{
		"protocol": enum("TCP", "UDP", "SCTP"),
		"port": obj{
			"x-kubernetes-int-or-string": true,
			"anyOf":                      []any{obj{"type": "integer"}, obj{"type": "string"}},
		},
		"endPort": obj{"type": "integer", "minimum": 1, "maximum": 65535},
	}))
	return object(obj{
		"stagedAction": stagedAction(),
		"podSelector":  labelSelector(),
		"policyTypes":  arrayOf(enum("Ingress", "Egress")),
		"ingress":      arrayOf(object(obj{"from": arrayOf(peer), "ports": ports})),
		"egress":       arrayOf(object(obj{"to": arrayOf(peer), "ports": ports})),
	})
}

func stagedColumns(calico bool) []obj {
	cols := []obj{{"name": "StagedAction", "type": "string", "jsonPath": ".spec.stagedAction"}}
	if calico {
		cols = append(cols, policyColumns()...)
	} else {
		cols = append(cols, obj{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
	}
	return cols
}

type crdKind struct {
	file, plural, singular, kind string
	namespaced                   bool
	shortNames                   []string
	spec                         obj
	columns                      []obj
	doc                          string
}

func policyColumns() []obj {
	return []obj{
		{"name": "Tier", "type": "string", "jsonPath": ".spec.tier"},
		{"name": "Order", "type": "number", "jsonPath": ".spec.order"},
		{"name": "Selector", "type": "string", "jsonPath": ".spec.selector", "priority": 1},
		{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
	}
}

var crdKinds = []crdKind{
	{file: "networkpolicies.yaml", plural: "networkpolicies", singular: "networkpolicy", kind: "NetworkPolicy", namespaced: true,
		shortNames: []string{"cnp", "caliconetworkpolicy", "caliconetworkpolicies"}, spec: policySpec(false), columns: policyColumns(),
		doc: "A Calico NetworkPolicy: ordered rules for the endpoints of its namespace that its selector picks."},
	{file: "globalnetworkpolicies.yaml", plural: "globalnetworkpolicies", singular: "globalnetworkpolicy", kind: "GlobalNetworkPolicy",
		shortNames: []string{"gnp", "cgnp", "calicoglobalnetworkpolicies"}, spec: policySpec(true), columns: policyColumns(),
		doc: "A Calico GlobalNetworkPolicy: ordered rules for endpoints in any namespace, and host endpoints."},
	{file: "stagednetworkpolicies.yaml", plural: "stagednetworkpolicies", singular: "stagednetworkpolicy", kind: "StagedNetworkPolicy", namespaced: true,
		spec: stagedPolicySpec(false), columns: stagedColumns(true),
		doc: "A Calico StagedNetworkPolicy: a NetworkPolicy change that is validated and previewed (flowgate diff, verdict) but never enforced."},
	{file: "stagedglobalnetworkpolicies.yaml", plural: "stagedglobalnetworkpolicies", singular: "stagedglobalnetworkpolicy", kind: "StagedGlobalNetworkPolicy",
		spec: stagedPolicySpec(true), columns: stagedColumns(true),
		doc: "A Calico StagedGlobalNetworkPolicy: a GlobalNetworkPolicy change that is validated and previewed but never enforced."},
	{file: "stagedkubernetesnetworkpolicies.yaml", plural: "stagedkubernetesnetworkpolicies", singular: "stagedkubernetesnetworkpolicy", kind: "StagedKubernetesNetworkPolicy", namespaced: true,
		shortNames: []string{"sknp"}, spec: kubernetesPolicySpec(), columns: stagedColumns(false),
		doc: "A Calico StagedKubernetesNetworkPolicy: a Kubernetes NetworkPolicy change that is validated and previewed but never enforced."},
	{file: "tiers.yaml", plural: "tiers", singular: "tier", kind: "Tier",
		spec: object(obj{"order": obj{"type": "number"}, "defaultAction": enum("Deny", "Pass")}),
		columns: []obj{
			{"name": "Order", "type": "number", "jsonPath": ".spec.order"},
			{"name": "DefaultAction", "type": "string", "jsonPath": ".spec.defaultAction"},
			{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
		},
		doc: "A Calico Tier: a group of policies evaluated in order, ending in its default action."},
	{file: "hostendpoints.yaml", plural: "hostendpoints", singular: "hostendpoint", kind: "HostEndpoint", shortNames: []string{"hep", "heps"},
		spec: object(obj{
			"node":          str(),
			"interfaceName": str(),
			"expectedIPs":   arrayOf(strPattern(`^[0-9a-fA-F:.]+$`)),
			"profiles":      strs(),
			"ports":         arrayOf(endpointPort()),
		}),
		columns: []obj{
			{"name": "Node", "type": "string", "jsonPath": ".spec.node"},
			{"name": "Interface", "type": "string", "jsonPath": ".spec.interfaceName"},
			{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
		},
		doc: "A Calico HostEndpoint: an interface of a host, enforced on like a workload (default-deny, with failsafe ports)."},
	{file: "globalnetworksets.yaml", plural: "globalnetworksets", singular: "globalnetworkset", kind: "GlobalNetworkSet",
		spec: object(obj{"nets": arrayOf(strPattern(ipOrCIDR)), "allowedEgressDomains": strs()}),
		doc:  "A Calico GlobalNetworkSet: labelled networks that policy selectors can pick as peers."},
	{file: "networksets.yaml", plural: "networksets", singular: "networkset", kind: "NetworkSet", namespaced: true, shortNames: []string{"netsets"},
		spec: object(obj{"nets": arrayOf(strPattern(ipOrCIDR)), "allowedEgressDomains": strs()}),
		doc:  "A Calico NetworkSet: labelled networks in a namespace that policy selectors can pick as peers."},
}

func crd(k crdKind) obj {
	scope := "Cluster"
	if k.namespaced {
		scope = "Namespaced"
	}
	names := obj{"plural": k.plural, "singular": k.singular, "kind": k.kind, "listKind": k.kind + "List"}
	if len(k.shortNames) > 0 {
		names["shortNames"] = k.shortNames
	}
	version := obj{
		"name":    "v3",
		"served":  true,
		"storage": true,
		"schema": obj{"openAPIV3Schema": obj{
			"type":        "object",
			"description": k.doc,
			"properties": obj{
				"apiVersion": str(),
				"kind":       str(),
				"metadata":   obj{"type": "object"},
				"spec":       k.spec,
			},
		}},
	}
	if len(k.columns) > 0 {
		version["additionalPrinterColumns"] = k.columns
	}
	return obj{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata": obj{
			"name":   k.plural + ".projectcalico.org",
			"labels": obj{"app.kubernetes.io/part-of": "flowgate"},
		},
		"spec": obj{
			"group":    "projectcalico.org",
			"scope":    scope,
			"names":    names,
			"versions": []any{version},
		},
	}
}

const crdHeader = "# Generated by endpoints/kube/crds_test.go (go test ./endpoints/kube -run TestCRDs -update); do not edit.\n"

func TestCRDsUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "kubernetes", "crds")
	for _, k := range crdKinds {
		data, err := yaml.Marshal(crd(k))
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte(crdHeader), data...)
		path := filepath.Join(dir, k.file)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./endpoints/kube -run TestCRDs -update)", err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is not what the generator writes (run go test ./endpoints/kube -run TestCRDs -update)", path)
		}
	}
}

// TestCRDsCoverDecoderFields guards the other direction: every top-level
// spec field the decoder's wire types read is in the schema, or the API
// server would silently drop it.
func TestCRDsCoverDecoderFields(t *testing.T) {
	wants := map[string][]string{
		"NetworkPolicy":       {"tier", "order", "selector", "types", "ingress", "egress", "serviceAccountSelector", "performanceHints"},
		"GlobalNetworkPolicy": {"tier", "order", "selector", "types", "ingress", "egress", "serviceAccountSelector", "performanceHints", "namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward"},
		"Tier":                {"order", "defaultAction"},
		"HostEndpoint":        {"node", "interfaceName", "expectedIPs", "profiles", "ports"},
		"GlobalNetworkSet":    {"nets", "allowedEgressDomains"},
		"NetworkSet":          {"nets", "allowedEgressDomains"},
		"StagedNetworkPolicy": {"stagedAction", "tier", "order", "selector", "types", "ingress", "egress", "serviceAccountSelector", "performanceHints"},
		"StagedGlobalNetworkPolicy": {"stagedAction", "tier", "order", "selector", "types", "ingress", "egress", "serviceAccountSelector", "performanceHints",
			"namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward"},
		"StagedKubernetesNetworkPolicy": {"stagedAction", "podSelector", "policyTypes", "ingress", "egress"},
	}
	ruleFields := []string{"action", "ipVersion", "protocol", "notProtocol", "icmp", "notICMP", "source", "destination", "http", "metadata"}
	entityFields := []string{"nets", "notNets", "selector", "notSelector", "namespaceSelector", "ports", "notPorts", "serviceAccounts", "services"}
	for _, k := range crdKinds {
		props := k.spec["properties"].(obj)
		for _, f := range wants[k.kind] {
			if _, ok := props[f]; !ok {
				t.Errorf("%s: spec.%s missing from the CRD schema", k.kind, f)
			}
		}
		ing, ok := props["ingress"].(obj)
		if !ok || k.kind == "StagedKubernetesNetworkPolicy" {
			continue
		}
		r := ing["items"].(obj)["properties"].(obj)
		for _, f := range ruleFields {
			if _, ok := r[f]; !ok {
				t.Errorf("%s: rule field %s missing", k.kind, f)
			}
		}
		src := r["source"].(obj)["properties"].(obj)
		for _, f := range entityFields {
			if _, ok := src[f]; !ok {
				t.Errorf("%s: entity rule field %s missing", k.kind, f)
			}
		}
	}
}
