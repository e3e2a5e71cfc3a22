package decode_test

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestKubectlList: what `kubectl get ns,pods,networkpolicies -A -o yaml`
// prints — a kind: List with managedFields, status, ownerReferences,
// probes and the rest — decodes with no errors. Host-network and finished
// pods are valid but are no endpoints.
func TestKubectlList(t *testing.T) {
	const file = "testdata/kubectl-get-ns-pods-netpol.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := decode.Decode(file, data)
	for _, e := range errs {
		t.Error(e)
	}
	w, berrs := decode.Build(objs)
	for _, e := range berrs {
		t.Error(e)
	}
	var refs []string
	for _, o := range objs {
		refs = append(refs, o.Ref())
		if o.Origin.File != file || o.Origin.Line != 1 {
			t.Errorf("%s: origin %v, want %s:1", o.Ref(), o.Origin, file)
		}
	}
	want := []string{
		"Namespace default", "Namespace prod", "Namespace kube-system",
		"Pod prod/backend-6d4cf56db6-x7k2p", "Pod prod/database-0",
		"NetworkPolicy.networking.k8s.io prod/database-allow-backends",
		"NetworkPolicy.networking.k8s.io prod/default-deny-egress",
	}
	if !slices.Equal(refs, want) {
		t.Errorf("objects:\n  %s\nwant:\n  %s", strings.Join(refs, "\n  "), strings.Join(want, "\n  "))
	}
	if got := w.Namespaces["prod"].Labels["env"]; got != "prod" {
		t.Errorf("namespace prod env label = %q", got)
	}
	var backend *policy.Endpoint
	for _, e := range w.Endpoints {
		if e.Name == "backend-6d4cf56db6-x7k2p" {
			backend = e
		}
	}
	if backend == nil {
		t.Fatal("no backend endpoint")
	}
	wantIPs := []netip.Addr{netip.MustParseAddr("10.244.1.17"), netip.MustParseAddr("fd00:10:244:1::11")}
	if !slices.Equal(backend.IPs, wantIPs) {
		t.Errorf("backend IPs %v, want %v", backend.IPs, wantIPs)
	}
	wantPorts := []policy.NamedPort{{Name: "http", Protocol: 6, Port: 8080}, {Name: "metrics", Protocol: 6, Port: 9090}}
	if !slices.Equal(backend.Ports, wantPorts) {
		t.Errorf("backend ports %v, want %v", backend.Ports, wantPorts)
	}
	if backend.ServiceAccount != "backend" || backend.Node != "worker-1" || backend.Kind != policy.PodEndpoint || backend.Labels["app"] != "backend" {
		t.Errorf("backend = %+v", backend)
	}
	for _, p := range w.Policies {
		if p.Name == "knp.default.default-deny-egress" {
			if p.Types != policy.Egress || len(p.Egress) != 3 {
				t.Errorf("default-deny-egress: types %v, %d egress rules, want egress and 3 (DNS UDP, DNS TCP, range)", p.Types, len(p.Egress))
			}
			r := p.Egress[2]
			if len(r.Destination.Ports) != 1 || r.Destination.Ports[0].String() != "32000:32768" || len(r.Destination.NotNets) != 1 {
				t.Errorf("range rule: ports %v not-nets %v", r.Destination.Ports, r.Destination.NotNets)
			}
		}
	}
}

// TestListItemErrors: a bad item of a List is reported as that item and
// does not hide the others.
func TestListItemErrors(t *testing.T) {
	list := `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: good
- apiVersion: v1
  kind: Pod
  metadata:
    name: bad
    namespace: good
  spec:
    containerz: []
- apiVersion: v1
  kind: NamespaceList
  items:
  - apiVersion: v1
    kind: Namespace
    metadata:
      name: nested
`
	objs, errs := decode.Decode("list.yaml", []byte(list))
	if len(objs) != 2 || objs[0].Name != "good" || objs[1].Name != "nested" {
		t.Errorf("objects %v, want good and nested", objs)
	}
	if len(errs) != 1 {
		t.Fatalf("errors %v, want 1", errs)
	}
	e := errs[0].(*decode.Error)
	if e.Object != "List item 1: Pod good/bad" || e.Field != "spec.containerz" || e.Line != 1 {
		t.Errorf("error = %q (object %q field %q)", e, e.Object, e.Field)
	}
}
