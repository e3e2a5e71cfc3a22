package compiler

import (
	"net"
	"regexp"
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
// carry the mark and keep everything else, and placing a delta gives the
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
	names := s.TableNames()
	before := c.Flows()
	placed := s.PlaceAll(before)
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

	d, errs := c.Update(Change{DeletePolicy: "prod/knp.default.database-allow-backends"})
	if len(errs) > 0 || d.Empty() {
		t.Fatalf("update: %v, %d changes", errs, d.Len())
	}
	want := Diff(placed, s.PlaceAll(c.Flows()))
	got := s.PlaceDelta(d)
	if strings.Join(flowStrings(got.Add), "\n") != strings.Join(flowStrings(want.Add), "\n") ||
		strings.Join(flowStrings(got.Delete), "\n") != strings.Join(flowStrings(want.Delete), "\n") ||
		strings.Join(flowStrings(got.Modify), "\n") != strings.Join(flowStrings(want.Modify), "\n") {
		t.Errorf("placed delta differs from the delta of the placed sets:\ngot  %+v\nwant %+v", got, want)
	}

	// With HandBack 0 NORMAL stays NORMAL.
	for _, f := range DefaultShared().PlaceAll(before) {
		if strings.Contains(f.Actions, "resubmit(,94)") || strings.Contains(f.Actions, "->reg5,set_field:0->reg6") {
			t.Fatalf("hand-back NORMAL rewritten: %s", f)
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

// BenchmarkSharedPlace measures placing one flow (a full sync places
// every flow; a delta only its own).
func BenchmarkSharedPlace(b *testing.B) {
	w := loadExample(b, "database-allow-backends")
	c, _ := New(w, Options{Locals: AllLocal(w, "")})
	flows := c.Flows()
	s := DefaultShared()
	s.HandBack = 94
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Place(flows[i%len(flows)])
	}
}
