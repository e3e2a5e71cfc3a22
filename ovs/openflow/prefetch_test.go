package openflow_test

import (
	"fmt"
	"testing"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
)

// printedFlows are n flows written as ovs-vswitchd prints them back
// (set_field, not load), which is what the comparison sees as equal, as
// the compiler writes them.
func printedFlows(n int, cookie compiler.Cookie) []compiler.Flow {
	fs := []compiler.Flow{{Table: 0, Priority: 0, Actions: "set_field:0/0xffff->reg8,goto_table:20", Cookie: cookie}}
	for i := range n {
		fs = append(fs, compiler.Flow{Table: 20, Priority: 100, Match: fmt.Sprintf("ip,nw_src=10.%d.%d.0/24", i/256, i%256),
			Actions: "set_field:0x1->reg6,goto_table:30", Cookie: cookie})
	}
	return fs
}

// TestPrefetchedComparison: a new programmer (an apply, an agent start)
// onto a bridge that holds its flows adopts them comparing with a dump
// prefetched while it compiled, changes nothing, and reports the digest of
// exactly those flows; a dump the programmer's own bundle made stale is
// never used, and flows changed after the dump differ from its digest.
func TestPrefetchedComparison(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	want := printedFlows(500, 0x101)
	if _, err := openflow.NewProgrammer(bridge, o.Env()).Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	p := openflow.NewProgrammer(bridge, o.Env())
	p.SetPrefetched(p.Prefetch(ctx))
	st, err := p.Sync(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if st != (openflow.SyncStats{}) {
		t.Fatalf("Sync onto the same flows with a prefetched dump changed %+v", st)
	}
	digest, err := p.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v := p.VerifiedDigest(); v == "" || v != digest {
		t.Fatalf("VerifiedDigest %q, want the bridge's digest %q", v, digest)
	}

	// A dump taken, then the programmer's own bundle: the next Sync must
	// not compare with the dump (it would see the old flows).
	other := printedFlows(400, 0x202)
	q := openflow.NewProgrammer(bridge, o.Env())
	pre := q.Prefetch(ctx)
	if _, err := q.Sync(ctx, other); err != nil {
		t.Fatal(err)
	}
	q.SetPrefetched(pre) // stale: taken before the flows above
	if _, err := q.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	wantInstalled(t, o, want)

	// Edited behind the programmer's back: another digest.
	if out, err := o.Ofctl("add-flow", bridge, "table=0,priority=65535,actions=drop"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if d, err := p.Digest(ctx); err != nil || d == digest {
		t.Fatalf("digest after a flow was added behind our back: %q (%v), the same as before", d, err)
	}
}
