package openflow_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
	"github.com/flowgate/flowgate/translator/compiler"
)

// bridge is the bridge under test; ref is a second bridge in the same
// switch that a test installs expected flow sets on with plain ovs-ofctl,
// so that "the bridge holds exactly these flows" compares two dumps in
// OVS's own print format instead of our text against OVS's.
const (
	bridge = "br-int"
	ref    = "br-ref"
)

// newSwitch starts a sandbox with the two bridges, set up as
// ovsdb.EnsureBridge would (fail_mode=secure, OpenFlow 1.0–1.5).
func newSwitch(t testing.TB) *sandbox.OVS {
	t.Helper()
	o := sandboxtest.New(t)
	for _, br := range []string{bridge, ref} {
		if _, err := o.Vsctl("add-br", br, "--", "set", "Bridge", br,
			"datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15"); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dump returns br's flows in OVS's format, without statistics, sorted.
func dump(t testing.TB, o *sandbox.OVS, br string) []string {
	t.Helper()
	return dumpAs(t, o, br, "OpenFlow15")
}

// wantInstalled fails unless br holds exactly flows: it installs flows on
// the reference bridge with one raw ovs-ofctl bundle and compares dumps.
func wantInstalled(t testing.TB, o *sandbox.OVS, flows []compiler.Flow) {
	t.Helper()
	var b strings.Builder
	b.WriteString("delete\n")
	for _, f := range flows {
		b.WriteString("add " + f.String() + "\n")
	}
	if out, err := o.OfctlInput(b.String(), "-O", "OpenFlow15", "--bundle", "add-flows", ref, "-"); err != nil {
		t.Fatalf("install reference flows: %v: %s", err, out)
	}
	got, want := dump(t, o, bridge), dump(t, o, ref)
	if slices.Equal(got, want) {
		return
	}
	var missing, extra []string
	for _, l := range want {
		if !slices.Contains(got, l) {
			missing = append(missing, l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			extra = append(extra, l)
		}
	}
	t.Fatalf("%s holds %d flows, want %d\nmissing (%d): %s\nextra (%d): %s", bridge, len(got), len(want),
		len(missing), head(missing), len(extra), head(extra))
}

func head(ls []string) string {
	if len(ls) > 8 {
		ls = append(ls[:8:8], "...")
	}
	return strings.Join(ls, "\n  ")
}

// pipelineFlows is a small pipeline shaped like the compiler's (the tables
// of compiler.Tables, conntrack, commit), which passes all IP traffic
// between ports: new connections are committed, established ones switched.
// gen goes into every cookie. The text is written the way the compiler
// writes it, which is not how OVS prints it (load vs set_field, 0x
// prefixes, masks).
func pipelineFlows(gen uint8) []compiler.Flow {
	ck := compiler.NewCookie(gen, compiler.CategoryPipeline, false, 0)
	f := func(t compiler.Table, prio uint16, match, actions string) compiler.Flow {
		return compiler.Flow{Table: t.ID, Priority: prio, Match: match, Actions: actions, Cookie: ck}
	}
	ct := "ct(table=21,zone=NXM_NX_REG8[0..15])"
	commit := "ct(commit,zone=NXM_NX_REG8[0..15],exec(load:0x1->NXM_NX_CT_MARK[0],move:NXM_NX_REG3[]->NXM_NX_CT_LABEL[0..31],move:NXM_NX_REG4[]->NXM_NX_CT_LABEL[32..63])),NORMAL"
	return []compiler.Flow{
		f(compiler.TableClassify, 0, "", "load:0x0->NXM_NX_REG8[0..15],goto_table:20"),
		f(compiler.TableSpoofGuard, 0, "", "drop"),
		f(compiler.TableConntrack, 10, "ip", ct),
		f(compiler.TableConntrack, 10, "ipv6", ct),
		f(compiler.TableConntrack, 200, "icmp6,icmpv6_type=135", "NORMAL"),
		f(compiler.TableConntrack, 0, "", "NORMAL"),
		f(compiler.TableConntrackState, 300, "ct_state=+inv+trk", "drop"),
		f(compiler.TableConntrackState, 200, "ct_state=+est+trk", "NORMAL"),
		f(compiler.TableConntrackState, 200, "ct_state=+rel+trk", "NORMAL"),
		f(compiler.TableConntrackState, 100, "ct_state=+new+trk", "goto_table:30"),
		f(compiler.TableConntrackState, 0, "", "drop"),
		f(compiler.TableEgressDispatch, 0, "", "goto_table:50"),
		f(compiler.TableEgressVerdict, 10, "reg6=0x1", "goto_table:50"),
		f(compiler.TableEgressVerdict, 0, "", "drop"),
		f(compiler.TableDestination, 0, "", "goto_table:70"),
		f(compiler.TableCommit, 10, "ip", commit),
		f(compiler.TableCommit, 10, "ipv6", commit),
		f(compiler.TableCommit, 0, "", "NORMAL"),
	}
}

// ruleFlows are n rule flows shaped like the compiler's conjunctions
// (address clause, service clause with masked ports, the conj_id flow) in
// the egress and ingress rule tables. Packets of pipelineFlows never reach
// them; they give bundles realistic size and text. Flows from different
// seeds overlap partly: same keys, other actions.
func ruleFlows(gen uint8, n, seed int) []compiler.Flow {
	var out []compiler.Flow
	for i := 0; len(out) < n; i++ {
		pol := uint32(i/16 + 1)
		slot := uint32(i % 16)
		id := pol<<11 | slot
		ingress := i%2 == 1
		table := compiler.TableEgressRules.ID
		if ingress {
			table = compiler.TableIngressRules.ID
		}
		ck := compiler.NewCookie(gen, compiler.CategoryRule, ingress, id)
		prio := uint16(50000 - 8*slot)
		key := fmt.Sprintf("reg7=%#x,reg6=0", pol)
		conj := id<<1 | 0
		out = append(out,
			compiler.Flow{Table: table, Priority: prio, Match: key + ",conj_id=" + fmt.Sprint(conj),
				Actions: fmt.Sprintf("load:0x1->NXM_NX_REG6[],load:%#x->NXM_NX_REG3[]", id+uint32(seed)), Cookie: ck},
			compiler.Flow{Table: table, Priority: prio, Match: fmt.Sprintf("%s,ip,nw_src=10.%d.%d.0/24", key, (i>>8)&255, i&255),
				Actions: fmt.Sprintf("conjunction(%d,1/2)", conj), Cookie: ck},
			compiler.Flow{Table: table, Priority: prio, Match: key + ",tcp,tp_dst=0x1f90/0xfff0",
				Actions: fmt.Sprintf("conjunction(%d,2/2)", conj), Cookie: ck},
			compiler.Flow{Table: table, Priority: prio, Match: fmt.Sprintf("%s,ipv6,ipv6_src=fd00:%x::/64", key, i),
				Actions: fmt.Sprintf("conjunction(%d,1/2)", conj), Cookie: ck},
		)
	}
	return out[:n]
}

// flowSet is a pipeline plus n rule flows.
func flowSet(gen uint8, n, seed int) []compiler.Flow {
	fs := append(pipelineFlows(gen), ruleFlows(gen, n, seed)...)
	compiler.SortFlows(fs)
	return fs
}
