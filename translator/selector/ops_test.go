package selector

import (
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKeys(t *testing.T) {
	for _, c := range []struct {
		sel  string
		want []string
	}{
		{``, nil},
		{`all()`, nil},
		{`!all()`, nil},
		{`global()`, []string{NamespaceLabel}},
		{`has(b) && a == "x" || b in {"y"} && !c contains "z"`, []string{"a", "b", "c"}},
		{`a == "b" && (c != "d" || has(e)) && global() && a in {"x"}`, []string{"a", "c", "e", NamespaceLabel}},
		{`x starts with "" || w ends with "" || v not in {}`, []string{"v", "w", "x"}},
	} {
		got := MustParse(c.sel).Keys()
		if !slices.Equal(got, c.want) {
			t.Errorf("%q.Keys() = %q, want %q", c.sel, got, c.want)
		}
	}
	// The caller owns the slice.
	s := MustParse(`has(a) && has(b)`)
	s.Keys()[0] = "mutated"
	if s.Keys()[0] != "a" {
		t.Error("Keys shares its result")
	}
}

func TestPrefixKeys(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`all()`, `all()`},
		{`global()`, `global()`},
		{`a == "b"`, `pcns.a == "b"`},
		{`a == "b" && !has(c) || global() || all()`, `pcns.a == "b" && !has(pcns.c) || global() || all()`},
		{`a in {"x", "y"} && b not in {} && c contains "1" && d starts with "2" && e ends with "3" && f != "4"`,
			`pcns.a in {"x", "y"} && pcns.b not in {} && pcns.c contains "1" && pcns.d starts with "2" && pcns.e ends with "3" && pcns.f != "4"`},
		{`!(has(a) || has(b))`, `!(has(pcns.a) || has(pcns.b))`},
	} {
		got := MustParse(c.in).PrefixKeys("pcns.")
		if got.String() != c.want {
			t.Errorf("%q.PrefixKeys = %q, want %q", c.in, got, c.want)
		}
		if got != MustParse(c.want) {
			t.Errorf("%q.PrefixKeys is not the parsed form of its text", c.in)
		}
	}
	s := MustParse(`a in {"0","1","2","3","4","5","6","7","8","9"} && has(b)`).PrefixKeys("pcsa.")
	if !s.Matches(Set{"pcsa.a": "7", "pcsa.b": ""}) || s.Matches(Set{"a": "7", "b": ""}) {
		t.Error("prefixed selector evaluates the wrong keys")
	}
	if x := MustParse("has(a)"); x.PrefixKeys("") != x {
		t.Error(`PrefixKeys("") changed the selector`)
	}
	mustPanic(t, `PrefixKeys("bad prefix")`, func() { MustParse("has(a)").PrefixKeys("bad prefix") })
}

func TestReplaceAll(t *testing.T) {
	ns := Has(NamespaceLabel)
	or := MustParse(`has(b) || has(c)`)
	and := MustParse(`x == "1" && y == "2"`)
	for _, c := range []struct {
		in   string
		with Selector
		want string
	}{
		{``, ns, `has(projectcalico.org/namespace)`},
		{`all()`, ns, `has(projectcalico.org/namespace)`},
		{`!all()`, ns, `!has(projectcalico.org/namespace)`},
		{`!all()`, Not(ns), `has(projectcalico.org/namespace)`},
		{`has(a)`, ns, `has(a)`},
		{`global()`, ns, `global()`},
		{`all() && a == "b"`, and, `x == "1" && y == "2" && a == "b"`},
		{`all() || has(a)`, or, `has(b) || has(c) || has(a)`},
		{`all() && has(a)`, or, `(has(b) || has(c)) && has(a)`},
		{`!all() && has(a)`, or, `!(has(b) || has(c)) && has(a)`},
		{`(all() || has(a)) && all()`, ns, `(has(projectcalico.org/namespace) || has(a)) && has(projectcalico.org/namespace)`},
	} {
		got := MustParse(c.in).ReplaceAll(c.with)
		if got.String() != c.want {
			t.Errorf("%q.ReplaceAll(%q) = %q, want %q", c.in, c.with, got, c.want)
		}
		if got != MustParse(c.want) {
			t.Errorf("%q.ReplaceAll(%q) is not the parsed form of its text", c.in, c.with)
		}
	}
	s := MustParse(`all() && has(a)`)
	if s.ReplaceAll(All()) != s {
		t.Error("ReplaceAll(All()) changed the selector")
	}
	if !All().ReplaceAll(ns).Matches(Set{NamespaceLabel: "x"}) || All().ReplaceAll(ns).Matches(Set{}) {
		t.Error("replaced selector evaluates wrongly")
	}
}

func TestAndNot(t *testing.T) {
	x := MustParse(`a == "b"`)
	or := MustParse(`has(c) || has(d)`)
	for _, c := range []struct {
		got  Selector
		want string
	}{
		{And(All(), x), `a == "b"`},
		{And(x, All()), `a == "b"`},
		{And(All(), All()), `all()`},
		{And(x, or), `a == "b" && (has(c) || has(d))`},
		{And(or, x), `(has(c) || has(d)) && a == "b"`},
		{And(And(x, Has("e")), And(Has("f"), Has("g"))), `a == "b" && has(e) && has(f) && has(g)`},
		{And(x, MustParse(`all() && has(z)`)), `a == "b" && all() && has(z)`},
		{And(global(), x), `global() && a == "b"`},
		{Not(x), `!a == "b"`},
		{Not(Not(x)), `a == "b"`},
		{Not(All()), `!all()`},
		{Not(Not(All())), `all()`},
		{Not(or), `!(has(c) || has(d))`},
		{Not(And(x, or)), `!(a == "b" && (has(c) || has(d)))`},
		{Has("app.kubernetes.io/name"), `has(app.kubernetes.io/name)`},
		{Equal(NamespaceLabel, "default"), `projectcalico.org/namespace == "default"`},
		{In("k", "b", "a", "b"), `k in {"a", "b"}`},
		{In("k"), `k in {}`},
	} {
		if c.got.String() != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
		if c.got != MustParse(c.want) {
			t.Errorf("%q is not the parsed form of its text", c.want)
		}
	}
	if !And(All(), All()).IsAll() {
		t.Error("And(All(), All()) is not all()")
	}
	l := Set{"a": "b", "c": ""}
	if !And(x, or).Matches(l) || And(x, Not(or)).Matches(l) || !Not(Not(x)).Matches(l) {
		t.Error("And/Not evaluate wrongly")
	}
	if In("k").Matches(Set{"k": ""}) || In("k").Matches(Set{}) {
		t.Error("empty In matched")
	}
}

func global() Selector { return MustParse("global()") }

func TestInCopiesValues(t *testing.T) {
	vals := []string{"c", "a", "b", "a"}
	s := In("k", vals...)
	if !slices.Equal(vals, []string{"c", "a", "b", "a"}) {
		t.Errorf("In reordered its argument: %q", vals)
	}
	vals[0] = "z"
	if s.Matches(Set{"k": "z"}) || !s.Matches(Set{"k": "c"}) {
		t.Error("In shares its argument")
	}
}

func TestConstructorsRejectUnwritable(t *testing.T) {
	mustPanic(t, `Has("")`, func() { Has("") })
	mustPanic(t, `Has("a b")`, func() { Has("a b") })
	mustPanic(t, `Has("a=b")`, func() { Has("a=b") })
	mustPanic(t, `Equal("a", both quotes)`, func() { Equal("a", `'"`) })
	mustPanic(t, `Equal("é", "x")`, func() { Equal("é", "x") })
	mustPanic(t, `In("a", both quotes)`, func() { In("a", "ok", `x'y"z`) })
	mustPanic(t, `In("", "x")`, func() { In("", "x") })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestEqualityIsCanonicalText(t *testing.T) {
	a := MustParse(`a=='b'&&has(c)`)
	b := And(Equal("a", "b"), Has("c"))
	c := MustParse(`(a == "b") && has( c )`)
	if a != b || b != c {
		t.Errorf("equal selectors compare unequal: %q %q %q", a, b, c)
	}
	if a == MustParse(`has(c) && a == "b"`) {
		t.Error("different selectors compare equal")
	}
	m := map[Selector]int{a: 1}
	m[c]++
	if len(m) != 1 || m[b] != 2 {
		t.Errorf("map keyed by Selector = %v", m)
	}
	if All() != (Selector{}) || MustParse("") != MustParse("all()") {
		t.Error("all() has several representations")
	}
}

func TestConcurrentParse(t *testing.T) {
	const in = `concurrent == "x" && y in {"1", "2"}`
	var wg sync.WaitGroup
	results := make([]Selector, 16)
	for i := range results {
		wg.Go(func() {
			for range 100 {
				results[i] = MustParse(in)
				results[i].Matches(Set{"concurrent": "x", "y": "1"})
			}
		})
	}
	wg.Wait()
	for _, s := range results {
		if s != results[0] {
			t.Fatal("concurrent parses produced different selectors")
		}
	}
}

// TestInternTableShrinks checks that selectors nobody holds are forgotten.
func TestInternTableShrinks(t *testing.T) {
	key := `gc.test == "` + strings.Repeat("x", 10) + `"`
	func() {
		s := MustParse(key)
		runtime.KeepAlive(s)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		interned.Lock()
		_, present := interned.m[key]
		interned.Unlock()
		if !present {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("intern table still holds a collected selector")
}
