package openflow_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// compiled is the database-allow-backends seed compiled with every
// endpoint local, cookies of generation gen, laid out by shared (nil: a
// bridge of flowgate's own).
func compiled(t testing.TB, gen uint8, shared *compiler.Shared) *compiler.Compiler {
	t.Helper()
	objs, errs := evaltest.DecodeFS(os.DirFS("../../examples/seeds"), "database-allow-backends")
	w, berrs := decode.Build(objs)
	if errs = append(errs, berrs...); len(errs) > 0 {
		t.Fatal(errs)
	}
	c, errs := compiler.New(w, compiler.Options{Locals: compiler.AllLocal(w, ""), Generation: gen, Shared: shared})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return c
}

// neutronCookie is a cookie as the Neutron OVS agent draws them (random
// 64 bits), without flowgate's mark.
const neutronCookie = 0x8d1f0a2b3c4d5e6f

// neutronFlows are the flows the Neutron OVS agent installs on br-int with
// firewall_driver = noop (table 0 → 60, the canary, ARP spoof table, the
// TRANSIENT tables' NORMAL) plus the OVS firewall's table 94.
var neutronFlows = []string{
	"table=0,priority=65535,dl_vlan=4095 actions=drop",
	"table=0,priority=0 actions=goto_table:60",
	"table=23,priority=0 actions=drop",
	"table=24,priority=0 actions=drop",
	"table=60,priority=3 actions=NORMAL",
	"table=62,priority=3 actions=NORMAL",
	"table=94,priority=1 actions=NORMAL",
}

func addNeutronFlows(t testing.TB, o *sandbox.OVS) []string {
	t.Helper()
	var b strings.Builder
	for _, f := range neutronFlows {
		fmt.Fprintf(&b, "cookie=%#x,%s\n", uint64(neutronCookie), f)
	}
	if out, err := o.OfctlInput(b.String(), "-O", "OpenFlow15", "add-flows", bridge, "-"); err != nil {
		t.Fatalf("install Neutron's flows: %v: %s", err, out)
	}
	return dumpCookie(t, o, neutronCookie)
}

// dumpCookie is the bridge's flows with exactly cookie c, as OVS prints them.
func dumpCookie(t testing.TB, o *sandbox.OVS, c uint64) []string {
	t.Helper()
	out, err := o.Ofctl("-O", "OpenFlow15", "--no-stats", "dump-flows", bridge, fmt.Sprintf("cookie=%#x/-1", c))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(out), "\n")
}

// TestSharedBridgeOwnsOnlyItsCookies: on a bridge the Neutron agent
// programs, every way the programmer changes flows — a full replacement, an
// idempotent re-sync by a new process, a replacement by a new generation,
// a delta — leaves Neutron's flows byte-identical; and Lost notices when
// Neutron's cleanup deletes one of our cookies, not only the sentinel.
func TestSharedBridgeOwnsOnlyItsCookies(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	neutron := addNeutronFlows(t, o)
	same := func(what string) {
		t.Helper()
		if got := dumpCookie(t, o, neutronCookie); strings.Join(got, "\n") != strings.Join(neutron, "\n") {
			t.Fatalf("%s changed Neutron's flows:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(neutron, "\n"))
		}
	}
	layout := compiler.DefaultShared()
	newProg := func() *openflow.Programmer {
		p := openflow.NewProgrammer(bridge, o.Env())
		p.Share(compiler.SharedCookieMark, compiler.SharedCookieMask, layout.ForeignTables())
		return p
	}
	a := compiled(t, 1, &layout).BridgeFlows(nil)
	p := newProg()
	st, err := p.Sync(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if st != (openflow.SyncStats{Added: len(a), Full: true}) {
		t.Errorf("first Sync stats = %+v", st)
	}
	same("a full Sync")
	if n := len(dump(t, o, bridge)); n != len(a)+len(neutronFlows) {
		t.Fatalf("bridge holds %d flows, want %d of ours and %d of Neutron's", n, len(a), len(neutronFlows))
	}

	// A new process with the same flows adopts them: nothing changes.
	if st, err := newProg().Sync(ctx, a); err != nil || st != (openflow.SyncStats{}) {
		t.Fatalf("re-sync by a new programmer = %+v, %v; want no changes", st, err)
	}
	// A new generation replaces ours wholesale and only ours.
	comp := compiled(t, 2, &layout)
	b := comp.BridgeFlows(nil)
	p = newProg()
	if st, err := p.Sync(ctx, b); err != nil || st.Added != len(b) || st.Removed != len(a) {
		t.Fatalf("replacing Sync = %+v, %v", st, err)
	}
	same("a replacing Sync")
	if n := len(dump(t, o, bridge)); n != len(b)+len(neutronFlows) {
		t.Fatalf("bridge holds %d flows, want %d + %d", n, len(b), len(neutronFlows))
	}
	d, errs := comp.Update(compiler.Change{DeletePolicy: "prod/knp.default.database-allow-backends"})
	if len(errs) > 0 || d.Empty() {
		t.Fatalf("update: %v, %d changes", errs, d.Len())
	}
	if err := p.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	c := comp.BridgeFlows(nil)
	same("an Apply")

	// Neutron's stale-cookie cleanup deletes flows cookie by cookie; losing
	// any rule cookie (not the sentinel's) is a loss.
	if lost, err := p.Lost(ctx); err != nil || lost {
		t.Fatalf("Lost after Apply = %v, %v", lost, err)
	}
	i := slices.IndexFunc(c, func(f compiler.Flow) bool { return f.Cookie.Category() == compiler.CategoryEndpoint })
	if i < 0 {
		t.Fatal("no endpoint flow")
	}
	victim := c[i]
	if _, err := o.Ofctl("-O", "OpenFlow15", "del-flows", bridge, fmt.Sprintf("cookie=%#x/-1", uint64(victim.Cookie))); err != nil {
		t.Fatal(err)
	}
	if lost, err := p.Lost(ctx); err != nil || !lost {
		t.Fatalf("Lost after one cookie's flows were deleted = %v, %v; want true", lost, err)
	}
	if _, err := p.Sync(ctx, c); err != nil {
		t.Fatal(err)
	}
	if lost, err := p.Lost(ctx); err != nil || lost {
		t.Fatalf("Lost after restoring = %v, %v", lost, err)
	}
	same("restoring")
}

// TestSharedBridgeRefusesCookieCollision: a Neutron cookie that carries
// flowgate's mark by chance makes a replacing Sync fail, naming the flow,
// instead of deleting Neutron's flows with flowgate's.
func TestSharedBridgeRefusesCookieCollision(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	colliding := uint64(0x5a00000000000000) | compiler.SharedCookieMark | 0x1234
	canary := fmt.Sprintf("cookie=%#x,table=23,priority=0 actions=drop", colliding)
	if _, err := o.Ofctl("-O", "OpenFlow15", "add-flow", bridge, canary); err != nil {
		t.Fatal(err)
	}
	layout := compiler.DefaultShared()
	p := openflow.NewProgrammer(bridge, o.Env())
	p.Share(compiler.SharedCookieMark, compiler.SharedCookieMask, layout.ForeignTables())
	_, err := p.Sync(ctx, compiled(t, 1, &layout).BridgeFlows(nil))
	if err == nil || !strings.Contains(err.Error(), "table 23") || !strings.Contains(err.Error(), "collides") {
		t.Fatalf("Sync over a colliding cookie: %v", err)
	}
	if got := dumpCookie(t, o, colliding); len(got) != 1 || !strings.Contains(got[0], "table=23") {
		t.Fatalf("the colliding flow was touched: %v", got)
	}
}
