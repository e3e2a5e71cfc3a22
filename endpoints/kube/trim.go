package kube

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// lastApplied is the annotation kubectl apply stores a whole copy of the
// object in; policy never reads it, and it doubles an object's size.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// trim is the informers' transform: it runs before an object enters the
// cache and keeps only what the decoders read, with apiVersion and kind set
// (typed informers deliver objects without them, and the decoders dispatch
// on them). Everything dropped here is memory not held at 50,000 pods.
// Objects it does not know (tombstones) pass through untouched.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return trimPod(o), nil
	case *corev1.Namespace:
		return &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: trimMeta(&o.ObjectMeta),
		}, nil
	case *corev1.ServiceAccount:
		return &corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: trimMeta(&o.ObjectMeta),
		}, nil
	case *networkingv1.NetworkPolicy:
		return &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: trimMeta(&o.ObjectMeta),
			Spec:       o.Spec,
		}, nil
	case *corev1.Node:
		// Labels and InternalIP addresses make the automatic host endpoint.
		n := &corev1.Node{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion, Labels: o.Labels},
		}
		for _, a := range o.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				n.Status.Addresses = append(n.Status.Addresses, a)
			}
		}
		return n, nil
	case *unstructured.Unstructured:
		unstructured.RemoveNestedField(o.Object, "metadata", "managedFields")
		unstructured.RemoveNestedField(o.Object, "metadata", "annotations", lastApplied)
		if a, ok, _ := unstructured.NestedMap(o.Object, "metadata", "annotations"); ok && len(a) == 0 {
			unstructured.RemoveNestedField(o.Object, "metadata", "annotations")
		}
		return o, nil
	}
	return obj, nil
}

// trimMeta keeps identity, labels and the deletion mark; annotations other
// than kubectl's copy are kept because a Calico object may carry them.
func trimMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               m.UID,
		ResourceVersion:   m.ResourceVersion,
		Generation:        m.Generation,
		Labels:            m.Labels,
		DeletionTimestamp: m.DeletionTimestamp,
	}
	for k, v := range m.Annotations {
		if k == lastApplied {
			continue
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[k] = v
	}
	return out
}

// trimPod keeps a pod's labels, node, service account, host networking,
// named container ports, phase and IPs: what decode turns into an endpoint.
func trimPod(p *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              p.Name,
			Namespace:         p.Namespace,
			UID:               p.UID,
			ResourceVersion:   p.ResourceVersion,
			Labels:            p.Labels,
			DeletionTimestamp: p.DeletionTimestamp,
		},
		Spec: corev1.PodSpec{
			NodeName:                 p.Spec.NodeName,
			ServiceAccountName:       p.Spec.ServiceAccountName,
			DeprecatedServiceAccount: p.Spec.DeprecatedServiceAccount,
			HostNetwork:              p.Spec.HostNetwork,
		},
		Status: corev1.PodStatus{
			Phase:  p.Status.Phase,
			PodIP:  p.Status.PodIP,
			PodIPs: p.Status.PodIPs,
		},
	}
	for _, c := range p.Spec.Containers {
		tc := corev1.Container{Name: c.Name}
		for _, port := range c.Ports {
			if port.Name != "" {
				tc.Ports = append(tc.Ports, corev1.ContainerPort{Name: port.Name, ContainerPort: port.ContainerPort, Protocol: port.Protocol})
			}
		}
		if len(tc.Ports) > 0 {
			out.Spec.Containers = append(out.Spec.Containers, tc)
		}
	}
	return out
}
