package evaluator_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// matrixCells is a world's whole matrix over the participants named in
// keep (all when nil), by "from -> to proto/port".
func matrixCells(w *policy.World, services []evaluator.Service, outside []netip.Addr, keep map[string]bool) map[string]bool {
	ev := evaluator.New(w, evaluator.DefaultOptions())
	var in []evaluator.Participant
	for _, p := range ev.Participants(outside) {
		if keep == nil || keep[p.Name] {
			in = append(in, p)
		}
	}
	m := map[string]bool{}
	for _, r := range ev.Matrix(in, services) {
		m[fmt.Sprintf("%s -> %s %s/%d", r.From, r.To, r.Protocol, r.Port)] = r.Allowed
	}
	return m
}

// fullDiff is the definition Diff narrows: both whole matrices (before's
// given), compared cell by cell over the participants of both worlds.
func fullDiff(before map[string]bool, after *policy.World, services []evaluator.Service, outside []netip.Addr) []string {
	a := matrixCells(after, services, outside, nil)
	var out []string
	for k, v := range a {
		if b, ok := before[k]; ok && b != v {
			out = append(out, fmt.Sprintf("%s %v->%v", k, b, v))
		}
	}
	slices.Sort(out)
	return out
}

func diffLines(d evaluator.WorldDiff) []string {
	var out []string
	for _, c := range d.Changed {
		out = append(out, fmt.Sprintf("%s -> %s %s/%d %v->%v", c.From, c.To, c.Protocol, c.Port, c.Before.Allowed, c.After.Allowed))
	}
	slices.Sort(out)
	return out
}

// TestDiffAndOrTrap: splitting peer 2 of database-allow-backends into two
// items (the seed's trap) opens exactly the connections from dev's pods
// that are not backends to the database, and closes nothing.
func TestDiffAndOrTrap(t *testing.T) {
	before := loadSeed(t, "database-allow-backends")
	after := loadSeed(t, "database-allow-backends-trap")
	svcs := []evaluator.Service{{Protocol: policy.TCP, Port: 8080}, {Protocol: policy.TCP, Port: 80}}
	d := evaluator.Diff(before, after, evaluator.DefaultOptions(), svcs, nil)
	want := []string{"dev/frontend -> prod/database tcp/8080 false->true"}
	if got := diffLines(d); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	c := d.Changed[0]
	if c.FromNamespace != "dev" || c.ToNamespace != "prod" || c.After.Verdict.Ingress == nil || c.After.Verdict.Ingress.Rule == nil ||
		c.After.Verdict.Ingress.Rule.Policy != "prod/knp.default.database-allow-backends" || c.Before.Verdict.Ingress.Rule != nil {
		t.Errorf("deciding rules: before %+v, after %+v", c.Before.Verdict.Ingress, c.After.Verdict.Ingress)
	}
	if d := evaluator.Diff(before, before, evaluator.DefaultOptions(), svcs, nil); len(d.Changed) != 0 || d.Probes != 0 {
		t.Errorf("a world against itself: %d changes, %d probes", len(d.Changed), d.Probes)
	}
}

// TestDiffNarrowsExactly: on generated worlds, for one change of each
// kind of object, the narrowed Diff finds exactly what comparing the two
// whole matrices finds, and evaluates fewer connections where the change
// is local.
func TestDiffNarrowsExactly(t *testing.T) {
	base, _, err := evaltest.GenerateWorld(7, 100, 24)
	if err != nil {
		t.Fatal(err)
	}
	svcs := []evaluator.Service{{Protocol: policy.TCP, Port: 80}, {Protocol: policy.TCP, Port: 5432}, {Protocol: policy.UDP, Port: 53}, {Protocol: policy.ICMP}}
	outside := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("8.8.8.8")}
	clone := func() *policy.World {
		w := *base
		w.Policies = slices.Clone(base.Policies)
		w.Endpoints = slices.Clone(base.Endpoints)
		w.NetworkSets = slices.Clone(base.NetworkSets)
		w.Tiers = map[string]*policy.Tier{}
		for k, v := range base.Tiers {
			w.Tiers[k] = v
		}
		w.Namespaces = map[string]*policy.Namespace{}
		for k, v := range base.Namespaces {
			w.Namespaces[k] = v
		}
		return &w
	}
	type mutation struct {
		name   string
		mutate func(w *policy.World)
	}
	var muts []mutation
	for i := 0; i < len(base.Policies); i += 8 {
		muts = append(muts, mutation{"drop policy " + base.Policies[i].ID(), func(w *policy.World) {
			w.Policies = slices.Delete(w.Policies, i, i+1)
		}})
	}
	// Policies of one direction, emptied: their endpoints' decisions change
	// in that direction only, which Diff narrows to rows or columns.
	for _, dir := range []policy.Direction{policy.Ingress, policy.Egress} {
		found := 0
		for i, p := range base.Policies {
			if p.Types != dir || len(p.Rules(dir)) == 0 || found == 2 {
				continue
			}
			found++
			muts = append(muts, mutation{fmt.Sprintf("empty %s-only policy %s", dir, p.ID()), func(w *policy.World) {
				q := *w.Policies[i]
				q.Ingress, q.Egress = nil, nil
				w.Policies[i] = &q
			}})
		}
		if found == 0 {
			t.Fatalf("the generated world has no %s-only policy with rules", dir)
		}
	}
	muts = append(muts,
		mutation{"relabel an endpoint", func(w *policy.World) {
			e := *w.Endpoints[3]
			e.Labels = map[string]string{"app": "db"}
			w.Endpoints[3] = &e
		}},
		mutation{"move an endpoint's address onto another's", func(w *policy.World) {
			e := *w.Endpoints[5]
			e.IPs = w.Endpoints[6].IPs
			w.Endpoints[5] = &e
		}},
		mutation{"relabel a namespace", func(w *policy.World) {
			for name, ns := range w.Namespaces {
				if name == w.Endpoints[0].Namespace {
					n := *ns
					n.Labels = map[string]string{"team": "nobody"}
					w.Namespaces[name] = &n
				}
			}
		}},
		mutation{"delete a namespace", func(w *policy.World) { delete(w.Namespaces, w.Endpoints[0].Namespace) }},
		mutation{"grow the blocklist", func(w *policy.World) {
			s := *w.NetworkSets[0]
			s.Nets = append(slices.Clone(s.Nets), netip.MustParsePrefix("8.8.8.0/24"), netip.PrefixFrom(w.Endpoints[9].IPs[0], 32))
			w.NetworkSets[0] = &s
		}},
		mutation{"reorder a tier", func(w *policy.World) {
			t := *w.Tiers["security"]
			t.Order, t.DefaultAction = 5000, policy.Pass
			w.Tiers["security"] = &t
		}},
		mutation{"remove an endpoint", func(w *policy.World) { w.Endpoints = w.Endpoints[1:] }},
		mutation{"add an endpoint", func(w *policy.World) {
			e := *w.Endpoints[0]
			e.Name += "-twin"
			w.Endpoints = append(w.Endpoints, &e)
		}},
	)
	changed := 0
	baseCells := matrixCells(base, svcs, outside, nil)
	for _, m := range muts {
		after := clone()
		m.mutate(after)
		want := fullDiff(baseCells, after, svcs, outside)
		d := evaluator.Diff(base, after, evaluator.DefaultOptions(), svcs, outside)
		if got := diffLines(d); !slices.Equal(got, want) {
			t.Errorf("%s: narrowed diff differs from the full one\n got  %s\n want %s", m.name, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
		}
		if len(want) > 0 {
			changed++
		}
		t.Logf("%s: %d changed, %d probes", m.name, len(want), d.Probes)
	}
	if changed < len(muts)/3 {
		t.Errorf("only %d of %d mutations change any verdict: the test proves little", changed, len(muts))
	}
}

// BenchmarkDiffOnePolicy5000 is the scale: one policy changed in
// a world of 5,000 pods and 500 policies (docs/benchmarks.md).
func BenchmarkDiffOnePolicy5000(b *testing.B) {
	before, _, err := evaltest.GenerateWorld(1, 5000, 500)
	if err != nil {
		b.Fatal(err)
	}
	after := *before
	after.Policies = slices.Clone(before.Policies)
	i := len(after.Policies) / 2
	for len(after.Policies[i].Ingress) == 0 {
		i++
	}
	p := *after.Policies[i]
	p.Ingress = p.Ingress[1:]
	after.Policies[i] = &p
	svcs := []evaluator.Service{{Protocol: policy.TCP, Port: 80}, {Protocol: policy.TCP, Port: 5432}}
	b.ResetTimer()
	for range b.N {
		d := evaluator.Diff(before, &after, evaluator.DefaultOptions(), svcs, nil)
		b.ReportMetric(float64(d.Probes), "probes")
		b.ReportMetric(float64(len(d.Changed)), "changed")
	}
}
