// Package evaltest holds test data that several test suites share: the
// Kubernetes network-policy truth-table scenarios modelled on the upstream
// e2e suite (test/e2e/network/netpol), the model of namespaces and pods they
// run against, and a generator of large synthetic worlds for benchmarks.
//
// The scenarios are plain data — policy YAML plus the expected reachability
// for every protocol and port — so that the reference evaluator's tests and
// tests of the compiled flows against a real Open vSwitch can check the
// same tables.
package evaltest

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// Namespaces are the scenario namespaces, as upstream names them. Each is
// labelled ns: <name> (and kubernetes.io/metadata.name: <name>, which the
// API server adds).
var Namespaces = []string{"x", "y", "z"}

// PodNames are the pods in every namespace. Each is labelled pod: <name>.
var PodNames = []string{"a", "b", "c"}

// Ports are the ports every pod serves, for every protocol in Protocols.
var Ports = []uint16{80, 81}

// Protocols are the protocols every pod serves on every port in Ports.
var Protocols = []policy.Protocol{policy.TCP, policy.UDP, policy.SCTP}

// Pod is one scenario pod.
type Pod struct {
	// Namespace and Name identify the pod.
	Namespace, Name string
	// IP is the pod's address: 10.0.<namespace index+1>.<pod index+1>, so
	// namespace x is 10.0.1.0/24, y 10.0.2.0/24 and z 10.0.3.0/24.
	IP netip.Addr
}

// String returns "namespace/name", the pod's endpoint ID.
func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// Pods returns the nine scenario pods in a fixed order: x/a, x/b, ..., z/c.
func Pods() []Pod {
	var out []Pod
	for i, ns := range Namespaces {
		for j, name := range PodNames {
			out = append(out, Pod{Namespace: ns, Name: name, IP: netip.AddrFrom4([4]byte{10, 0, byte(i + 1), byte(j + 1)})})
		}
	}
	return out
}

// PortName is the name upstream gives a pod's container port, e.g.
// "serve-80-tcp".
func PortName(proto policy.Protocol, port uint16) string {
	return fmt.Sprintf("serve-%d-%s", port, proto)
}

// Service is one protocol and destination port that is probed.
type Service struct {
	// Protocol is TCP, UDP or SCTP.
	Protocol policy.Protocol
	// Port is the destination port.
	Port uint16
}

// String prints "tcp/80".
func (s Service) String() string { return fmt.Sprintf("%s/%d", s.Protocol, s.Port) }

// Services returns every probed service: each protocol on each port.
func Services() []Service {
	var out []Service
	for _, proto := range Protocols {
		for _, port := range Ports {
			out = append(out, Service{Protocol: proto, Port: port})
		}
	}
	return out
}

// WorldYAML returns the namespaces and pods every scenario runs against, as
// Kubernetes objects: each pod has one container per port and protocol,
// with a container port named as PortName names it, as upstream does.
func WorldYAML() string {
	var b strings.Builder
	for _, ns := range Namespaces {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %q\n  labels:\n    ns: %q\n", ns, ns)
	}
	for _, p := range Pods() {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %q\n  labels:\n    pod: %s\nspec:\n  containers:\n", p.Name, p.Namespace, p.Name)
		for _, proto := range Protocols {
			for _, port := range Ports {
				name := PortName(proto, port)
				fmt.Fprintf(&b, "  - name: cont-%s\n    image: registry.k8s.io/e2e-test-images/agnhost:2.53\n    ports:\n    - name: %s\n      containerPort: %d\n      protocol: %s\n",
					strings.TrimPrefix(name, "serve-"), name, port, strings.ToUpper(proto.String()))
			}
		}
		fmt.Fprintf(&b, "status:\n  phase: Running\n  podIP: %s\n  podIPs:\n  - ip: %s\n", p.IP, p.IP)
	}
	return b.String()
}

// BuildWorld decodes YAML (as from Scenario.YAML) into a world, failing on
// the first problem: scenario data must be valid.
func BuildWorld(name, yaml string) (*policy.World, error) {
	objs, errs := decode.Decode(name, []byte(yaml))
	w, berrs := decode.Build(objs)
	if errs = append(errs, berrs...); len(errs) > 0 {
		return nil, errs[0]
	}
	return w, nil
}
