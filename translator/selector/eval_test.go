package selector

import (
	"fmt"
	"testing"
)

// evalCases are selector/labels/result triples. They are also the seed
// corpus of FuzzParse.
var evalCases = []struct {
	sel    string
	labels Set
	want   bool
}{
	// ==
	{`a == "b"`, Set{"a": "b"}, true},
	{`a == "b"`, Set{"a": "b", "c": "d"}, true},
	{`a == "b"`, Set{"a": "c"}, false},
	{`a == "b"`, Set{}, false},
	{`a == "b"`, nil, false},
	{`a == ""`, Set{"a": ""}, true},
	{`a == ""`, Set{}, false},
	{`a == 'b'`, Set{"a": "b"}, true},
	{`a=='b'`, Set{"a": "b"}, true},
	{"a\t==\t'b'", Set{"a": "b"}, true},
	{`a == "B"`, Set{"a": "b"}, false},
	// !=: true when the label is absent.
	{`a != "b"`, Set{"a": "c"}, true},
	{`a != "b"`, Set{"a": "b"}, false},
	{`a != "b"`, Set{}, true},
	{`a != ""`, Set{"a": ""}, false},
	{`a != ""`, Set{}, true},
	// in / not in
	{`a in {"x", "y"}`, Set{"a": "x"}, true},
	{`a in {"x", "y"}`, Set{"a": "y"}, true},
	{`a in {"x", "y"}`, Set{"a": "z"}, false},
	{`a in {"x", "y"}`, Set{}, false},
	{`a in {}`, Set{"a": ""}, false},
	{`a in {}`, Set{}, false},
	{`a in {""}`, Set{"a": ""}, true},
	{`a in {'x',}`, Set{"a": "x"}, true},
	{`a in{'x'}`, Set{"a": "x"}, true},
	{`a in {"'", '"', "c"}`, Set{"a": `"`}, true},
	{`a in {"'", '"', "c"}`, Set{"a": `'`}, true},
	{`a not in {"x", "y"}`, Set{"a": "x"}, false},
	{`a not in {"x", "y"}`, Set{"a": "z"}, true},
	{`a not in {"x", "y"}`, Set{}, true},
	{`a not in {}`, Set{}, true},
	{`a not in {}`, Set{"a": "x"}, true},
	{`a notin {'x'}`, Set{"a": "x"}, false},
	{`a  not  in  {'x'}`, Set{"a": "y"}, true},
	// Large sets use a hash set; make sure both ends and a miss work.
	{`a in {"0","1","2","3","4","5","6","7","8","9"}`, Set{"a": "0"}, true},
	{`a in {"0","1","2","3","4","5","6","7","8","9"}`, Set{"a": "9"}, true},
	{`a in {"0","1","2","3","4","5","6","7","8","9"}`, Set{"a": "10"}, false},
	{`a not in {"0","1","2","3","4","5","6","7","8","9"}`, Set{"a": "5"}, false},
	{`a not in {"0","1","2","3","4","5","6","7","8","9"}`, Set{}, true},
	// has
	{`has(a)`, Set{"a": "b"}, true},
	{`has(a)`, Set{"a": ""}, true},
	{`has(a)`, Set{"b": "a"}, false},
	{`has( a )`, Set{"a": "b"}, true},
	{`!has(a)`, Set{"b": "a"}, true},
	{`!has(a)`, Set{"a": ""}, false},
	{`! has(a)`, Set{"a": ""}, false},
	{`!!has(a)`, Set{"a": ""}, true},
	{`!!!has(a)`, Set{"a": ""}, false},
	{`! !! has(a)`, Set{"a": ""}, false},
	// contains / starts with / ends with: false when absent.
	{`a contains "ell"`, Set{"a": "hello"}, true},
	{`a contains "ell"`, Set{"a": "help"}, false},
	{`a contains ""`, Set{"a": ""}, true},
	{`a contains ""`, Set{}, false},
	{`a contains"x"`, Set{"a": "x"}, true},
	{`a starts with "he"`, Set{"a": "hello"}, true},
	{`a starts with "lo"`, Set{"a": "hello"}, false},
	{`a starts with "he"`, Set{}, false},
	{`a startswith 'he'`, Set{"a": "hello"}, true},
	{"a starts \t with 'he'", Set{"a": "hello"}, true},
	{`a ends with "lo"`, Set{"a": "hello"}, true},
	{`a ends with "he"`, Set{"a": "hello"}, false},
	{`a ends with "lo"`, Set{}, false},
	{`a endswith "lo"`, Set{"a": "hello"}, true},
	{`!a contains "x"`, Set{}, true},
	{`!a starts with "x"`, Set{"a": "xy"}, false},
	// all() and global()
	{``, Set{}, true},
	{`   `, Set{"a": "b"}, true},
	{"\t", nil, true},
	{`all()`, Set{}, true},
	{`all( )`, Set{"a": "b"}, true},
	{`!all()`, Set{}, false},
	{`global()`, Set{}, true},
	{`global()`, Set{"a": "b"}, true},
	{`global()`, Set{NamespaceLabel: "default"}, false},
	{`global()`, Set{NamespaceLabel: ""}, false},
	{`!global()`, Set{NamespaceLabel: "default"}, true},
	{`global() || has(projectcalico.org/namespace)`, Set{}, true},
	{`global() && a == "b"`, Set{"a": "b"}, true},
	{`global() && a == "b"`, Set{"a": "b", NamespaceLabel: "ns"}, false},
	// Keys with the full character set.
	{`projectcalico.org/namespace == "default"`, Set{NamespaceLabel: "default"}, true},
	{`pcns.env == 'prod'`, Set{"pcns.env": "prod"}, true},
	{`app.kubernetes.io/name in {'web'}`, Set{"app.kubernetes.io/name": "web"}, true},
	{`a-b_c == "1"`, Set{"a-b_c": "1"}, true},
	{`calico/k8s_NS-.1/role == "x"`, Set{"calico/k8s_NS-.1/role": "x"}, true},
	{`123 == "x"`, Set{"123": "x"}, true},
	{`has(-)`, Set{"-": ""}, true},
	// Words that are operators elsewhere are ordinary keys.
	{`in in {'in'}`, Set{"in": "in"}, true},
	{`not not in {'x'}`, Set{"not": "y"}, true},
	{`contains contains 'contains'`, Set{"contains": "xcontainsx"}, true},
	{`has == 'x'`, Set{"has": "x"}, true},
	{`all != 'x'`, Set{"all": "x"}, false},
	{`global == 'x'`, Set{"global": "x"}, true},
	{`has(has)`, Set{"has": ""}, true},
	// Quoting.
	{`a == "it's"`, Set{"a": "it's"}, true},
	{`a == 'say "hi"'`, Set{"a": `say "hi"`}, true},
	{`a == " spaced  out "`, Set{"a": " spaced  out "}, true},
	{`a == "&&||!()"`, Set{"a": "&&||!()"}, true},
	{`a == "ünï"`, Set{"a": "ünï"}, true},
	// Precedence: ! binds tightest, then &&, then ||.
	{`a == "1" || b == "1" && c == "1"`, Set{"a": "1"}, true},
	{`a == "1" || b == "1" && c == "1"`, Set{"b": "1"}, false},
	{`(a == "1" || b == "1") && c == "1"`, Set{"a": "1"}, false},
	{`(a == "1" || b == "1") && c == "1"`, Set{"a": "1", "c": "1"}, true},
	{`a == "1" && b == "1" || c == "1"`, Set{"c": "1"}, true},
	{`a == "1" && (b == "1" || c == "1")`, Set{"c": "1"}, false},
	{`!a == "1" && b == "1"`, Set{"b": "1"}, true},
	{`!a == "1" && b == "1"`, Set{"a": "1", "b": "1"}, false},
	{`!(a == "1" && b == "1")`, Set{"a": "1"}, true},
	{`!(a == "1" && b == "1")`, Set{"a": "1", "b": "1"}, false},
	{`!has(a) || has(b)`, Set{"a": "", "b": ""}, true},
	{`!(has(a) || has(b))`, Set{"b": ""}, false},
	{`!(!has(a) || has(b))`, Set{"a": "a"}, true},
	{`!(has(b) || !has(a))`, Set{"a": "a"}, true},
	{`! a == 'a1' || ! b == 'b1'`, Set{"a": "a1", "b": "b1"}, false},
	{`a != 'a1' && !b == 'b1'`, Set{"a": "a1", "b": "b1"}, false},
	// Nesting and whitespace variants.
	{`((((has(a)))))`, Set{"a": ""}, true},
	{`( ( has(a) ) && ( has(b) || ( has(c) ) ) )`, Set{"a": "", "c": ""}, true},
	{`( ( has(a) ) && ( has(b) || ( has(c) ) ) )`, Set{"a": ""}, false},
	{`has(a)&&has(b)||has(c)`, Set{"c": ""}, true},
	{`has(a)&&!has(b)`, Set{"a": ""}, true},
	{" \t has(a) \t && \t has(b) \t ", Set{"a": "", "b": ""}, true},
	{`(all())`, Set{}, true},
	{`all() && has(a)`, Set{}, false},
	{`all() || has(a)`, Set{}, true},
	{`has(a) && has(a) && has(a)`, Set{"a": ""}, true},
}

func TestMatches(t *testing.T) {
	for _, c := range evalCases {
		s, err := Parse(c.sel)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.sel, err)
			continue
		}
		if got := s.Matches(c.labels); got != c.want {
			t.Errorf("%q.Matches(%v) = %v, want %v", c.sel, c.labels, got, c.want)
		}
		// The canonical form must select exactly the same things.
		s2, err := Parse(s.String())
		if err != nil {
			t.Errorf("Parse(%q) (canonical of %q): %v", s.String(), c.sel, err)
			continue
		}
		if got := s2.Matches(c.labels); got != c.want {
			t.Errorf("canonical %q.Matches(%v) = %v, want %v", s2, c.labels, got, c.want)
		}
	}
}

func TestZeroSelectorMatchesEverything(t *testing.T) {
	var s Selector
	if !s.Matches(Set{}) || !s.Matches(Set{NamespaceLabel: "x"}) || !s.IsAll() || s.String() != "all()" {
		t.Errorf("zero Selector: Matches/IsAll/String = %v/%v/%q", s.Matches(Set{}), s.IsAll(), s)
	}
}

// funcLabels checks that Matches works through the interface, not just Set.
type funcLabels func(string) (string, bool)

func (f funcLabels) Get(k string) (string, bool) { return f(k) }

func TestMatchesCustomLabels(t *testing.T) {
	calls := 0
	l := funcLabels(func(k string) (string, bool) {
		calls++
		if k == "a" {
			return "b", true
		}
		return "", false
	})
	if !MustParse(`a == "b" && !has(c)`).Matches(l) {
		t.Error("custom Labels did not match")
	}
	if calls != 2 {
		t.Errorf("Get called %d times, want 2", calls)
	}
	// Evaluation short-circuits.
	calls = 0
	MustParse(`has(x) && has(a)`).Matches(l)
	if calls != 1 {
		t.Errorf("&& did not short-circuit: %d calls", calls)
	}
}

func TestMatchesDoesNotAllocate(t *testing.T) {
	sels := []Selector{
		MustParse(`app == "web" && tier in {"a", "b", "c"} && !has(quarantine)`),
		MustParse(`a in {"0","1","2","3","4","5","6","7","8","9"} || global()`),
		MustParse(`(a contains "x" || b starts with "y") && c ends with "z" && d != "w" && e not in {"v"}`),
	}
	l := Set{"app": "web", "tier": "b", "a": "5", "b": "yes", "c": "fizz", NamespaceLabel: "ns"}
	for _, s := range sels {
		if n := testing.AllocsPerRun(1000, func() { s.Matches(l) }); n != 0 {
			t.Errorf("%q.Matches allocated %v times per run", s, n)
		}
	}
}

func ExampleSelector_Matches() {
	s := MustParse(`app == 'web' && env != 'prod'`)
	fmt.Println(s.Matches(Set{"app": "web"}))
	fmt.Println(s.Matches(Set{"app": "web", "env": "prod"}))
	fmt.Println(s)
	// Output:
	// true
	// false
	// app == "web" && env != "prod"
}
