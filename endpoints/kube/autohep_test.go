package kube

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"

	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/translator/policy"
)

func node(name string, labels map[string]string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-node-" + name), Labels: labels},
		Status: corev1.NodeStatus{Addresses: addrs}}
}

// TestAutoHostEndpoints: with AutoHostEndpoints, every Node yields the
// host endpoint Calico's kube-controllers would create — "<node>-auto-hep",
// the node's labels plus Calico's created-by label, interfaceName "*",
// the InternalIP addresses (deduplicated, ExternalIP and Hostname left
// out), the default-allow profile — and it follows the Node's labels and
// addresses, and goes with it. Without the option, Nodes yield nothing.
func TestAutoHostEndpoints(t *testing.T) {
	objs := []runtime.Object{
		node("node-1", map[string]string{"role": "worker"},
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.10"},
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::10"},
			corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.10"},
			corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.10"},
			corev1.NodeAddress{Type: corev1.NodeHostName, Address: "node-1"}),
		node("node-2", nil),
	}
	s, cs, _, _ := fakeSource(t, objs)
	s.cfg.AutoHostEndpoints = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Watch(ctx)
	snap := next(t, ch)
	hep := endpoint(t, snap, "HostEndpoint node-1-auto-hep")
	if hep.Kind != policy.HostEndpoint || hep.InterfaceName != "*" || hep.Node != "node-1" ||
		!slices.Equal(hep.Profiles, []string{policy.DefaultAllowProfile}) ||
		hep.Labels["role"] != "worker" || hep.Labels[CreatedByLabel] != CreatedByValue || len(hep.Labels) != 2 ||
		!slices.Equal(hep.IPs, []netip.Addr{netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("fd00::10")}) {
		t.Errorf("node-1's automatic host endpoint: %+v", hep)
	}
	if h2 := endpoint(t, snap, "HostEndpoint node-2-auto-hep"); len(h2.IPs) != 0 || h2.Node != "node-2" {
		t.Errorf("node-2 (no addresses): %+v", h2)
	}

	n1 := node("node-1", map[string]string{"role": "db"}, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.11"})
	if _, err := cs.CoreV1().Nodes().Update(ctx, n1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	until(t, ch, "relabelled node", func(s files.Snapshot) bool {
		o, ok := refs(s)["HostEndpoint node-1-auto-hep"]
		if !ok {
			return false
		}
		e := o.Value.(*policy.Endpoint)
		return e.Labels["role"] == "db" && len(e.IPs) == 1 && e.IPs[0] == netip.MustParseAddr("192.168.1.11")
	})
	if err := cs.CoreV1().Nodes().Delete(ctx, "node-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	until(t, ch, "deleted node", func(s files.Snapshot) bool {
		_, ok := refs(s)["HostEndpoint node-2-auto-hep"]
		return !ok
	})

	// A HostEndpoint object of the same name replaces the generated one
	// (no duplicate), and the generated one is back when it goes.
	explicit := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
		"metadata": map[string]any{"name": "node-1-auto-hep", "uid": "uid-hep", "labels": map[string]any{"written": "by-hand"}},
		"spec":     map[string]any{"node": "node-1", "interfaceName": "eth0"},
	}}
	s2, cs2, dyn2, _ := fakeSource(t, objs, explicit)
	cs2.Discovery().(*fakediscovery.FakeDiscovery).Resources[0].APIResources = append(
		cs2.Discovery().(*fakediscovery.FakeDiscovery).Resources[0].APIResources, metav1.APIResource{Name: "hostendpoints", Kind: "HostEndpoint"})
	s2.cfg.AutoHostEndpoints = true
	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	ch2 := s2.Watch(ctx3)
	snap = next(t, ch2)
	n := 0
	for _, o := range snap.Objects {
		if o.Ref() == "HostEndpoint node-1-auto-hep" {
			n++
			if e := o.Value.(*policy.Endpoint); e.Labels["written"] != "by-hand" {
				t.Errorf("the generated host endpoint won over the object: %+v", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d host endpoints named node-1-auto-hep, want 1", n)
	}
	if err := dyn2.Resource(schema.GroupVersionResource{Group: "projectcalico.org", Version: "v3", Resource: "hostendpoints"}).Delete(ctx3, "node-1-auto-hep", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	until(t, ch2, "the generated host endpoint back", func(s files.Snapshot) bool {
		o, ok := refs(s)["HostEndpoint node-1-auto-hep"]
		return ok && o.Value.(*policy.Endpoint).InterfaceName == "*"
	})

	off, _, _, _ := fakeSource(t, objs)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	for ref := range refs(next(t, off.Watch(ctx2))) {
		if ref == "HostEndpoint node-1-auto-hep" || ref == "HostEndpoint node-2-auto-hep" {
			t.Errorf("automatic host endpoints off, yet %s", ref)
		}
	}
}
