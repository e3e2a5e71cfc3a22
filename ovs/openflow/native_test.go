package openflow_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/compiler/scalegen"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
	"github.com/flowgate/flowgate/translator/policy"
)

// diffWorld is a flow set the differential test installs both ways.
type diffWorld struct {
	name  string
	flows []compiler.Flow
}

// diffWorlds are the compiler's golden worlds (translator/compiler's
// goldenWorlds, compiled with the same options), the same worlds on a
// shared bridge with a hand-back table and with denied connections
// logged, a scalegen world, and this package's own test flows (which
// write load: and move: as older compilers did).
func diffWorlds(t *testing.T) []diffWorld {
	t.Helper()
	examples := []string{"database-allow-backends", "calico-getting-started/log-and-deny", "k8s-getting-started/allow-egress-external",
		"namespace-isolation", "../../translator/neutron/testdata/two-tenants/expected.yaml"}
	scenarios := []string{"named-port-ingress", "ingress-from-cidr-except", "ingress-end-port", "sctp-only"}
	var worlds []struct {
		name string
		w    *policy.World
	}
	for _, ex := range examples {
		path := filepath.Join("../../examples/seeds", ex)
		objs, errs := evaltest.DecodeFS(os.DirFS(filepath.Dir(path)), filepath.Base(path))
		w, berrs := decode.Build(objs)
		if errs = append(errs, berrs...); len(errs) > 0 {
			t.Fatalf("%s: %v", ex, errs)
		}
		worlds = append(worlds, struct {
			name string
			w    *policy.World
		}{ex, w})
	}
	for _, sc := range evaltest.Scenarios() {
		if slices.Contains(scenarios, sc.Name) {
			w, err := evaltest.BuildWorld(sc.Name, sc.YAML())
			if err != nil {
				t.Fatal(err)
			}
			worlds = append(worlds, struct {
				name string
				w    *policy.World
			}{sc.Name, w})
		}
	}
	if len(worlds) != len(examples)+len(scenarios) {
		t.Fatalf("%d golden worlds found, want %d", len(worlds), len(examples)+len(scenarios))
	}
	var out []diffWorld
	for _, w := range worlds {
		golden := compiler.Options{Locals: compiler.AllLocal(w.w, ""),
			FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()}
		logDenied, shared := golden, golden
		logDenied.LogDenied = true
		shared.Shared = &compiler.Shared{HandBack: 60}
		for _, v := range []struct {
			name string
			opts compiler.Options
		}{{"golden", golden}, {"log-denied", logDenied}, {"shared", shared}} {
			c, _ := compiler.New(w.w, v.opts) // the golden files keep some worlds' errors: their flows are still compiled
			if len(c.Flows()) == 0 {
				t.Fatalf("%s/%s: no flows", w.name, v.name)
			}
			out = append(out, diffWorld{strings.TrimSuffix(filepath.Base(w.name), ".yaml") + "/" + v.name, c.Flows()})
		}
	}
	g := scalegen.Generate(1, scalegen.Tiny)
	objs, errs := decode.Decode("scale.yaml", []byte(g.YAML))
	w, berrs := decode.Build(objs)
	if errs = append(errs, berrs...); len(errs) > 0 {
		t.Fatalf("scale world: %v", errs[0])
	}
	w.Endpoints = append(w.Endpoints, g.Pods...)
	opts := compiler.Options{Locals: map[string]compiler.Binding{}, FailsafeInbound: policy.DefaultFailsafeInbound(),
		FailsafeOutbound: policy.DefaultFailsafeOutbound(), DefaultZone: 1}
	for _, e := range g.Local {
		port := uint32(len(opts.Locals) + 1)
		opts.Locals[e.ID()] = compiler.Binding{OFPort: port, MAC: net.HardwareAddr{0x02, 0, 0, 0, byte(port >> 8), byte(port)}}
	}
	c, _ := compiler.New(w, opts)
	out = append(out, diffWorld{"scalegen-tiny", c.Flows()}, diffWorld{"package-test-flows", flowSet(1, 2000, 0)})
	return out
}

// dumpAs is br's flows as ovs-ofctl prints them over protocol, without
// statistics, sorted.
func dumpAs(t testing.TB, o *sandbox.OVS, br, protocol string) []string {
	t.Helper()
	out, err := o.Ofctl("-O", protocol, "--no-stats", "dump-flows", br)
	if err != nil {
		t.Fatal(err)
	}
	lines := openflow.FlowLines(out)
	slices.Sort(lines)
	return lines
}

// TestNativeEncodingMatchesOfctl installs every flow of every golden
// world (and variants, a scalegen world, this package's flows) once over
// the native connection and once with ovs-ofctl, on two bridges of one
// switch, and requires identical dumps — over OpenFlow 1.5 and over
// OpenFlow 1.0 with Nicira extensions, which shows how OVS stored each
// action (set_field vs load, copy_field vs move). Then it deletes every
// flow with the native strict deletes, which must leave the bridge empty:
// a strict delete whose match differed from the add's would leave its
// flow behind.
func TestNativeEncodingMatchesOfctl(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	total := 0
	for _, w := range diffWorlds(t) {
		t.Run(w.name, func(t *testing.T) {
			for _, f := range w.flows {
				if err := openflow.NativeEncodes(f); err != nil {
					t.Errorf("not natively encoded: %s: %v", f.String(), err)
				}
			}
			if t.Failed() {
				return
			}
			p := openflow.NewProgrammer(bridge, o.Env())
			defer p.Close()
			if _, err := p.Sync(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if err := p.Apply(ctx, compiler.Delta{Add: w.flows}); err != nil {
				t.Fatal(err)
			}
			if !p.LastTimings().Native {
				t.Fatal("the bundle went through ovs-ofctl")
			}
			wantInstalled(t, o, w.flows)
			for _, proto := range []string{"OpenFlow10", "OpenFlow15"} {
				got, want := dumpAs(t, o, bridge, proto), dumpAs(t, o, ref, proto)
				if !slices.Equal(got, want) {
					t.Errorf("%s dumps differ:\nnative:\n  %s\novs-ofctl:\n  %s", proto, head(diffLines(got, want)), head(diffLines(want, got)))
				}
			}
			if err := p.Apply(ctx, compiler.Delta{Delete: w.flows}); err != nil {
				t.Fatal(err)
			}
			if !p.LastTimings().Native {
				t.Fatal("the deletes went through ovs-ofctl")
			}
			if left := dumpAs(t, o, bridge, "OpenFlow15"); len(left) > 0 {
				t.Errorf("%d flows left after strict deletes of all: %s", len(left), head(left))
			}
			total += len(w.flows)
		})
	}
	t.Logf("%d flows compared", total)
}

// diffLines are the lines of a that b lacks.
func diffLines(a, b []string) []string {
	var out []string
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, l)
		}
	}
	return out
}

// TestNativeFallsBackToOfctl: a delta with one flow outside the native
// vocabulary goes through ovs-ofctl whole, and is installed.
func TestNativeFallsBackToOfctl(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	defer p.Close()
	a := flowSet(1, 100, 0)
	if _, err := p.Sync(ctx, a); err != nil {
		t.Fatal(err)
	}
	odd := compiler.Flow{Table: 40, Priority: 7, Match: "ip,nw_ttl=3", Actions: "dec_ttl,NORMAL",
		Cookie: compiler.NewCookie(1, compiler.CategoryPipeline, false, 0)}
	if err := openflow.NativeEncodes(odd); err == nil {
		t.Fatalf("%s is natively encoded: the test needs a flow outside the vocabulary", odd.String())
	}
	extra := ruleFlows(1, 120, 0)[100:]
	if err := p.Apply(ctx, compiler.Delta{Add: append([]compiler.Flow{odd}, extra...)}); err != nil {
		t.Fatal(err)
	}
	if p.LastTimings().Native {
		t.Error("a bundle with a flow outside the vocabulary went over the native connection")
	}
	b := append(append(append([]compiler.Flow(nil), a...), odd), extra...)
	wantInstalled(t, o, b)
	// The next delta inside the vocabulary goes natively again.
	if err := p.Apply(ctx, compiler.Delta{Delete: extra}); err != nil {
		t.Fatal(err)
	}
	if !p.LastTimings().Native {
		t.Error("a delta inside the vocabulary went through ovs-ofctl")
	}
	wantInstalled(t, o, append(append([]compiler.Flow(nil), a...), odd))
}

// TestNativeErrorFailsWholeBundle: a flow the switch refuses (a goto_table
// backwards, which the parser cannot know is wrong) fails the whole
// native bundle — the strict deletes and adds before it included — with
// an error naming the flow; the bridge keeps every flow it had.
func TestNativeErrorFailsWholeBundle(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	defer p.Close()
	a := flowSet(1, 1000, 0)
	if _, err := p.Sync(ctx, a); err != nil {
		t.Fatal(err)
	}
	backwards := compiler.Flow{Table: 40, Priority: 9, Match: "ip", Actions: "goto_table:20"}
	if err := openflow.NativeEncodes(backwards); err != nil {
		t.Fatal(err)
	}
	bad := compiler.Delta{
		Delete: a[len(a)-100:],
		Add:    []compiler.Flow{{Table: 40, Priority: 8, Match: "ip", Actions: "drop"}, backwards},
	}
	err := p.Apply(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), backwards.String()) || !strings.Contains(err.Error(), "OFPET_") {
		t.Fatalf("Apply with a flow the switch refuses: err = %v, want the switch's OpenFlow error naming %s", err, backwards.String())
	}
	if !p.LastTimings().Native {
		t.Fatal("the bundle went through ovs-ofctl")
	}
	wantInstalled(t, o, a) // all or nothing
	if err := p.Apply(ctx, compiler.Delta{Add: bad.Add[:1]}); !errors.Is(err, openflow.ErrStale) {
		t.Errorf("Apply after a failure: err = %v, want ErrStale", err)
	}
	// The connection is still good for the next change.
	if _, err := p.Sync(ctx, a[:len(a)-1]); err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(ctx, compiler.Delta{Add: a[len(a)-1:]}); err != nil || !p.LastTimings().Native {
		t.Fatalf("Apply after the failure: %v (native %v)", err, p.LastTimings().Native)
	}
	wantInstalled(t, o, a)
}
