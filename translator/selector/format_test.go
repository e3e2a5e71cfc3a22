package selector

import "testing"

// canonicalCases pair inputs with their canonical String.
var canonicalCases = []struct{ in, want string }{
	{``, `all()`},
	{` all() `, `all()`},
	{` (all() )`, `all()`},
	{`all( )`, `all()`},
	{`global( )`, `global()`},
	{`!global()`, `!global()`},
	{`!all()`, `!all()`},
	{`has( a )`, `has(a)`},
	{`a=='b'`, `a == "b"`},
	{"a\t!=\t\"b\"", `a != "b"`},
	{`a contains'x'`, `a contains "x"`},
	{`a startswith 'x'`, `a starts with "x"`},
	{`a starts  with'x'`, `a starts with "x"`},
	{`a endswith "x"`, `a ends with "x"`},
	// Quoting: double quotes unless the value holds one.
	{`a == "'"`, `a == "'"`},
	{`a == '"'`, `a == '"'`},
	{`a contains '"'`, `a contains '"'`},
	{`a contains "'"`, `a contains "'"`},
	{`a!='"'`, `a != '"'`},
	{`a == 'it''s'`, ``}, // invalid: no escapes; checked separately below
	{`a == "say 'hi'"`, `a == "say 'hi'"`},
	{`a == 'say "hi"'`, `a == 'say "hi"'`},
	// Sets are sorted and de-duplicated.
	{`a in {"d"}`, `a in {"d"}`},
	{`a in {"d", "a", "b"}`, `a in {"a", "b", "d"}`},
	{`a in {"z", "z", "x", "y", "x", "a"}`, `a in {"a", "x", "y", "z"}`},
	{`a in {}`, `a in {}`},
	{`a in { }`, `a in {}`},
	{`a in {'x',}`, `a in {"x"}`},
	{`a notin{'b','a'}`, `a not in {"a", "b"}`},
	{`a in {"'", '"'}`, `a in {'"', "'"}`},
	// Minimal parentheses; same-operator groups are flattened.
	{`! (has( b)||! has(a ))`, `!(has(b) || !has(a))`},
	{`! (a == "b"&&! c != "d")`, `!(a == "b" && !c != "d")`},
	{`a == "b" && (c != "d" || has(e))`, `a == "b" && (c != "d" || has(e))`},
	{`(a == "b" && c == "d") && e == "f"`, `a == "b" && c == "d" && e == "f"`},
	{`a == "b" && (c == "d" && e == "f")`, `a == "b" && c == "d" && e == "f"`},
	{`(a == "b" || c == "d") || e == "f"`, `a == "b" || c == "d" || e == "f"`},
	{`(a == "b" && c == "d") || e == "f"`, `a == "b" && c == "d" || e == "f"`},
	{`a == "b" || (c == "d" && e == "f")`, `a == "b" || c == "d" && e == "f"`},
	{`(a == "b" || c == "d") && e == "f"`, `(a == "b" || c == "d") && e == "f"`},
	{`!(a == "b")`, `!a == "b"`},
	{`!(!has(a))`, `has(a)`},
	{`!!(has(a))`, `has(a)`},
	{`!((has(a)))`, `!has(a)`},
	{`!(has(a) && has(b))`, `!(has(a) && has(b))`},
	{`!(has(a) || has(b)) && has(c)`, `!(has(a) || has(b)) && has(c)`},
	{`!(!(has(a) || has(b)))`, `has(a) || has(b)`},
	{`((has(a) || has(b)) && (has(c) || has(d)))`, `(has(a) || has(b)) && (has(c) || has(d))`},
	{`all() && has(a)`, `all() && has(a)`},
	{`global() || all()`, `global() || all()`},
}

func TestCanonical(t *testing.T) {
	for _, c := range canonicalCases {
		if c.want == "" {
			if _, err := Parse(c.in); err == nil {
				t.Errorf("Parse(%q) succeeded, want error", c.in)
			}
			continue
		}
		s, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := s.String(); got != c.want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestRoundTrip checks Parse(x.String()) == x for every valid input the tests
// know about.
func TestRoundTrip(t *testing.T) {
	var inputs []string
	for _, c := range evalCases {
		inputs = append(inputs, c.sel)
	}
	for _, c := range canonicalCases {
		if c.want != "" {
			inputs = append(inputs, c.in)
		}
	}
	for _, in := range inputs {
		s := MustParse(in)
		text := s.String()
		s2, err := Parse(text)
		if err != nil {
			t.Errorf("canonical %q of %q does not parse: %v", text, in, err)
			continue
		}
		if s2.String() != text {
			t.Errorf("canonical %q of %q re-parses as %q", text, in, s2)
		}
		if s2 != s {
			t.Errorf("Parse(%q) != Parse(%q) although their texts are equal", text, in)
		}
	}
}

func TestConstructorQuoting(t *testing.T) {
	for _, c := range []struct {
		s    Selector
		want string
	}{
		{Equal("k", `it's`), `k == "it's"`},
		{Equal("k", `say "x"`), `k == 'say "x"'`},
		{Equal("k", ""), `k == ""`},
		{In("k", `'`, `"`, "a"), `k in {'"', "'", "a"}`},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
		if MustParse(c.s.String()) != c.s {
			t.Errorf("%q does not round-trip", c.s)
		}
	}
}
