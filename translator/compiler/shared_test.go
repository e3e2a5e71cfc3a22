package compiler

import (
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/compiler/flowcheck"
	"github.com/flowgate/flowgate/translator/policy"
)

// tableRefRe finds every table an action list names.
var tableRefRe = regexp.MustCompile(`goto_table:(\d+)|resubmit\([^,()]*,(\d+)\)|\btable=(\d+)`)

// TestSharedPlacement: every placed flow and every table its actions name
// is a flowgate table above Neutron's, NORMAL is the hand-back, cookies
// carry the mark and keep everything else, and an update's delta is the
// delta of the placed sets.
func TestSharedPlacement(t *testing.T) {
	w := loadExample(t, "database-allow-backends")
	opts := Options{Locals: AllLocal(w, ""), FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()}
	c, errs := New(w, opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s := DefaultShared()
	s.HandBack = 94
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	opts.Shared = &s
	cs, errs := New(w, opts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	names := s.TableNames()
	before, placed := c.Flows(), cs.Flows()
	if len(before) != len(placed) {
		t.Fatalf("%d flows placed as %d", len(before), len(placed))
	}
	normal, handBack := 0, 0
	for i, f := range placed {
		orig := before[i]
		if _, ok := names[f.Table]; !ok || f.Table != orig.Table+100 {
			t.Errorf("table %d placed at %d: %s", orig.Table, f.Table, f)
		}
		if !Owns(f.Cookie) || uint64(f.Cookie)&^SharedCookieMask != uint64(orig.Cookie) {
			t.Errorf("cookie %#x placed as %#x", uint64(orig.Cookie), uint64(f.Cookie))
		}
		for _, m := range tableRefRe.FindAllStringSubmatch(f.Actions, -1) {
			n, _ := strconv.Atoi(m[1] + m[2] + m[3])
			if n == 94 {
				continue
			}
			if _, ok := names[uint8(n)]; !ok {
				t.Errorf("actions name table %d, not a placed flowgate table: %s", n, f)
			}
		}
		for _, a := range flowcheck.SplitActions(f.Actions) {
			if a == "NORMAL" {
				t.Errorf("NORMAL left in %s", f)
			}
		}
		normal += strings.Count(orig.Actions, "NORMAL")
		handBack += strings.Count(f.Actions, "resubmit(,94)")
	}
	if normal == 0 || handBack != normal {
		t.Errorf("%d NORMAL actions became %d hand-backs", normal, handBack)
	}

	del := Change{DeletePolicy: "prod/knp.default.database-allow-backends"}
	d, errs := cs.Update(del)
	if len(errs) > 0 || d.Empty() {
		t.Fatalf("update: %v, %d changes", errs, d.Len())
	}
	want := Diff(placed, cs.Flows())
	if strings.Join(flowStrings(d.Add), "\n") != strings.Join(flowStrings(want.Add), "\n") ||
		strings.Join(flowStrings(d.Delete), "\n") != strings.Join(flowStrings(want.Delete), "\n") ||
		strings.Join(flowStrings(d.Modify), "\n") != strings.Join(flowStrings(want.Modify), "\n") {
		t.Errorf("placed delta differs from the delta of the placed sets:\ngot  %+v\nwant %+v", d, want)
	}

	// With HandBack 0 NORMAL stays NORMAL.
	opts.Shared = &Shared{TableBase: 100, EntryTable: 60}
	c0, _ := New(w, opts)
	for _, f := range c0.Flows() {
		if strings.Contains(f.Actions, "resubmit(,94)") || strings.Contains(f.Actions, "->reg5,set_field:0->reg6") {
			t.Fatalf("hand-back NORMAL rewritten: %s", f)
		}
	}
}

// TestSharedLayoutIsPlacement: on random worlds and random changes, the
// flows and deltas compiled with the shared layout bound (Options.Shared)
// are exactly those of the plain compile placed afterwards by rewriting
// action text, as shared mode used to be applied: binding the layout
// changed nothing installed.
func TestSharedLayoutIsPlacement(t *testing.T) {
	s := DefaultShared()
	s.HandBack = 94
	for seed := uint64(1); seed <= 8; seed++ {
		g := newRandWorld(t, seed, smallWorld)
		plain, _ := New(g.world(), g.options())
		opts := g.options()
		opts.Shared = &s
		bound, _ := New(g.world(), opts) // a world of its own: Update changes it
		if got, want := flowStrings(bound.Flows()), flowStrings(placeAllByText(s, plain.Flows())); !slices.Equal(got, want) {
			t.Fatalf("seed %d: full compile differs from its placement:\n%s", seed, flowDiffText(bound.Flows(), placeAllByText(s, plain.Flows())))
		}
		for step := 0; step < 60; step++ {
			ch, _ := g.change()
			dp, _ := plain.Update(ch)
			db, _ := bound.Update(ch)
			for _, pair := range [][2][]Flow{{db.Add, dp.Add}, {db.Delete, dp.Delete}, {db.Modify, dp.Modify}} {
				if got, want := flowStrings(pair[0]), flowStrings(placeAllByText(s, pair[1])); !slices.Equal(got, want) {
					t.Fatalf("seed %d step %d %s: delta differs from its placement:\n got %v\nwant %v", seed, step, ch, got, want)
				}
			}
		}
	}
}

func flowStrings(fs []Flow) []string {
	SortFlows(fs)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// TestSharedEntryFlows: each bound port diverts what it sends and what is
// sent to its MAC into classify; a MAC bound twice is one flow.
func TestSharedEntryFlows(t *testing.T) {
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	locals := map[string]Binding{
		"a": {OFPort: 7, MAC: mac("fa:16:3e:00:00:07")},
		"b": {OFPort: 3, MAC: mac("fa:16:3e:00:00:03")},
		"c": {OFPort: 9, MAC: mac("fa:16:3e:00:00:03")},
	}
	got := flowStrings(DefaultShared().EntryFlows(nil, locals, nil, 2))
	want := []string{
		"cookie=0x220f6f600000003, table=60, priority=100,in_port=3 actions=goto_table:100",
		"cookie=0x220f6f600000007, table=60, priority=100,in_port=7 actions=goto_table:100",
		"cookie=0x220f6f600000009, table=60, priority=100,in_port=9 actions=goto_table:100",
		"cookie=0x220f6f700000003, table=60, priority=90,dl_dst=fa:16:3e:00:00:03 actions=goto_table:100",
		"cookie=0x220f6f700000007, table=60, priority=90,dl_dst=fa:16:3e:00:00:07 actions=goto_table:100",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entry flows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSharedValidate: layouts that would land on Neutron's tables, leave
// OpenFlow's table space, come before the entry table or loop are refused.
func TestSharedValidate(t *testing.T) {
	for _, c := range []struct {
		s    Shared
		want string
	}{
		{Shared{TableBase: 50, EntryTable: 60}, "Neutron's"},
		{Shared{TableBase: 200, EntryTable: 60}, "past OpenFlow's last table"},
		{Shared{TableBase: 100, EntryTable: 120}, "entry or hand-back"},
		{Shared{TableBase: 100, EntryTable: 101}, "must come after entryTable"},
		{Shared{TableBase: 100, EntryTable: 60, HandBack: 60}, "back into flowgate"},
		{Shared{TableBase: 100, EntryTable: 60, HandBack: 130}, "entry or hand-back"},
	} {
		err := c.s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.s, err, c.want)
		}
	}
	if err := DefaultShared().Validate(); err != nil {
		t.Fatal(err)
	}
}

// placeByText is how shared mode used to be applied: to the compiler's
// output, rewriting table numbers inside action strings afterwards. It is
// kept here only as the oracle the layout bound at compile time
// (Options.Shared) must agree with.
func placeByText(s Shared, f Flow) Flow {
	f.Table = s.Table(f.Table)
	f.Cookie = marked(f.Cookie)
	if !strings.Contains(f.Actions, "table") && !strings.Contains(f.Actions, "resubmit") && !strings.Contains(f.Actions, "NORMAL") {
		return f // most rule flows: conjunction clauses, register loads
	}
	acts := flowcheck.SplitActions(f.Actions)
	for i, a := range acts {
		if a == "NORMAL" {
			acts[i] = s.handBack()
			continue
		}
		a = placeAfter(s, a, "goto_table:", "")
		a = placeAfter(s, a, "resubmit(", ",")
		acts[i] = placeAfter(s, a, "table=", "")
	}
	f.Actions = strings.Join(acts, ",")
	return f
}

// placeAfter relocates the table number that follows each prefix in a
// (after skipping to the first `skip` when it is set, as in
// resubmit(port,table)): goto_table:N, resubmit(,N), ct(table=N,...).
func placeAfter(s Shared, a, prefix, skip string) string {
	var b strings.Builder
	for {
		i := strings.Index(a, prefix)
		if i < 0 {
			break
		}
		j := i + len(prefix)
		if prefix == "table=" && i > 0 && (a[i-1] == '_' || isAlnum(a[i-1])) {
			b.WriteString(a[:j]) // some other_table=: not ours
			a = a[j:]
			continue
		}
		if skip != "" {
			k := strings.Index(a[j:], skip)
			if k < 0 {
				break
			}
			j += k + len(skip)
		}
		e := j
		for e < len(a) && '0' <= a[e] && a[e] <= '9' {
			e++
		}
		b.WriteString(a[:j])
		if v, err := strconv.Atoi(a[j:e]); err == nil && v <= 255 {
			b.WriteString(strconv.Itoa(int(s.Table(uint8(v)))))
		} else {
			b.WriteString(a[j:e]) // no number: not a table the compiler named
		}
		a = a[e:]
	}
	if b.Len() == 0 {
		return a
	}
	b.WriteString(a)
	return b.String()
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// placeAllByText places every flow of a set with placeByText.
func placeAllByText(s Shared, fs []Flow) []Flow {
	out := make([]Flow, len(fs))
	for i, f := range fs {
		out[i] = placeByText(s, f)
	}
	return out
}
