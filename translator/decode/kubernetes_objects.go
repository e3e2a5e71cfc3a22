package decode

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/flowgate/flowgate/translator/policy"
)

// namespaceNameLabel is the label the API server puts on every namespace;
// flowgate adds it when a file omits it, so file worlds select like clusters.
const namespaceNameLabel = "kubernetes.io/metadata.name"

func decodeNamespace(js []byte, _ string) (any, bool, problems) {
	var in corev1.Namespace
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	if err := validDNSLabel(in.Name); err != nil {
		probs.addErr("metadata.name", err)
	}
	checkLabels(&probs, "metadata.labels", in.Labels)
	labels := make(map[string]string, len(in.Labels)+1)
	for k, v := range in.Labels {
		labels[k] = v
	}
	if _, ok := labels[namespaceNameLabel]; !ok {
		labels[namespaceNameLabel] = in.Name
	}
	return &policy.Namespace{Name: in.Name, Labels: labels}, false, probs
}

func decodeServiceAccount(js []byte, ns string) (any, bool, problems) {
	var in corev1.ServiceAccount
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	return &policy.ServiceAccount{Namespace: ns, Name: in.Name, Labels: in.Labels}, false, probs
}

// decodePod turns a pod into an endpoint. Host-network pods and finished
// pods are valid but are no endpoints (Calico ignores them too); a pod
// being deleted keeps its identity but no longer owns its addresses.
func decodePod(js []byte, ns string) (any, bool, problems) {
	var in corev1.Pod
	probs := strictDecode(js, &in)
	if len(probs) > 0 {
		return nil, false, probs
	}
	checkName(&probs, "metadata.name", in.Name)
	checkLabels(&probs, "metadata.labels", in.Labels)
	if in.Spec.HostNetwork || in.Status.Phase == corev1.PodSucceeded || in.Status.Phase == corev1.PodFailed {
		return nil, true, probs
	}
	e := &policy.Endpoint{
		Kind:           policy.PodEndpoint,
		Namespace:      ns,
		Name:           in.Name,
		Labels:         in.Labels,
		ServiceAccount: in.Spec.ServiceAccountName,
		Orchestrator:   policy.OrchestratorKubernetes,
		Node:           in.Spec.NodeName,
	}
	if e.ServiceAccount == "" {
		e.ServiceAccount = in.Spec.DeprecatedServiceAccount
	}
	if in.DeletionTimestamp == nil {
		e.IPs = podIPs(&probs, &in.Status)
	}
	for i, c := range in.Spec.Containers {
		for j, p := range c.Ports {
			if p.Name == "" {
				continue
			}
			f := fmt.Sprintf("spec.containers[%d].ports[%d]", i, j)
			np, ok := namedPort(&probs, f, "containerPort", p.Name, string(p.Protocol), int(p.ContainerPort))
			if ok {
				e.Ports = append(e.Ports, np)
			}
		}
	}
	return e, false, probs
}

func podIPs(probs *problems, st *corev1.PodStatus) []netip.Addr {
	var ips []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(field, s string) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			probs.add(field, "invalid IP %q", s)
			return
		}
		a = a.Unmap()
		if !seen[a] {
			seen[a] = true
			ips = append(ips, a)
		}
	}
	for i, p := range st.PodIPs {
		add(fmt.Sprintf("status.podIPs[%d].ip", i), p.IP)
	}
	if st.PodIP != "" {
		add("status.podIP", st.PodIP)
	}
	return ips
}

// namedPort validates a named port; an empty protocol means TCP. portKey
// is what the object calls the number ("port", "containerPort").
func namedPort(probs *problems, field, portKey, name, proto string, port int) (policy.NamedPort, bool) {
	ok := true
	if err := policy.ValidPortName(name); err != nil {
		probs.addErr(field+".name", err)
		ok = false
	}
	p := policy.TCP
	if proto != "" {
		var err error
		if p, err = policy.ParseProtocol(proto); err != nil || !p.HasPorts() {
			probs.add(field+".protocol", "named ports need TCP, UDP or SCTP, not %q", proto)
			ok = false
		}
	}
	n, err := policy.PortNumber(port)
	if err != nil {
		probs.addErr(field+"."+portKey, err)
		ok = false
	}
	return policy.NamedPort{Name: name, Protocol: uint8(p), Port: n}, ok
}
