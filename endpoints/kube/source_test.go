package kube

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/endpoints/ovsbind"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

func pod(ns, name, node, ip string, labels map[string]string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + ns + "-" + name), Labels: labels,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
			Annotations:   map[string]string{lastApplied: strings.Repeat("x", 1000)}},
		Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: "sa",
			Containers: []corev1.Container{{Name: "c", Image: "nginx", Env: []corev1.EnvVar{{Name: "A", Value: "b"}},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {ContainerPort: 9090}}}},
			Volumes: []corev1.Volume{{Name: "v"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady}}},
	}
	if ip != "" {
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	return p
}

func gnp(name, selector string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
		"metadata": map[string]any{"name": name, "uid": "uid-" + name,
			"annotations": map[string]any{lastApplied: "{}"}},
		"spec": map[string]any{"selector": selector, "ingress": []any{map[string]any{"action": "Allow"}}},
	}}
}

var gnpGVR = schema.GroupVersionResource{Group: "projectcalico.org", Version: "v3", Resource: "globalnetworkpolicies"}

// fakeSource wires a source to fake clients holding objs and calico.
func fakeSource(t *testing.T, objs []runtime.Object, calico ...runtime.Object) (*Source, *fake.Clientset, *dynamicfake.FakeDynamicClient, *record.FakeRecorder) {
	t.Helper()
	cs := fake.NewClientset(objs...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: CalicoGroupVersion,
		APIResources: []metav1.APIResource{{Name: "globalnetworkpolicies", Kind: "GlobalNetworkPolicy"}},
	}}
	lists := map[schema.GroupVersionResource]string{}
	for _, r := range calicoResources {
		lists[r.gvr] = r.kind + "List"
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, calico...)
	rec := record.NewFakeRecorder(100)
	s := newSource(Config{NodeName: "node-1", Debounce: 10 * time.Millisecond, Rediscover: time.Hour}, cs, dyn, cs.Discovery(), rec)
	return s, cs, dyn, rec
}

// next waits for the next snapshot.
func next(t *testing.T, ch <-chan files.Snapshot) files.Snapshot {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("snapshots closed")
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot within 10s")
	}
	return files.Snapshot{}
}

// until reads snapshots until cond holds for one.
func until(t *testing.T, ch <-chan files.Snapshot, what string, cond func(files.Snapshot) bool) files.Snapshot {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-ch:
			if cond(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func refs(s files.Snapshot) map[string]decode.Object {
	out := map[string]decode.Object{}
	for _, o := range s.Objects {
		out[o.Ref()] = o
	}
	return out
}

func endpoint(t *testing.T, s files.Snapshot, ref string) *policy.Endpoint {
	t.Helper()
	o, ok := refs(s)[ref]
	if !ok {
		t.Fatalf("%s not in snapshot", ref)
	}
	return o.Value.(*policy.Endpoint)
}

// TestSourceSnapshotsAndLastGood: the first snapshot holds every object
// once the informers have synced, decoded by the file decoders (pods with
// their IPs, named ports, service account; namespaces with the name label;
// Kubernetes and Calico policy). An invalid update of a Calico policy is
// reported once as an Event naming the field, its last good version stays
// in the snapshots, and other objects keep changing; a deleted object
// leaves them.
func TestSourceSnapshotsAndLastGood(t *testing.T) {
	s, cs, dyn, rec := fakeSource(t, []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod", Labels: map[string]string{"env": "prod"}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "prod", Labels: map[string]string{"team": "db"}}},
		pod("prod", "db", "node-1", "10.0.0.1", map[string]string{"app": "db"}),
		pod("prod", "pending", "node-1", "", map[string]string{"app": "db"}),
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "np", Namespace: "prod"},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}},
	}, gnp("good", "app == 'db'"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Watch(ctx)
	snap := next(t, ch)
	got := refs(snap)
	for _, want := range []string{"Namespace prod", "ServiceAccount prod/sa", "Pod prod/db", "Pod prod/pending",
		"NetworkPolicy.networking.k8s.io prod/np", "GlobalNetworkPolicy good"} {
		if _, ok := got[want]; !ok {
			t.Errorf("first snapshot lacks %s; has %v", want, got)
		}
	}
	db := endpoint(t, snap, "Pod prod/db")
	if len(db.IPs) != 1 || db.IPs[0] != netip.MustParseAddr("10.0.0.1") || db.Node != "node-1" || db.ServiceAccount != "sa" ||
		len(db.Ports) != 1 || db.Ports[0].Name != "http" || db.Ports[0].Port != 8080 {
		t.Errorf("pod endpoint %+v", db)
	}
	if e := endpoint(t, snap, "Pod prod/pending"); len(e.IPs) != 0 {
		t.Errorf("a pod without IPs has addresses %v", e.IPs)
	}
	if ns := got["Namespace prod"].Value.(*policy.Namespace); ns.Labels["kubernetes.io/metadata.name"] != "prod" || ns.Labels["env"] != "prod" {
		t.Errorf("namespace labels %v", ns.Labels)
	}

	// Invalid update: reported, last good kept.
	bad := gnp("good", "app == ")
	if _, err := dyn.Resource(gnpGVR).Update(ctx, bad, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-rec.Events:
		if !strings.HasPrefix(e, "Warning InvalidPolicy spec.selector: ") {
			t.Errorf("event %q", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Event for the invalid policy")
	}
	// Another change still flows, with the last good policy in force.
	p := pod("prod", "db", "node-1", "10.0.0.1", map[string]string{"app": "web"})
	if _, err := cs.CoreV1().Pods("prod").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	snap = until(t, ch, "relabelled pod", func(s files.Snapshot) bool {
		o, ok := refs(s)["Pod prod/db"]
		return ok && o.Value.(*policy.Endpoint).Labels["app"] == "web"
	})
	g, ok := refs(snap)["GlobalNetworkPolicy good"]
	if !ok {
		t.Fatal("the invalid update dropped the policy's last good version")
	}
	if sel := g.Value.(*policy.Policy).AppliesTo.String(); !strings.Contains(sel, "db") {
		t.Errorf("kept version is not the last good one: %s", sel)
	}
	// The same invalid content again is not reported again.
	bad.SetLabels(map[string]string{"x": "y"})
	dyn.Resource(gnpGVR).Update(ctx, bad, metav1.UpdateOptions{})
	time.Sleep(200 * time.Millisecond)
	select {
	case e := <-rec.Events:
		t.Errorf("problem reported twice: %q", e)
	default:
	}

	// Deletion: a pod being deleted stops being an address; a deleted
	// policy leaves.
	p = pod("prod", "db", "node-1", "10.0.0.1", map[string]string{"app": "web"})
	now := metav1.Now()
	p.DeletionTimestamp = &now
	cs.CoreV1().Pods("prod").Update(ctx, p, metav1.UpdateOptions{})
	until(t, ch, "pod being deleted without addresses", func(s files.Snapshot) bool {
		o, ok := refs(s)["Pod prod/db"]
		return ok && len(o.Value.(*policy.Endpoint).IPs) == 0
	})
	dyn.Resource(gnpGVR).Delete(ctx, "good", metav1.DeleteOptions{})
	until(t, ch, "policy deleted", func(s files.Snapshot) bool { _, ok := refs(s)["GlobalNetworkPolicy good"]; return !ok })
}

// TestSourceCrossObjectProblems: a policy in a tier that does not exist is
// reported on the policy (the engine leaves it out, as for files).
func TestSourceCrossObjectProblems(t *testing.T) {
	g := gnp("tiered", "all()")
	g.Object["spec"].(map[string]any)["tier"] = "security"
	s, _, _, rec := fakeSource(t, nil, g)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	next(t, s.Watch(ctx))
	select {
	case e := <-rec.Events:
		if e != `Warning InvalidPolicy spec.tier: tier "security" does not exist` {
			t.Errorf("event %q", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Event for the missing tier")
	}
}

// TestSourceBatchesBursts: many changes within the debounce window come as
// few snapshots, the last holding all of them.
func TestSourceBatchesBursts(t *testing.T) {
	s, cs, _, _ := fakeSource(t, []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}}})
	s.cfg.Debounce = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Watch(ctx)
	next(t, ch)
	for i := 0; i < 50; i++ {
		if _, err := cs.CoreV1().Pods("a").Create(ctx, pod("a", fmt.Sprintf("p%d", i), "n", fmt.Sprintf("10.1.0.%d", i+1), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	until(t, ch, "all 50 pods", func(s files.Snapshot) bool {
		n++
		return len(s.Objects) == 51
	})
	if n > 3 {
		t.Errorf("50 pod creations in a burst gave %d snapshots", n)
	}
}

// TestSourceWithoutCalicoCRDs: a cluster that serves no projectcalico.org
// kinds is watched for the rest, and the first snapshot is not held back.
func TestSourceWithoutCalicoCRDs(t *testing.T) {
	s, cs, _, _ := fakeSource(t, []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}}})
	cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if snap := next(t, s.Watch(ctx)); len(snap.Objects) != 1 {
		t.Fatalf("snapshot %v", refs(snap))
	}
}

func TestTrimPod(t *testing.T) {
	p := pod("ns", "p", "node", "10.0.0.1", map[string]string{"a": "b"})
	tp := trimPod(p)
	if tp.Kind != "Pod" || tp.APIVersion != "v1" || len(tp.ManagedFields) != 0 || len(tp.Annotations) != 0 ||
		len(tp.Spec.Volumes) != 0 || len(tp.Status.Conditions) != 0 {
		t.Errorf("not trimmed: %+v", tp)
	}
	if len(tp.Spec.Containers) != 1 || len(tp.Spec.Containers[0].Ports) != 1 || tp.Spec.Containers[0].Ports[0].Name != "http" ||
		tp.Spec.Containers[0].Image != "" || tp.Spec.NodeName != "node" || tp.Status.PodIPs[0].IP != "10.0.0.1" || tp.Labels["a"] != "b" {
		t.Errorf("lost what policy reads: %+v", tp)
	}
	u := gnp("x", "all()")
	u.Object["metadata"].(map[string]any)["managedFields"] = []any{map[string]any{"manager": "kubectl"}}
	tu, _ := trim(u)
	md := tu.(*unstructured.Unstructured).Object["metadata"].(map[string]any)
	if _, ok := md["managedFields"]; ok {
		t.Error("managedFields kept")
	}
	if _, ok := md["annotations"]; ok {
		t.Error("last-applied annotation kept")
	}
}

// TestReporterRendezvous: with every agent seeing the same nodes, exactly
// one of them reports on each object, and the work is spread out.
func TestReporterRendezvous(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4"}
	var reps []*reporter
	for _, n := range nodes {
		r := newReporter(nil, n)
		for _, m := range nodes {
			r.setNode(m, true)
		}
		reps = append(reps, r)
	}
	count := map[string]int{}
	for i := 0; i < 400; i++ {
		uid := types.UID(fmt.Sprintf("uid-%d", i))
		k := 0
		for j, r := range reps {
			if r.responsible(uid) {
				k++
				count[nodes[j]]++
			}
		}
		if k != 1 {
			t.Fatalf("object %s: %d reporters", uid, k)
		}
	}
	for _, n := range nodes {
		if count[n] < 50 {
			t.Errorf("node %s reports %d of 400", n, count[n])
		}
	}
	if !newReporter(nil, "unknown-node").responsible("x") {
		t.Error("a node missing from the Node list must report")
	}
}

func TestHoldFlows(t *testing.T) {
	ports := []ovsbind.Port{
		{Name: "a", OFPort: 1, IfaceID: "prod/db", AttachedMAC: "02:00:00:00:00:01"},      // bound: no hold
		{Name: "b", OFPort: 2, IfaceID: "prod/new", AttachedMAC: "02:00:00:00:00:02"},     // unknown pod: held
		{Name: "c", OFPort: 3, IfaceID: "vm-uuid-1234", AttachedMAC: "02:00:00:00:00:03"}, // not a pod: left alone
		{Name: "d", OFPort: 4, IfaceID: ""},                                               // uplink: left alone
		{Name: "e", OFPort: -1, IfaceID: "prod/x"},                                        // not usable yet
		{Name: "f", OFPort: 6, IfaceID: "prod/nomac"},                                     // held without MAC
	}
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	locals := map[string]compiler.Binding{"prod/db": {OFPort: 1, MAC: mac}}
	var got []string
	for _, f := range compiler.HoldFlows(ovsbind.Held(ports, locals, IsPodPort), compiler.Options{Locals: locals, Generation: 7}) {
		got = append(got, f.String())
		if f.Cookie.Category() != compiler.CategoryHold || f.Cookie.Generation() != 7 {
			t.Errorf("cookie %#x", uint64(f.Cookie))
		}
	}
	ck := func(port uint32) compiler.Cookie { return compiler.NewCookie(7, compiler.CategoryHold, false, port) }
	want := fmt.Sprint([]string{
		compiler.Flow{Table: compiler.TableClassify.ID, Priority: 50, Match: "in_port=2", Actions: "drop", Cookie: ck(2)}.String(),
		compiler.Flow{Table: compiler.TableClassify.ID, Priority: 50, Match: "in_port=6", Actions: "drop", Cookie: ck(6)}.String(),
		compiler.Flow{Table: compiler.TableDestination.ID, Priority: 50, Match: "dl_dst=02:00:00:00:00:02", Actions: "drop", Cookie: ck(2)}.String(),
	})
	if fmt.Sprint(got) != want {
		t.Errorf("hold flows\n got %v\nwant %s", got, want)
	}
}

func TestIsPodIfaceID(t *testing.T) {
	for id, want := range map[string]bool{"prod/db": true, "x/a.b-c": true, "db": false, "Prod/db": false, "a/b/c": false, "/db": false, "ns/": false} {
		if IsPodIfaceID(id) != want {
			t.Errorf("IsPodIfaceID(%q) = %v", id, !want)
		}
	}
}
