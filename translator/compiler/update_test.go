package compiler

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// flowMap indexes flows by key, failing on a key that occurs twice: a
// flow set with two flows under one key cannot be installed.
func flowMap(t testing.TB, fs []Flow) map[FlowKey]Flow {
	t.Helper()
	m := make(map[FlowKey]Flow, len(fs))
	for _, f := range fs {
		if o, dup := m[f.Key()]; dup {
			t.Fatalf("two flows with one key:\n  %s\n  %s", o, f)
		}
		m[f.Key()] = f
	}
	return m
}

// applyDelta applies d to prev the way the OVS layer would, checking that
// every delete and modify meets the flow it expects and every add is new.
func applyDelta(t testing.TB, prev []Flow, d Delta) []Flow {
	t.Helper()
	m := flowMap(t, prev)
	for _, f := range d.Delete {
		if o, ok := m[f.Key()]; !ok || o != f {
			t.Fatalf("delta deletes a flow that is not installed as such: %s", f)
		}
		delete(m, f.Key())
	}
	for _, f := range d.Modify {
		if o, ok := m[f.Key()]; !ok || o == f {
			t.Fatalf("delta modifies a flow that is missing or unchanged: %s", f)
		}
		m[f.Key()] = f
	}
	for _, f := range d.Add {
		if _, ok := m[f.Key()]; ok {
			t.Fatalf("delta adds a flow whose key is installed: %s", f)
		}
		m[f.Key()] = f
	}
	out := slices.Collect(maps.Values(m))
	SortFlows(out)
	return out
}

func errorStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// flowDiffText shows how two flow lists differ, briefly.
func flowDiffText(got, want []Flow) string {
	d := Diff(want, got)
	var b strings.Builder
	show := func(label string, fs []Flow) {
		for i, f := range fs {
			if i == 8 {
				fmt.Fprintf(&b, "  %s … and %d more\n", label, len(fs)-i)
				break
			}
			fmt.Fprintf(&b, "  %s %s\n", label, f.Named())
		}
	}
	show("extra  ", d.Add)
	show("missing", d.Delete)
	show("changed", d.Modify)
	return b.String()
}

// checkCaches verifies the compiler's incremental state against what it
// would compute from scratch: the world it owns, entities and cached
// selector members.
func checkCaches(t testing.TB, c *Compiler, g *randWorld) {
	t.Helper()
	w := g.world()
	ids := func(n int, id func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = id(i)
		}
		slices.Sort(out)
		return out
	}
	if got, want := ids(len(c.world.Endpoints), func(i int) string { return c.world.Endpoints[i].ID() }), sortedKeys(g.endpoints); !slices.Equal(got, want) {
		t.Errorf("world endpoints %v, want %v", got, want)
	}
	if got, want := ids(len(c.world.Policies), func(i int) string { return c.world.Policies[i].ID() }), sortedKeys(g.policies); !slices.Equal(got, want) {
		t.Errorf("world policies %v, want %v", got, want)
	}
	if got, want := ids(len(c.world.NetworkSets), func(i int) string { return c.world.NetworkSets[i].ID() }), sortedKeys(g.sets); !slices.Equal(got, want) {
		t.Errorf("world network sets %v, want %v", got, want)
	}
	if !reflect.DeepEqual(c.world.Namespaces, w.Namespaces) || !reflect.DeepEqual(c.world.ServiceAccounts, w.ServiceAccounts) || !reflect.DeepEqual(c.world.Tiers, w.Tiers) {
		t.Errorf("world namespaces, service accounts or tiers differ from the model")
	}
	if !reflect.DeepEqual(c.opts.Locals, g.options().Locals) {
		t.Errorf("bindings differ from the model")
	}
	fresh, _ := New(w, g.options())
	if len(fresh.entities) != len(c.entities) {
		t.Errorf("%d entities, want %d", len(c.entities), len(fresh.entities))
	}
	for k, e := range fresh.entities {
		o := c.entities[k]
		if o == nil || !sameEntity(o, e) {
			t.Errorf("entity %s is stale", k)
		}
	}
	for sel, en := range c.selectors {
		if len(en.users) == 0 {
			t.Errorf("selector %s is kept but no slot uses it", sel)
		}
		if m := en.members; m != nil {
			want := c.newMemberSet(sel)
			if !maps.Equal(m.counts, want.counts) || !slices.Equal(m.prefixes, want.prefixes) || m.family != want.family {
				t.Errorf("cached members of %s are stale: %v, want %v", sel, m.prefixes, want.prefixes)
			}
		}
		for s := range en.users {
			if s.dropped || !slices.Contains(s.deps, sel) {
				t.Errorf("selector %s lists a slot that is dropped or does not depend on it", sel)
			}
		}
	}
	for _, x := range []*labelIndex{c.labels, c.localLabels} {
		checkLabelIndex(t, c, x)
	}
	if !maps.Equal(c.active, fresh.active) {
		t.Errorf("active counts %v, want %v", c.active, fresh.active)
	}
	if !maps.Equal(c.numbers, fresh.numbers) {
		t.Errorf("policy numbers differ from a fresh compile")
	}
}

// checkLabelIndex verifies that x holds exactly the current entities (the
// local ones, for the local index) under their labels, and that each knows
// where.
func checkLabelIndex(t testing.TB, c *Compiler, x *labelIndex) {
	t.Helper()
	for k, byValue := range x.byKey {
		n := 0
		for v, p := range byValue {
			for i, e := range p.ents {
				n++
				if !slices.Contains(e.filed[x.slot], postingRef{p, i}) {
					t.Errorf("label index %s=%s: entity %s does not know where it is filed", k, v, e.key)
				}
				if c.entities[e.key] != e || e.labels[k] != v {
					t.Errorf("label index %s=%s holds a stale entity %s", k, v, e.key)
				}
			}
		}
	}
	// Every entity (local one) is filed under each of its labels.
	for _, e := range c.entities {
		if x.slot == 1 && !e.local {
			if len(e.filed[1]) > 0 {
				t.Errorf("remote entity %s is in the local label index", e.key)
			}
			continue
		}
		if len(e.filed[x.slot]) != len(e.labels) {
			t.Errorf("entity %s is filed under %d labels, has %d", e.key, len(e.filed[x.slot]), len(e.labels))
		}
		for _, r := range e.filed[x.slot] {
			if r.i >= len(r.p.ents) || r.p.ents[r.i] != e || x.byKey[r.p.key][r.p.value] != r.p {
				t.Errorf("entity %s is not where it thinks it is filed", e.key)
			}
		}
	}
}

// TestUpdateEqualsFullCompile applies random changes to random worlds and
// checks after every one that the delta Update returns turns the previous
// flows into exactly those of a full compile of the changed world, and
// that it is the diff of the two full compiles.
func TestUpdateEqualsFullCompile(t *testing.T) {
	const seeds, steps = 20, 300
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			g := newRandWorld(t, seed, smallWorld)
			c, _ := New(g.world(), g.options())
			prev := c.Flows()
			flowMap(t, prev)
			var applied, rejected, ops, nonEmpty, failing int
			for step := 0; applied < steps; step++ {
				ch, invalid := g.change()
				d, errs := c.Update(ch)
				if invalid {
					if len(errs) == 0 || !d.Empty() {
						t.Fatalf("step %d: %s: want an error and no delta, got %v and %d flow changes", step, ch, errs, d.Len())
					}
					if got := c.Flows(); !slices.Equal(got, prev) {
						t.Fatalf("step %d: rejected %s changed the flows:\n%s", step, ch, flowDiffText(got, prev))
					}
					rejected++
					continue
				}
				applied++
				full, fullErrs := New(g.world(), g.options())
				want := full.Flows()
				flowMap(t, want)
				if got := applyDelta(t, prev, d); !slices.Equal(got, want) {
					t.Fatalf("step %d: %s: previous flows + delta differ from a full compile:\n%s", step, ch, flowDiffText(got, want))
				}
				if wd := Diff(prev, want); !reflect.DeepEqual(d, wd) {
					t.Fatalf("step %d: %s: delta differs from the diff of full compiles (%d vs %d changes)", step, ch, d.Len(), wd.Len())
				}
				if applied%10 == 0 {
					if got := c.Flows(); !slices.Equal(got, want) {
						t.Fatalf("step %d: %s: Flows after Update differ from a full compile:\n%s", step, ch, flowDiffText(got, want))
					}
				}
				if got, want := errorStrings(c.Errors()), errorStrings(fullErrs); !slices.Equal(got, want) {
					t.Fatalf("step %d: %s: errors %q, full compile %q", step, ch, got, want)
				}
				for _, e := range errs {
					if !slices.ContainsFunc(fullErrs, func(f error) bool { return strings.HasSuffix(e.Error(), f.Error()) }) {
						t.Fatalf("step %d: %s: Update reports %q, which is no current error", step, ch, e)
					}
				}
				ops += d.Len()
				if !d.Empty() {
					nonEmpty++
				}
				failing += len(fullErrs)
				prev = want
			}
			checkCaches(t, c, g)
			if nonEmpty < steps/3 {
				t.Errorf("only %d of %d changes changed flows: the generator is too tame", nonEmpty, steps)
			}
			t.Logf("%d changes (and %d rejected ones), %d of them changed flows, %d flow operations in all; %d flows, %d entities, %d policies at the end; %d owner errors seen",
				applied, rejected, nonEmpty, ops, len(prev), len(c.entities), len(c.policies), failing)
		})
	}
}

// TestNewDeterministic compiles equal worlds, their slices in different
// orders, and wants byte-identical flows and errors.
func TestNewDeterministic(t *testing.T) {
	for seed := uint64(100); seed < 120; seed++ {
		g := newRandWorld(t, seed, smallWorld)
		a, aErrs := New(g.world(), g.options())
		b, bErrs := New(g.world(), g.options())
		fa, fb := a.Flows(), b.Flows()
		flowMap(t, fa)
		if !slices.Equal(fa, fb) {
			t.Fatalf("seed %d: two compiles of one world differ:\n%s", seed, flowDiffText(fa, fb))
		}
		if !slices.Equal(errorStrings(aErrs), errorStrings(bErrs)) {
			t.Fatalf("seed %d: errors differ: %v vs %v", seed, aErrs, bErrs)
		}
	}
}

// TestPolicyChangeTouchesOnlyItsFlows checks the common case the pipeline
// is designed for: changing, adding or removing one policy changes only
// that policy's rule flows and dispatch flows, never another policy's.
func TestPolicyChangeTouchesOnlyItsFlows(t *testing.T) {
	checked := 0
	for seed := uint64(200); seed < 220; seed++ {
		cfg := smallWorld
		cfg.localPercent = 70
		g := newRandWorld(t, seed, cfg)
		c, _ := New(g.world(), g.options())
		for i := 0; i < 15; i++ {
			var ch Change
			var id string
			switch i % 3 {
			case 0: // new rules (and maybe selector, order) for an existing policy
				id = anyKey(g, g.policies)
				p := g.policy(nameOf(g.policies[id]))
				g.policies[id] = p
				ch = Change{UpsertPolicy: p}
			case 1:
				p := g.policy(g.newPolicyName())
				id = p.ID()
				g.policies[id] = p
				ch = Change{UpsertPolicy: p}
			default:
				id = anyKey(g, g.policies)
				delete(g.policies, id)
				ch = Change{DeletePolicy: id}
			}
			numbers := maps.Clone(c.numbers)
			num, existed := c.PolicyNumber(id)
			d, _ := c.Update(ch)
			if n, ok := c.PolicyNumber(id); ok {
				num = n
			} else if !existed {
				t.Fatalf("policy %s has no number", id)
			}
			moved := false
			for other, n := range c.numbers {
				if o, ok := numbers[other]; ok && o != n {
					moved = true // a hash collision renumbered another policy
				}
			}
			if moved {
				continue
			}
			checked++
			for _, fs := range [][]Flow{d.Add, d.Delete, d.Modify} {
				for _, f := range fs {
					switch f.Cookie.Category() {
					case CategoryDispatch:
					case CategoryTierEnd:
						// A policy with LogDenied coming or going adds or
						// removes its tier's logged end, and only that.
						if !strings.HasSuffix(f.Match, fmt.Sprintf("reg7=%#x", tierDenyLoggedCode(f.Cookie.ID()))) {
							t.Errorf("seed %d: %s changed a tier-end flow other than a logged end: %s", seed, ch, f.Named())
						}
					case CategoryRule, CategoryExclusion:
						if n, _ := RuleIDParts(f.Cookie.ID()); n != num {
							t.Errorf("seed %d: %s changed a flow of policy number %#x: %s", seed, ch, n, f.Named())
						}
					default:
						t.Errorf("seed %d: %s changed a flow that is neither its own nor dispatch: %s", seed, ch, f.Named())
					}
				}
			}
		}
	}
	if checked < 200 {
		t.Errorf("only %d policy changes checked", checked)
	}
}

// collidingPolicyNames returns two policy names whose numbers hash to the
// same value, the first sorting before the second.
func collidingPolicyNames(t *testing.T) (string, string) {
	seen := map[uint32]string{}
	for i := 0; i < 1<<16; i++ {
		name := fmt.Sprintf("coll-%d", i)
		h := policyHash(name)
		if other, ok := seen[h]; ok {
			if other > name {
				return name, other
			}
			return other, name
		}
		seen[h] = name
	}
	t.Fatal("no colliding policy names found")
	return "", ""
}

// testWorld is a small hand-made world: one namespace, a local pod and a
// remote one, and bindings for the local one.
func testWorld() (*policy.World, Options) {
	w := policy.NewWorld()
	w.Namespaces["prod"] = &policy.Namespace{Name: "prod", Labels: map[string]string{"env": "prod"}}
	w.Endpoints = []*policy.Endpoint{
		{Kind: policy.PodEndpoint, Orchestrator: "k8s", Namespace: "prod", Name: "web", Labels: map[string]string{"app": "web"},
			IPs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}, Ports: []policy.NamedPort{{Name: "http", Protocol: 6, Port: 80}}},
		{Kind: policy.PodEndpoint, Orchestrator: "k8s", Namespace: "prod", Name: "db", Labels: map[string]string{"app": "db"},
			IPs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}},
	}
	opts := Options{Locals: map[string]Binding{"prod/web": {OFPort: 1, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}}, DefaultZone: 1}
	return w, opts
}

func allowFrom(name, sel string) *policy.Policy {
	s := selector.MustParse(sel)
	return &policy.Policy{
		Kind: policy.CalicoGlobalNetworkPolicy, Name: name, Tier: policy.DefaultTier, Order: 10,
		AppliesTo: selector.MustParse("app == 'web'"), Types: policy.Ingress,
		Ingress: []policy.Rule{{Action: policy.Allow, Source: policy.Peer{Selector: &s}}},
	}
}

// checkStep applies ch to c and to a full compile of w (which the test
// keeps in step itself) and compares.
func checkStep(t *testing.T, c *Compiler, prev []Flow, ch Change, w *policy.World, opts Options) ([]Flow, Delta) {
	t.Helper()
	d, errs := c.Update(ch)
	full, fullErrs := New(w, opts)
	want := full.Flows()
	if got := applyDelta(t, prev, d); !slices.Equal(got, want) {
		t.Fatalf("%s: previous flows + delta differ from a full compile:\n%s", ch, flowDiffText(got, want))
	}
	if len(errs) != len(fullErrs) {
		t.Fatalf("%s: errors %v, full compile %v", ch, errs, fullErrs)
	}
	return want, d
}

// TestUpdateRenumbersOnCollision adds a policy whose number collides with
// an existing one that sorts after it: the existing policy's number moves,
// so its rules and the dispatch of the endpoints it applies to change too;
// removing the policy moves it back.
func TestUpdateRenumbersOnCollision(t *testing.T) {
	first, second := collidingPolicyNames(t)
	w, opts := testWorld()
	w.Policies = []*policy.Policy{allowFrom(second, "app == 'db'")}
	c, _ := New(cloneWorld(w), opts)
	before, _ := c.PolicyNumber(second)
	prev := c.Flows()

	// The new policy applies to no local endpoint: the local endpoint's
	// dispatch changes only because the other policy's number moved.
	p := allowFrom(first, "app == 'web'")
	p.AppliesTo = selector.MustParse("app == 'db'")
	w.Policies = append(w.Policies, p)
	prev, d := checkStep(t, c, prev, Change{UpsertPolicy: p}, cloneWorld(w), opts)
	after, _ := c.PolicyNumber(second)
	if n, _ := c.PolicyNumber(first); n != before || after == before {
		t.Fatalf("numbers: %s %#x, %s %#x → %#x; want the first to take the second's", first, n, second, before, after)
	}
	moved := 0
	for _, f := range d.Delete {
		if n, _ := RuleIDParts(f.Cookie.ID()); f.Cookie.Category() == CategoryRule && n == before {
			moved++
		}
	}
	dispatch := 0
	for _, f := range d.Modify {
		if f.Cookie.Category() == CategoryDispatch {
			dispatch++
		}
	}
	if moved == 0 || dispatch == 0 {
		t.Fatalf("the renumbered policy's old flows were not deleted (%d) or the dispatch not changed (%d)", moved, dispatch)
	}

	w.Policies = w.Policies[:1]
	checkStep(t, c, prev, Change{DeletePolicy: first}, cloneWorld(w), opts)
	if n, _ := c.PolicyNumber(second); n != before {
		t.Fatalf("%s did not get its number back", second)
	}
}

// cloneWorld copies the world's containers (not the objects), so that a
// compiler can own one copy while the test changes another.
func cloneWorld(w *policy.World) *policy.World {
	return &policy.World{
		Tiers:           maps.Clone(w.Tiers),
		Policies:        slices.Clone(w.Policies),
		Endpoints:       slices.Clone(w.Endpoints),
		Namespaces:      maps.Clone(w.Namespaces),
		ServiceAccounts: maps.Clone(w.ServiceAccounts),
		NetworkSets:     slices.Clone(w.NetworkSets),
	}
}

// TestUpdatePolicyStartsFailing makes a policy fail to compile because an
// endpoint change makes one rule too many matchable (each Log rule takes a
// guard bit, and only rules that can match count). The local endpoint it
// applies to must lose the policy from its dispatch, though the change was
// to a remote endpoint the dispatch never mentions.
func TestUpdatePolicyStartsFailing(t *testing.T) {
	w, opts := testWorld()
	p := &policy.Policy{
		Kind: policy.CalicoGlobalNetworkPolicy, Name: "many-logs", Tier: policy.DefaultTier, Order: 1,
		AppliesTo: selector.MustParse("app == 'web'"), Types: policy.Ingress,
	}
	for i := 0; i <= maxGuards; i++ {
		sel := selector.MustParse(fmt.Sprintf("app == 'db' || log == '%d'", i))
		if i == maxGuards {
			sel = selector.MustParse("app == 'rare'")
		}
		p.Ingress = append(p.Ingress, policy.Rule{Action: policy.Log, Index: i, Source: policy.Peer{Selector: &sel}})
	}
	w.Policies = []*policy.Policy{p, allowFrom("allow-db", "app == 'db'")}
	c, errs := New(cloneWorld(w), opts)
	if len(errs) != 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	prev := c.Flows()

	rare := &policy.Endpoint{Kind: policy.PodEndpoint, Orchestrator: "k8s", Namespace: "prod", Name: "rare",
		Labels: map[string]string{"app": "rare"}, IPs: []netip.Addr{netip.MustParseAddr("10.0.0.9")}}
	w.Endpoints = append(w.Endpoints, rare)
	prev, d := checkStep(t, c, prev, Change{UpsertEndpoint: rare}, cloneWorld(w), opts)
	if len(c.Errors()) != 1 {
		t.Fatalf("want the policy to fail now, errors: %v", c.Errors())
	}
	dispatch := 0
	for _, f := range append(d.Modify, d.Add...) {
		if f.Cookie.Category() == CategoryDispatch {
			dispatch++
		}
	}
	if dispatch == 0 {
		t.Fatalf("the local endpoint's dispatch did not change")
	}

	w.Endpoints = w.Endpoints[:2]
	checkStep(t, c, prev, Change{DeleteEndpoint: rare.ID()}, cloneWorld(w), opts)
	if len(c.Errors()) != 0 {
		t.Fatalf("want the policy to compile again, errors: %v", c.Errors())
	}
}

// TestUpdateNamespaceAndBinding walks the changes that reach endpoints
// indirectly: a namespace relabelled and deleted (a Kubernetes workload
// endpoint's default depends on its namespace existing), a service
// account relabelled, an endpoint bound and unbound, checked against
// full compiles.
func TestUpdateNamespaceAndBinding(t *testing.T) {
	w, opts := testWorld()
	vm := &policy.Endpoint{Kind: policy.WorkloadEndpoint, Orchestrator: "k8s", Namespace: "prod", Name: "vm", ServiceAccount: "robot",
		IPs: []netip.Addr{netip.MustParseAddr("10.0.0.3")}, Ports: []policy.NamedPort{{Name: "http", Protocol: 6, Port: 8080}}}
	w.Endpoints = append(w.Endpoints, vm)
	w.ServiceAccounts["prod/robot"] = &policy.ServiceAccount{Namespace: "prod", Name: "robot"}
	prodOnly := selector.MustParse("pcns.env == 'prod'")
	gold := selector.MustParse("pcsa.level == 'gold'")
	named := &policy.Policy{
		Kind: policy.CalicoGlobalNetworkPolicy, Name: "named", Tier: policy.DefaultTier, Order: 5,
		AppliesTo: selector.All(), Types: policy.Ingress | policy.Egress,
		Ingress: []policy.Rule{
			{Action: policy.Allow, Protocol: policy.TCP, Source: policy.Peer{Selector: &prodOnly}, Destination: policy.Peer{Ports: []policy.PortMatch{{Name: "http"}}}},
			{Action: policy.Deny, Source: policy.Peer{Selector: &gold}},
		},
		Egress: []policy.Rule{{Action: policy.Allow, Protocol: policy.TCP, Destination: policy.Peer{Ports: []policy.PortMatch{{Name: "http"}}}}},
	}
	w.Policies = []*policy.Policy{named}
	c, _ := New(cloneWorld(w), opts)
	prev := c.Flows()
	step := func(ch Change) {
		t.Helper()
		var d Delta
		prev, d = checkStep(t, c, prev, ch, cloneWorld(w), opts)
		if d.Empty() {
			t.Errorf("%s changed no flow", ch)
		}
	}

	ns := &policy.Namespace{Name: "prod", Labels: map[string]string{"env": "staging"}}
	w.Namespaces = map[string]*policy.Namespace{"prod": ns}
	step(Change{UpsertNamespace: ns})

	sa := &policy.ServiceAccount{Namespace: "prod", Name: "robot", Labels: map[string]string{"level": "gold"}}
	w.ServiceAccounts = map[string]*policy.ServiceAccount{"prod/robot": sa}
	step(Change{UpsertServiceAccount: sa})

	b := Binding{OFPort: 2, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	opts.Locals = map[string]Binding{"prod/web": opts.Locals["prod/web"], "prod/vm": b}
	step(Change{Bind: &LocalBinding{EndpointID: "prod/vm", Binding: b}})

	w.Namespaces = map[string]*policy.Namespace{}
	step(Change{DeleteNamespace: "prod"})

	opts.Locals = map[string]Binding{"prod/vm": b}
	step(Change{Unbind: "prod/web"})
}

// BenchmarkUpdate measures single changes against large worlds (the
// issue-sized ones are in scale_bench_test.go).
//
// remote-pod-added: 2000 remote pods in 20 namespaces, 20 local pods, and
// 100 policies each with one ingress rule whose source selector is
// app == 'db' (one selector, used by 100 rules); each iteration adds a
// remote pod labelled app=db, which every one of those rules must now
// admit (the timed part), then removes it again (untimed). The selector
// already has 500 members. The local pods are all app=web, so only the 34
// policies applying to web are compiled: the delta is 34 flows, one per
// compiled rule, and the fast path computes just those.
//
// local-pod-relabelled and policy-changed: a generated world of 3000
// endpoints (about 60% pods), 20 namespaces, 50 network sets and 300
// policies of up to 4 rules per direction, 20 endpoints local. Each
// iteration relabels one local pod, flipping between two label sets: the
// generated selectors are broad, so the flip moves it in or out of many
// rules' selectors and of the policies that apply to it. Or it replaces
// one of 32 policies with a regenerated version of it.
func BenchmarkUpdate(b *testing.B) {
	b.Run("remote-pod-added", func(b *testing.B) {
		w := policy.NewWorld()
		opts := Options{Locals: map[string]Binding{}, DefaultZone: 1}
		apps := []string{"web", "api", "cache", "db"}
		for i := 0; i < 2000; i++ {
			ns := fmt.Sprintf("ns-%d", i%20)
			e := &policy.Endpoint{Kind: policy.PodEndpoint, Orchestrator: "k8s", Namespace: ns, Name: fmt.Sprintf("pod-%d", i),
				Labels: map[string]string{"app": apps[i%len(apps)]},
				IPs:    []netip.Addr{netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})}}
			w.Endpoints = append(w.Endpoints, e)
			if i%100 == 0 {
				port := uint32(len(opts.Locals) + 1)
				opts.Locals[e.ID()] = Binding{OFPort: port, MAC: net.HardwareAddr{2, 0, 0, 0, byte(port >> 8), byte(port)}}
			}
		}
		db := selector.MustParse("app == 'db'")
		for i := 0; i < 100; i++ {
			applies := selector.MustParse(fmt.Sprintf("app == '%s'", apps[i%3]))
			w.Policies = append(w.Policies, &policy.Policy{
				Kind: policy.CalicoGlobalNetworkPolicy, Name: fmt.Sprintf("allow-db-%d", i), Tier: policy.DefaultTier, Order: float64(i),
				AppliesTo: applies, Types: policy.Ingress,
				Ingress: []policy.Rule{{Action: policy.Allow, Protocol: policy.TCP, Source: policy.Peer{Selector: &db},
					Destination: policy.Peer{Ports: []policy.PortMatch{{Min: uint16(5000 + i), Max: uint16(5000 + i)}}}}},
			})
		}
		c, errs := New(w, opts)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		pod := &policy.Endpoint{Kind: policy.PodEndpoint, Orchestrator: "k8s", Namespace: "ns-3", Name: "new-db",
			Labels: map[string]string{"app": "db"}, IPs: []netip.Addr{netip.MustParseAddr("10.2.0.1")}}
		ops := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			d, _ := c.Update(Change{UpsertEndpoint: pod})
			ops += d.Len()
			b.StopTimer()
			c.Update(Change{DeleteEndpoint: pod.ID()})
			b.StartTimer()
		}
		b.ReportMetric(float64(ops)/float64(b.N), "flows/op")
	})

	big := randConfig{namespaces: 20, endpoints: 3000, sets: 50, policies: 300, localPercent: 1, maxRules: 4, addrs: 20000}
	g := newRandWorld(b, 42, big)
	var local *policy.Endpoint
	for _, id := range sortedKeys(g.locals) {
		if e := g.endpoints[id]; e != nil && e.Kind == policy.PodEndpoint && len(g.locals[id].MAC) == 6 {
			local = e
			break
		}
	}
	if local == nil {
		b.Fatal("no local pod in the generated world")
	}

	b.Run("local-pod-relabelled", func(b *testing.B) {
		c, _ := New(g.world(), g.options())
		versions := [2]*policy.Endpoint{}
		for i, labels := range []map[string]string{{"app": "web", "role": "frontend"}, {"app": "db", "role": "backend", "version": "v2"}} {
			e := *local
			e.Labels = labels
			versions[i] = &e
		}
		ops := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			d, _ := c.Update(Change{UpsertEndpoint: versions[i%2]})
			ops += d.Len()
		}
		b.ReportMetric(float64(ops)/float64(b.N), "flows/op")
	})

	b.Run("policy-changed", func(b *testing.B) {
		c, _ := New(g.world(), g.options())
		// Two regenerated versions of each of 32 policies, alternated, so
		// that every iteration really changes a policy.
		ids := sortedKeys(g.policies)
		var variants [32][2]*policy.Policy
		for i := range variants {
			for v := range variants[i] {
				variants[i][v] = g.policy(nameOf(g.policies[ids[i*len(ids)/len(variants)]]))
			}
		}
		ops := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			d, _ := c.Update(Change{UpsertPolicy: variants[i%32][i/32%2]})
			ops += d.Len()
		}
		b.ReportMetric(float64(ops)/float64(b.N), "flows/op")
	})
}

// TestUpdateDeterministic replays one random change sequence on two
// compilers and wants identical deltas and errors.
func TestUpdateDeterministic(t *testing.T) {
	for seed := uint64(300); seed < 303; seed++ {
		g1, g2 := newRandWorld(t, seed, smallWorld), newRandWorld(t, seed, smallWorld)
		c1, _ := New(g1.world(), g1.options())
		c2, _ := New(g2.world(), g2.options())
		for step := 0; step < 100; step++ {
			ch1, _ := g1.change()
			ch2, _ := g2.change()
			d1, e1 := c1.Update(ch1)
			d2, e2 := c2.Update(ch2)
			if !reflect.DeepEqual(d1, d2) || !slices.Equal(errorStrings(e1), errorStrings(e2)) {
				t.Fatalf("seed %d step %d: %s gives different results on equal compilers", seed, step, ch1)
			}
		}
	}
}

// TestUpdateRejects checks that malformed changes and deletes of unknown
// objects are errors that name the change and change nothing.
func TestUpdateRejects(t *testing.T) {
	w, opts := testWorld()
	c, _ := New(cloneWorld(w), opts)
	before := c.Flows()
	for _, tc := range []struct {
		ch   Change
		want string
	}{
		{Change{}, "update: empty change: exactly one change per update, got 0"},
		{Change{DeletePolicy: "a", DeleteTier: "b"}, "update: 2 changes at once (delete policy a, ...): exactly one change per update, got 2"},
		{Change{DeletePolicy: "nope"}, "update: delete policy nope: not found"},
		{Change{DeleteEndpoint: "prod/nope"}, "update: delete endpoint prod/nope: not found"},
		{Change{DeleteServiceAccount: "prod/nope"}, "update: delete service account prod/nope: not found"},
		{Change{Unbind: "prod/db"}, "update: unbind prod/db: not found"},
		{Change{UpsertNamespace: &policy.Namespace{}}, "update: upsert namespace : namespace has no name"},
		{Change{Bind: &LocalBinding{}}, "update: bind : binding names no endpoint"},
	} {
		d, errs := c.Update(tc.ch)
		if len(errs) != 1 || errs[0].Error() != tc.want || !d.Empty() {
			t.Errorf("%s: got %v and %d flow changes, want %q and none", tc.ch, errs, d.Len(), tc.want)
		}
	}
	if !slices.Equal(c.Flows(), before) {
		t.Errorf("rejected changes changed the flows")
	}
	// Upserting what is already there changes nothing.
	if d, errs := c.Update(Change{UpsertEndpoint: w.Endpoints[0]}); !d.Empty() || len(errs) > 0 {
		t.Errorf("re-upserting an endpoint: %d flow changes, errors %v", d.Len(), errs)
	}
}
