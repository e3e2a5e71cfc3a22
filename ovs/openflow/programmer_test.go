package openflow_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
)

func TestSyncFromEmpty(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	want := flowSet(1, 2000, 0)
	st, err := p.Sync(ctx, want)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if st != (openflow.SyncStats{Added: len(want), Full: true}) {
		t.Errorf("stats = %+v, want %d added, full", st, len(want))
	}
	if p.Installed() != len(want) {
		t.Errorf("Installed = %d, want %d", p.Installed(), len(want))
	}
	wantInstalled(t, o, want)
}

func TestSyncIdempotent(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	want := flowSet(1, 2000, 0)
	if _, err := p.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	before := dump(t, o, bridge)
	// Same set, other order.
	rev := append([]compiler.Flow(nil), want...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	st, err := p.Sync(ctx, rev)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if st != (openflow.SyncStats{}) {
		t.Errorf("second Sync changed %+v, want nothing", st)
	}
	if after := dump(t, o, bridge); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Error("second Sync changed the bridge")
	}
}

func TestSyncFromDifferentSet(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	a := flowSet(1, 2000, 0)
	if _, err := p.Sync(ctx, a); err != nil {
		t.Fatal(err)
	}

	// A few flows differ: the same programmer sends only the difference.
	b := flowSet(1, 1990, 0) // 10 fewer rule flows
	extra := compiler.Flow{Table: compiler.TableEgressRules.ID, Priority: 7, Match: "reg7=0x7777,reg6=0", Actions: "drop", Cookie: compiler.NewCookie(1, compiler.CategoryRule, false, 9)}
	b = append(b, extra)
	for i := range b {
		if b[i].Table == compiler.TableCommit.ID && b[i].Priority == 0 {
			b[i].Actions = "drop" // modified
		}
	}
	st, err := p.Sync(ctx, b)
	if err != nil {
		t.Fatalf("Sync to b: %v", err)
	}
	if st != (openflow.SyncStats{Added: 1, Removed: 10, Changed: 1}) {
		t.Errorf("stats = %+v, want 1 added, 10 removed, 1 changed", st)
	}
	wantInstalled(t, o, b)

	// Another generation of another set, by a fresh programmer (an agent
	// restart): whatever was there is replaced, foreign flows included.
	if _, err := o.Ofctl("-O", "OpenFlow15", "add-flow", bridge, "table=200,priority=1,actions=NORMAL"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Ofctl("-O", "OpenFlow15", "add-flow", bridge, "cookie=0x99,table=0,priority=999,in_port=7,actions=drop"); err != nil {
		t.Fatal(err)
	}
	c := flowSet(2, 3000, 5)
	p2 := openflow.NewProgrammer(bridge, o.Env())
	st, err = p2.Sync(ctx, c)
	if err != nil {
		t.Fatalf("fresh Sync to c: %v", err)
	}
	if st != (openflow.SyncStats{Added: len(c), Removed: len(b) + 2, Full: true}) {
		t.Errorf("stats = %+v, want %d added, %d removed, full", st, len(c), len(b)+2)
	}
	wantInstalled(t, o, c)

	// Every flow's generation changes: more than half the set, so the
	// cached programmer replaces the tables wholesale; stats still say
	// what changed.
	d := flowSet(3, 3000, 5)
	st, err = p2.Sync(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if st != (openflow.SyncStats{Changed: len(d), Full: true}) {
		t.Errorf("stats = %+v, want %d changed, full", st, len(d))
	}
	wantInstalled(t, o, d)

	// And to nothing at all.
	if st, err := p2.Sync(ctx, nil); err != nil || st.Removed != len(d) {
		t.Fatalf("Sync to empty: %+v %v", st, err)
	}
	wantInstalled(t, o, nil)
}

func TestSyncNoticesFlowsChangedBehindItsBack(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	a := flowSet(1, 500, 0)
	if _, err := p.Sync(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Ofctl("-O", "OpenFlow15", "add-flow", bridge, "table=5,priority=1,actions=NORMAL"); err != nil {
		t.Fatal(err)
	}
	st, err := p.Sync(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Full || st.Removed != len(a)+1 {
		t.Errorf("stats = %+v, want a full replacement removing %d", st, len(a)+1)
	}
	wantInstalled(t, o, a)
}

func TestSyncRejectsDuplicateKeys(t *testing.T) {
	// No switch needed: the keys are checked before anything is sent.
	p := openflow.NewProgrammer(bridge, []string{"OVS_RUNDIR=" + t.TempDir()})
	f := compiler.Flow{Table: 1, Priority: 2, Match: "ip", Actions: "drop"}
	g := f
	g.Actions = "NORMAL"
	if _, err := p.Sync(ctxT(t), []compiler.Flow{f, g}); err == nil || !strings.Contains(err.Error(), "one key") {
		t.Errorf("Sync with a duplicate key: err = %v", err)
	}
}

func TestApply(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	if err := p.Apply(ctx, compiler.Delta{}); !errors.Is(err, openflow.ErrStale) {
		t.Errorf("Apply before Sync: err = %v, want ErrStale", err)
	}
	a := flowSet(1, 3000, 0)
	if _, err := p.Sync(ctx, a); err != nil {
		t.Fatal(err)
	}
	// b: rules 2000–2499 gone, 3000–3499 new, 2500–2999 partly with new
	// actions (another seed), the pipeline in a new generation
	// (cookie-only modifications).
	b := append(pipelineFlows(2), ruleFlows(1, 2500, 0)[:2000]...)
	b = append(b, ruleFlows(1, 3500, 7)[2500:]...)
	d := compiler.Diff(a, b)
	if len(d.Add) == 0 || len(d.Delete) == 0 || len(d.Modify) == 0 {
		t.Fatalf("test delta too simple: %d/%d/%d", len(d.Add), len(d.Delete), len(d.Modify))
	}
	if err := p.Apply(ctx, d); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantInstalled(t, o, b)
	if p.Installed() != len(b) {
		t.Errorf("Installed = %d, want %d", p.Installed(), len(b))
	}
	// The cache followed: a Sync to b changes nothing.
	if st, err := p.Sync(ctx, b); err != nil || st != (openflow.SyncStats{}) {
		t.Errorf("Sync after Apply: %+v %v, want no change", st, err)
	}
}

func TestApplyFailureCommitsNothing(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	a := flowSet(1, 1000, 0)
	if _, err := p.Sync(ctx, a); err != nil {
		t.Fatal(err)
	}
	bad := compiler.Delta{
		Delete: a[len(a)-100:],
		Add: []compiler.Flow{
			{Table: 5, Priority: 1, Match: "ip", Actions: "drop"},
			{Table: 5, Priority: 2, Match: "ip", Actions: "no_such_action:3"},
		},
	}
	err := p.Apply(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "no_such_action") || !strings.Contains(err.Error(), bad.Add[1].String()) {
		t.Fatalf("Apply of a bad flow: err = %v, want ovs-ofctl's complaint naming the flow", err)
	}
	wantInstalled(t, o, a) // all or nothing
	if err := p.Apply(ctx, compiler.Delta{Add: bad.Add[:1]}); !errors.Is(err, openflow.ErrStale) {
		t.Errorf("Apply after a failure: err = %v, want ErrStale", err)
	}
	if lost, err := p.Lost(ctx); err != nil || !lost {
		t.Errorf("Lost after a failure = %v, %v; want true (needs Sync)", lost, err)
	}
	st, err := p.Sync(ctx, a)
	if err != nil || !st.Full {
		t.Fatalf("Sync after failure: %+v %v", st, err)
	}
	wantInstalled(t, o, a)
}

func TestLostAfterVswitchdRestart(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	if lost, err := p.Lost(ctx); err != nil || lost {
		t.Fatalf("Lost before any Sync = %v, %v", lost, err)
	}
	a := flowSet(1, 1000, 0)
	if _, err := p.Sync(ctx, a); err != nil {
		t.Fatal(err)
	}
	if lost, err := p.Lost(ctx); err != nil || lost {
		t.Fatalf("Lost right after Sync = %v, %v", lost, err)
	}
	if err := o.RestartVswitchd(); err != nil {
		t.Fatal(err)
	}
	lost, err := p.Lost(ctx)
	if err != nil || !lost {
		t.Fatalf("Lost after ovs-vswitchd restart = %v, %v; want true", lost, err)
	}
	if err := p.Apply(ctx, compiler.Delta{Add: a[:1]}); !errors.Is(err, openflow.ErrStale) {
		t.Errorf("Apply after loss: err = %v, want ErrStale", err)
	}
	st, err := p.Sync(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if st != (openflow.SyncStats{Added: len(a), Full: true}) {
		t.Errorf("restoring Sync stats = %+v", st)
	}
	wantInstalled(t, o, a)
	if lost, err := p.Lost(ctx); err != nil || lost {
		t.Errorf("Lost after restoring = %v, %v", lost, err)
	}

	// del-flows by hand is a loss too; so is the sentinel coming back with
	// another generation's cookie.
	if _, err := o.Ofctl("-O", "OpenFlow15", "del-flows", bridge); err != nil {
		t.Fatal(err)
	}
	if lost, _ := p.Lost(ctx); !lost {
		t.Error("Lost after del-flows = false")
	}
	if _, err := p.Sync(ctx, a); err != nil {
		t.Fatal(err)
	}
	s := a[0]
	if s.Table != 0 || s.Priority != 0 {
		t.Fatalf("test assumes the sorted set starts with the sentinel, got %s", s)
	}
	s.Cookie = s.Cookie.WithGeneration(9)
	if _, err := o.Ofctl("-O", "OpenFlow15", "add-flow", bridge, s.String()); err != nil {
		t.Fatal(err)
	}
	if lost, _ := p.Lost(ctx); !lost {
		t.Error("Lost with a foreign sentinel = false")
	}
}

func TestLostWithoutPipelineSentinel(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	p := openflow.NewProgrammer(bridge, o.Env())
	rules := ruleFlows(1, 100, 0)
	if _, err := p.Sync(ctx, rules); err != nil {
		t.Fatal(err)
	}
	if lost, err := p.Lost(ctx); err != nil || lost {
		t.Fatalf("Lost = %v, %v", lost, err)
	}
	if err := o.RestartVswitchd(); err != nil {
		t.Fatal(err)
	}
	if lost, err := p.Lost(ctx); err != nil || !lost {
		t.Fatalf("Lost after restart = %v, %v", lost, err)
	}
	if _, err := p.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if lost, err := p.Lost(ctx); err != nil || lost {
		t.Fatalf("Lost with nothing installed = %v, %v", lost, err)
	}
}

// A fresh programmer (a second `flowgate apply`, an agent restart) onto a
// bridge that already holds its flows changes none, even when ovs-ofctl
// writes warnings on stderr while succeeding, as it does on a loaded host
// ("Unreasonably long 1234ms poll interval"). The warning is injected by
// an ovs-ofctl wrapper first in PATH that runs the real one.
func TestSyncAdoptsInstalledFlowsDespiteToolWarnings(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	want := setFieldForm(flowSet(1, 2000, 0))
	if _, err := openflow.NewProgrammer(bridge, o.Env()).Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	real, err := exec.LookPath("ovs-ofctl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrapper := "#!/bin/sh\n" + real + " \"$@\"\nrc=$?\n" +
		"echo '2026-12-05T12:00:00Z|00001|timeval|WARN|Unreasonably long 1234ms poll interval (0ms user, 0ms system)' >&2\nexit $rc\n"
	if err := os.WriteFile(filepath.Join(dir, "ovs-ofctl"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	before := dump(t, o, bridge)
	st, err := openflow.NewProgrammer(bridge, o.Env()).Sync(ctx, want)
	if err != nil {
		t.Fatalf("second programmer's Sync: %v", err)
	}
	if st != (openflow.SyncStats{}) {
		t.Errorf("second programmer's Sync changed %+v, want nothing", st)
	}
	if after := dump(t, o, bridge); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Error("second programmer's Sync changed the bridge")
	}
}

// loadRe is a register load of flowSet's flows.
var loadRe = regexp.MustCompile(`load:(0x[0-9a-f]+)->NXM_NX_REG(\d+)\[(0\.\.15)?\]`)

// setFieldForm rewrites flowSet's register loads as set_field actions, the
// way the compiler writes them: diff-flows compares actions as OVS prints
// them, and OVS prints a flow added as "load:" with "load:" from a file
// but as "set_field:" when dumped from the bridge, so a set with loads is
// never found equal to the bridge.
func setFieldForm(flows []compiler.Flow) []compiler.Flow {
	out := slices.Clone(flows)
	for i := range out {
		out[i].Actions = loadRe.ReplaceAllStringFunc(out[i].Actions, func(m string) string {
			g := loadRe.FindStringSubmatch(m)
			if g[3] != "" {
				return "set_field:" + g[1] + "/0xffff->reg" + g[2]
			}
			return "set_field:" + g[1] + "->reg" + g[2]
		})
		out[i].Actions = strings.ReplaceAll(out[i].Actions, "load:0x1->NXM_NX_CT_MARK[0]", "set_field:0x1/0x1->ct_mark")
	}
	return out
}
