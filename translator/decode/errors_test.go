package decode_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
)

// decodeAll decodes files (name, content pairs, in order) and builds the
// world, returning every object and every error.
func decodeAll(t *testing.T, files ...string) ([]decode.Object, []*decode.Error) {
	t.Helper()
	var objs []decode.Object
	var errs []error
	for i := 0; i < len(files); i += 2 {
		o, e := decode.Decode(files[i], []byte(files[i+1]))
		objs = append(objs, o...)
		errs = append(errs, e...)
	}
	_, berrs := decode.Build(objs)
	var out []*decode.Error
	for _, err := range append(errs, berrs...) {
		var de *decode.Error
		if !errors.As(err, &de) {
			t.Fatalf("error %v is a %T, want *decode.Error", err, err)
		}
		out = append(out, de)
	}
	return objs, out
}

const calicoHeader = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: p
  namespace: prod
`

const k8sHeader = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: k
  namespace: prod
`

// wepHeader starts a WorkloadEndpoint as `flowgate import openstack` writes
// one, metadata open.
const wepHeader = "apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata:\n  name: p\n  namespace: openstack\n"

const (
	calicoRef = "NetworkPolicy prod/p"
	k8sRef    = "NetworkPolicy.networking.k8s.io prod/k"
)

// badInputs are documents that must each be rejected with one error naming
// object and field; FuzzDecode starts from them too.
var badInputs = []struct {
	name   string
	yaml   string
	object string
	field  string
	msg    string // a substring of the problem
}{
	{"unknown top-level field", calicoHeader + "spec: {}\nstatus: {}\n", calicoRef, "status", "unknown field"},
	{"unknown spec field", calicoHeader + "spec:\n  selectr: all()\n", calicoRef, "spec.selectr", "unknown field"},
	{"unknown rule field", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    sourc: {}\n", calicoRef, "spec.ingress[0].sourc", "unknown field"},
	{"unknown entity field", calicoHeader + "spec:\n  egress:\n  - action: Allow\n  - action: Allow\n    destination:\n      portz: [80]\n", calicoRef, "spec.egress[1].destination.portz", "unknown field"},
	{"unknown Kubernetes peer field", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - podSelectr: {}\n", k8sRef, "spec.ingress[0].from[0].podSelectr", "unknown field"},
	{"unknown metadata field", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labelz: {}\n", "Namespace prod", "metadata.labelz", "unknown field"},
	{"duplicate YAML key", calicoHeader + "spec:\n  selector: a == 'b'\n  selector: a == 'c'\n", calicoRef, "", `line 8: key "selector" already set`},

	{"bad policy selector", calicoHeader + "spec:\n  selector: \"a == \"\n", calicoRef, "spec.selector", "column 6"},
	{"bad rule selector", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    source:\n      selector: has(\n", calicoRef, "spec.ingress[0].source.selector", "column 5"},
	{"bad namespaceSelector", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    source:\n      namespaceSelector: x in {\n", calicoRef, "spec.ingress[0].source.namespaceSelector", "column 7"},
	{"bad notSelector", calicoHeader + "spec:\n  egress:\n  - action: Deny\n    destination:\n      notSelector: '!!'\n", calicoRef, "spec.egress[0].destination.notSelector", "column 3"},
	{"bad serviceAccounts selector", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    source:\n      serviceAccounts:\n        selector: a ==\n", calicoRef, "spec.ingress[0].source.serviceAccounts.selector", "column 5"},
	{"bad Kubernetes selector operator", k8sHeader + "spec:\n  podSelector:\n    matchExpressions:\n    - key: app\n      operator: Equals\n      values: [x]\n", k8sRef, "spec.podSelector", "unknown operator"},
	{"bad Kubernetes label key", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n          'bad key!': x\n", k8sRef, "spec.ingress[0].from[0].podSelector", "bad key!"},

	{"bad CIDR prefix length", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    source:\n      nets: [10.0.0.0/8, 10.0.0.0/33]\n", calicoRef, "spec.ingress[0].source.nets[1]", `invalid CIDR "10.0.0.0/33"`},
	{"bad IP in nets", calicoHeader + "spec:\n  egress:\n  - action: Allow\n    destination:\n      notNets: [300.1.1.1]\n", calicoRef, "spec.egress[0].destination.notNets[0]", `"300.1.1.1"`},
	{"nets of the wrong IP version", calicoHeader + "spec:\n  egress:\n  - action: Allow\n    ipVersion: 6\n    destination:\n      nets: [10.0.0.0/8]\n", calicoRef, "spec.egress[0].destination.nets[0]", "not an IPv6 network"},
	{"ipBlock without a prefix length", k8sHeader + "spec:\n  podSelector: {}\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 10.0.0.1\n", k8sRef, "spec.egress[0].to[0].ipBlock.cidr", "prefix length is required"},
	{"ipBlock except outside the cidr", k8sHeader + "spec:\n  podSelector: {}\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 10.0.0.0/16\n        except: [10.0.1.0/24, 10.1.0.0/24]\n", k8sRef, "spec.egress[0].to[0].ipBlock.except[1]", "strictly inside"},

	{"Calico port 0", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80, 0]\n", calicoRef, "spec.ingress[0].destination.ports[1]", "port 0 out of range 1-65535"},
	{"Calico port 70000", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: UDP\n    source:\n      ports: [70000]\n", calicoRef, "spec.ingress[0].source.ports[0]", "port 70000 out of range"},
	{"Calico port range upside down", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: ['90:80']\n", calicoRef, "spec.ingress[0].destination.ports[0]", "min above max"},
	{"Calico port neither number nor string", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80, {a: 1}]\n", calicoRef, "spec.ingress[0].destination.ports[1]", `want a whole number or a string, got {"a":1}`},
	{"Calico fractional port", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80.5]\n", calicoRef, "spec.ingress[0].destination.ports[0]", "got 80.5"},
	{"Calico ports without a protocol", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    destination:\n      ports: [80]\n", calicoRef, "spec.ingress[0].destination.ports", "ports need protocol"},
	{"Calico bad port name", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      notPorts: [Bad_Name]\n", calicoRef, "spec.ingress[0].destination.notPorts[0]", "lower-case"},
	{"Kubernetes port 0", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 0\n", k8sRef, "spec.ingress[0].ports[0].port", "port 0 out of range"},
	{"Kubernetes port 70000", k8sHeader + "spec:\n  podSelector: {}\n  egress:\n  - ports:\n    - port: 80\n    - port: 70000\n", k8sRef, "spec.egress[0].ports[1].port", "port 70000 out of range"},
	{"endPort below port", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 8080\n      endPort: 8000\n", k8sRef, "spec.ingress[0].ports[0].endPort", "endPort 8000 is below port 8080"},
	{"endPort 70000", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 8080\n      endPort: 70000\n", k8sRef, "spec.ingress[0].ports[0].endPort", "out of range"},
	{"endPort with a named port", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: http\n      endPort: 90\n", k8sRef, "spec.ingress[0].ports[0].endPort", "named port"},
	{"endPort without port", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - endPort: 90\n", k8sRef, "spec.ingress[0].ports[0].endPort", "needs port"},
	{"Kubernetes port of the wrong type", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: 80\n    - port: [81]\n", k8sRef, "spec.ingress[0].ports[1].port", "got a list"},

	{"unknown Calico protocol", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: TPC\n", calicoRef, "spec.ingress[0].protocol", `unknown protocol "TPC"`},
	{"Calico protocol 256", calicoHeader + "spec:\n  egress:\n  - action: Allow\n    notProtocol: 256\n", calicoRef, "spec.egress[0].notProtocol", "out of range 1-255"},
	{"unknown Kubernetes protocol", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - protocol: ICMP\n      port: 1\n", k8sRef, "spec.ingress[0].ports[0].protocol", `unknown protocol "ICMP"`},
	{"ICMP code without type", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp:\n      code: 3\n", calicoRef, "spec.ingress[0].icmp.code", "needs a type"},
	{"ICMP match on TCP", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    icmp:\n      type: 8\n", calicoRef, "spec.ingress[0].icmp", "needs protocol ICMP"},
	{"ICMP type 255", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    protocol: ICMP\n    notICMP:\n      type: 255\n", calicoRef, "spec.ingress[0].notICMP.type", "0-254"},

	{"unknown action", calicoHeader + "spec:\n  ingress:\n  - action: Accept\n", calicoRef, "spec.ingress[0].action", `unknown action "Accept"`},
	{"missing action", calicoHeader + "spec:\n  egress:\n  - protocol: TCP\n", calicoRef, "spec.egress[0].action", "required"},
	{"unknown type", calicoHeader + "spec:\n  types: [Ingress, Sideways]\n", calicoRef, "spec.types[1]", `unknown type "Sideways"`},
	{"unknown Kubernetes policy type", k8sHeader + "spec:\n  podSelector: {}\n  policyTypes: [Ingress, Both]\n", k8sRef, "spec.policyTypes[1]", `unknown policy type "Both"`},
	{"namespaceSelector on a namespaced policy", calicoHeader + "spec:\n  namespaceSelector: all()\n", calicoRef, "spec.namespaceSelector", "only a GlobalNetworkPolicy"},
	{"HTTP match", calicoHeader + "spec:\n  ingress:\n  - action: Allow\n    http:\n      methods: [GET]\n", calicoRef, "spec.ingress[0].http", "L3/L4 only"},
	{"a peer with nothing in it", k8sHeader + "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - {}\n", k8sRef, "spec.ingress[0].from[0]", "needs podSelector, namespaceSelector or ipBlock"},

	{"type mismatch in a list", calicoHeader + "spec:\n  egress:\n  - action: Allow\n  - action: Deny\n  - action: 5\n", calicoRef, "spec.egress[2].action", "want a string, got a number"},
	{"type mismatch in a map", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels:\n    ok: fine\n    app: [1]\n", "Namespace prod", "metadata.labels.app", "want a string, got a list"},
	{"type mismatch in a Kubernetes struct", k8sHeader + "spec:\n  podSelector: []\n", k8sRef, "spec.podSelector", "want a mapping, got a list"},
	{"order as a string", calicoHeader + "spec:\n  order: first\n", calicoRef, "spec.order", "want a number, got a string"},
	{"YAML boolean as a name", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: y\n", "document", "metadata.name", "quote the value"},
	{"YAML boolean as a label value", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels:\n    enabled: on\n", "Namespace prod", "metadata.labels.enabled", "got a boolean (YAML reads unquoted"},

	{"Lists nested too deep", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - apiVersion: v1\n    kind: List\n    items:\n    - apiVersion: v1\n      kind: List\n      items:\n      - apiVersion: v1\n        kind: List\n        items:\n        - apiVersion: v1\n          kind: List\n          items: []\n",
		"List item 0: List item 0: List item 0: List item 0: List", "", "Lists nested more than 4 deep are not supported"},
	{"unknown kind", "apiVersion: projectcalico.org/v3\nkind: Widget\nmetadata:\n  name: w\n", "Widget w", "kind", "unsupported kind projectcalico.org/v3 Widget"},
	{"unknown API version", "apiVersion: networking.k8s.io/v2\nkind: NetworkPolicy\nmetadata:\n  name: np\n", "NetworkPolicy np", "kind", "unsupported kind"},
	{"missing apiVersion", "kind: NetworkPolicy\nmetadata:\n  name: np\n", "NetworkPolicy np", "", "apiVersion and kind are required"},
	{"not a mapping", "- a\n- b\n", "document", "", "want a mapping with apiVersion, kind and metadata, got a list"},
	{"invalid YAML", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [unclosed\n", "document", "", "invalid YAML"},
	{"missing name", "apiVersion: v1\nkind: Namespace\nmetadata:\n  labels: {a: b}\n", "Namespace ", "metadata.name", "required"},
	{"invalid name", calicoHeader[:len(calicoHeader)-len("  name: p\n  namespace: prod\n")] + "  name: Bad_Name\n  namespace: prod\n", "NetworkPolicy prod/Bad_Name", "metadata.name", "invalid name"},
	{"invalid namespace", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: Prod.Ns\n", "Pod Prod.Ns/p", "metadata.namespace", "invalid namespace"},
	{"namespace on a cluster-scoped kind", "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: g\n  namespace: prod\n", "GlobalNetworkPolicy g", "metadata.namespace", "cluster-scoped"},
	{"invalid label on a Kubernetes policy", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: k\n  namespace: prod\n  labels:\n    'a/b/c': x\nspec:\n  podSelector: {}\n", k8sRef, "metadata.labels.a/b/c", "invalid label key"},
	{"invalid label value", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels:\n    app: 'not valid!'\n", "Namespace prod", "metadata.labels.app", "invalid label value"},
	{"bad pod IP", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: prod\nstatus:\n  podIPs:\n  - ip: 10.0.0.1\n  - ip: 1.2.3\n", "Pod prod/p", "status.podIPs[1].ip", `invalid IP "1.2.3"`},
	{"named container port 0", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: prod\nspec:\n  containers:\n  - name: c\n    ports:\n    - name: http\n      containerPort: 0\n", "Pod prod/p", "spec.containers[0].ports[0].containerPort", "port 0 out of range"},
	{"bad allowed address pair", wepHeader + "  annotations:\n    neutron.openstack.org/allowed-address-pairs: 10.0.0.9,10.1.0.0/33\nspec: {}\n", "WorkloadEndpoint openstack/p", "metadata.annotations.neutron.openstack.org/allowed-address-pairs[1]", `invalid CIDR "10.1.0.0/33"`},
	{"bad allowed address pair MAC", wepHeader + "  annotations:\n    neutron.openstack.org/allowed-address-pairs: 10.0.0.9@fa:16:3e\nspec: {}\n", "WorkloadEndpoint openstack/p", "metadata.annotations.neutron.openstack.org/allowed-address-pairs[0]", `invalid MAC "fa:16:3e"`},
	{"unknown port security", wepHeader + "  labels:\n    neutron.openstack.org/port-security: 'off'\nspec: {}\n", "WorkloadEndpoint openstack/p", "metadata.labels.neutron.openstack.org/port-security", `unknown port security "off"`},
	{"bad tier default action", "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: security\nspec:\n  defaultAction: Allow\n", "Tier security", "spec.defaultAction", `unknown default action "Allow"`},
}

// TestBadInput: every kind of bad input is reported with the file, the
// object and the field, and the bad object is left out.
func TestBadInput(t *testing.T) {
	for _, c := range badInputs {
		t.Run(c.name, func(t *testing.T) {
			objs, errs := decodeAll(t, "bad.yaml", c.yaml)
			if len(objs) != 0 {
				t.Errorf("decoded %d object(s) from bad input, want none", len(objs))
			}
			found := false
			for _, e := range errs {
				if e.File != "bad.yaml" || e.Line != 1 {
					t.Errorf("error %q: at %s:%d, want bad.yaml:1", e, e.File, e.Line)
				}
				if e.Object == c.object && e.Field == c.field && strings.Contains(e.Err.Error(), c.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error for %s / %s containing %q; got:", c.object, c.field, c.msg)
				for _, e := range errs {
					t.Errorf("  object %q field %q: %v", e.Object, e.Field, e.Err)
				}
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	_, errs := decodeAll(t, "policies/web.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n---\n"+calicoHeader+"spec:\n  ingress:\n  - action: Allow\n    sourc: {}\n")
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
	}
	want := "policies/web.yaml:6: NetworkPolicy prod/p: spec.ingress[0].sourc: unknown field"
	if got := errs[0].Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e := &decode.Error{File: "-", Object: "document", Err: errors.New("boom")}
	if got := e.Error(); got != "-: document: boom" {
		t.Errorf("Error() without line and field = %q", got)
	}
	if !errors.Is(&decode.Error{Err: errSentinel}, errSentinel) {
		t.Error("Error does not unwrap to its cause")
	}
}

var errSentinel = errors.New("sentinel")

// TestBadDocumentsHideNothing: in a multi-document file, bad documents
// (invalid YAML, a bad field, a bad selector, an unknown kind) are reported
// at their own first line and every good document around them decodes.
func TestBadDocumentsHideNothing(t *testing.T) {
	file := `# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: first
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: broken-yaml
  namespace: prod
spec:
  selector: [unclosed
--- # a comment after the separator
apiVersion: v1
kind: Namespace
metadata:
  name: second
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: bad-field
spec:
  ingres: []
---
apiVersion: v1
kind: Namespace
metadata:
  name: third
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
---
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: fourth
  namespace: prod
spec:
  podSelector: {}
`
	objs, errs := decodeAll(t, "multi.yaml", file)
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	if got := strings.Join(names, ","); got != "first,second,third,fourth" {
		t.Errorf("decoded %s, want first,second,third,fourth", got)
	}
	want := []struct {
		line   int
		object string
		msg    string
	}{
		// The YAML cannot be read even leniently, so the object is unknown;
		// the parser's line is the file's line.
		{7, "document", "invalid YAML: yaml: line 13:"},
		{20, "GlobalNetworkPolicy bad-field", "unknown field"},
		{32, "Widget w", "unsupported kind"},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		e := errs[i]
		if e.Line != w.line || e.Object != w.object || !strings.Contains(e.Err.Error(), w.msg) {
			t.Errorf("error %d = line %d %q %q, want line %d %q containing %q", i, e.Line, e.Object, e.Err, w.line, w.object, w.msg)
		}
	}
}

// TestBuildProblems: cross-object problems are reported against the later
// object, which is left out; everything else is kept.
func TestBuildProblems(t *testing.T) {
	a := calicoHeader + "spec:\n  selector: app == 'a'\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n"
	b := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n---\n" + calicoHeader + "spec:\n  selector: app == 'b'\n---\n" +
		"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: tiered\nspec:\n  tier: security\n---\n" +
		// Same name as p, but a Kubernetes policy: a different object.
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: prod\nspec:\n  podSelector: {}\n---\n" +
		// Same name, other namespace: a different object.
		"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: other\n"
	var all []decode.Object
	for _, f := range [][2]string{{"a.yaml", a}, {"b.yaml", b}} {
		o, e := decode.Decode(f[0], []byte(f[1]))
		if len(e) > 0 {
			t.Fatalf("%s: %v", f[0], e)
		}
		all = append(all, o...)
	}
	w, errs := decode.Build(all)
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(errs), errs)
	}
	dup := errs[0].(*decode.Error)
	if dup.File != "b.yaml" || dup.Line != 6 || dup.Object != calicoRef || dup.Field != "metadata.name" || !strings.Contains(dup.Err.Error(), "already defined at a.yaml:1") {
		t.Errorf("duplicate: %v", dup)
	}
	tier := errs[1].(*decode.Error)
	if tier.File != "b.yaml" || tier.Object != "GlobalNetworkPolicy tiered" || tier.Field != "spec.tier" || !strings.Contains(tier.Err.Error(), `tier "security" does not exist`) {
		t.Errorf("missing tier: %v", tier)
	}
	var ids []string
	for _, p := range w.Policies {
		ids = append(ids, p.ID())
		if p.ID() == "prod/p" && !strings.Contains(p.AppliesTo.String(), `app == "a"`) {
			t.Errorf("the first prod/p should be kept, got %s", p.AppliesTo)
		}
	}
	if got := strings.Join(ids, ","); got != "prod/p,prod/knp.default.p,other/p" {
		t.Errorf("policies %s, want prod/p,prod/knp.default.p,other/p", got)
	}
	if len(w.Namespaces) != 2 {
		t.Errorf("%d namespaces, want 2", len(w.Namespaces))
	}

	// With the tier defined (in any file, in any order), the policy is kept.
	tierDoc := "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: security\nspec:\n  order: 100\n"
	o, _ := decode.Decode("tiers.yaml", []byte(tierDoc))
	w, errs = decode.Build(append(all, o...))
	if len(errs) != 1 || w.Tier("security") == nil || len(w.PoliciesInOrder("security")) != 1 {
		t.Errorf("with the tier: errors %v, tier %v, policies %d", errs, w.Tier("security"), len(w.PoliciesInOrder("security")))
	}
}
