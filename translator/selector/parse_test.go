package selector

import (
	"errors"
	"strings"
	"testing"
)

// invalidCases are selectors Calico rejects, with the column (1-based byte
// offset) the error must point at and a fragment of its message. They are
// also part of the fuzz seed corpus.
var invalidCases = []struct {
	sel    string
	column int
	msg    string
}{
	// Missing or wrong operands.
	{`a == `, 6, "expected a quoted string"},
	{`a ==`, 5, "expected a quoted string"},
	{`a==`, 4, "expected a quoted string"},
	{`b == b`, 6, `expected a quoted string after '==', found label key "b"`},
	{`b != ||`, 6, "expected a quoted string after '!='"},
	{`b contains b`, 12, "expected a quoted string after 'contains'"},
	{`b starts with b`, 15, "expected a quoted string after 'starts with'"},
	{`b ends with b`, 13, "expected a quoted string after 'ends with'"},
	{`a == "b" "c"`, 10, "expected '&&', '||' or end of selector"},
	// Missing keys and bare keys.
	{`== "a"`, 1, "expected a label key"},
	{`'b1' == b`, 1, `found string "b1"`},
	{`b`, 2, `expected an operator (==, !=, in, not in, contains, starts with, ends with) after label key "b"`},
	{`a `, 3, "expected an operator"},
	{`a b`, 3, "expected an operator"},
	{`a squiggles 'x'`, 3, "expected an operator"},
	{`has (a)`, 5, `after label key "has"`},
	{`!=`, 1, "found '!='"},
	{`&& a == "b"`, 1, "found '&&'"},
	// Dangling operators.
	{`!`, 2, "found end of selector"},
	{`!has(a) &&`, 11, "found end of selector"},
	{`has(foo) &&`, 12, "found end of selector"},
	{`a == "b" ||`, 12, "found end of selector"},
	{`foo == "bar" &`, 14, "expected '&&'"},
	{`foo == "bar" |`, 14, "expected '||'"},
	{`a == "b" &&& c == "d"`, 12, "expected '&&'"},
	{`a = 'b'`, 3, "expected '=='"},
	{`a === 'b'`, 5, "expected '=='"},
	// Two-word operators.
	{`a starts 'x'`, 10, `expected "with" after "starts"`},
	{`a ends wit 'x'`, 8, `expected "with" after "ends"`},
	{`a not 'x'`, 7, `expected "in" after "not"`},
	// Sets.
	{`foo in ""`, 8, "expected '{' to start the set after \"in\""},
	{`a in 'x'`, 6, "expected '{'"},
	{`a in`, 5, "expected '{'"},
	{`a not in`, 9, "expected '{' to start the set after \"not in\""},
	{`a in {'x'`, 10, "expected ',' or '}' in set, found end of selector"},
	{`a in {'x' 'y'}`, 11, "expected ',' or '}'"},
	{`a in {,}`, 7, "expected a quoted string or '}'"},
	{`a in {'x',,}`, 11, "expected a quoted string or '}'"},
	{`a in {x}`, 7, `found label key "x"`},
	{`foo in {"", ||`, 13, "expected a quoted string or '}'"},
	{`a in {'x'} in {'y'}`, 12, `found label key "in"`},
	// Strings.
	{`"FOO`, 1, "unterminated string"},
	{`"FOO'`, 1, "unterminated string"},
	{`'FOO`, 1, "unterminated string: no closing '"},
	{`a == 'b`, 6, "unterminated string"},
	{`a in {'b}`, 7, "unterminated string"},
	// Parentheses.
	{`(`, 2, "found end of selector"},
	{`)`, 1, "found ')'"},
	{`()`, 2, "found ')'"},
	{`(a == "foo"`, 12, "expected ')' to close '(' at column 1, found end of selector"},
	{`((a == "b")`, 12, "expected ')' to close '(' at column 1"},
	{`a == "b" && (c == "d"`, 22, "expected ')' to close '(' at column 13"},
	{`a == "b" && ()`, 14, "found ')'"},
	{`a == "b")`, 9, "unbalanced ')'"},
	{`has(a))`, 7, "unbalanced ')'"},
	// has(), all(), global().
	{`has(a`, 6, "expected ')' to close has(a"},
	{`!has(a`, 7, "expected ')' to close has(a"},
	{`has()`, 5, "expected a label key inside has()"},
	{`has( )`, 6, "expected a label key inside has()"},
	{`has(a b)`, 7, "expected ')' to close has(a"},
	{`all(`, 5, "expected ')' to close all("},
	{`all(x)`, 5, "expected ')' to close all("},
	{`global(`, 8, "expected ')' to close global("},
	{`all() global()`, 7, "expected '&&', '||' or end of selector, found global()"},
	// Characters outside the language.
	{`%`, 1, "unexpected character '%'"},
	{`a == "b" && %`, 13, "unexpected character '%'"},
	{`a == "b" || %`, 13, "unexpected character '%'"},
	{"a == \"b\"\n&& has(c)", 9, `unexpected character '\n': only spaces and tabs`},
	{"\r\nhas(a)", 1, `unexpected character '\r'`},
	{`é == "x"`, 1, "unexpected character 'é'"},
	{`aé == "x"`, 2, `after label key "a"`},
	{"\xff", 1, "unexpected byte 0xff"},
	{`has(a) ; has(b)`, 8, "unexpected character ';'"},
}

func TestParseInvalid(t *testing.T) {
	for _, c := range invalidCases {
		s, err := Parse(c.sel)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error", c.sel, s)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) error %T is not *ParseError", c.sel, err)
			continue
		}
		if pe.Input != c.sel || pe.Column != c.column || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("Parse(%q) error = column %d %q, want column %d containing %q", c.sel, pe.Column, pe.Msg, c.column, c.msg)
		}
		if s != (Selector{}) {
			t.Errorf("Parse(%q) returned non-zero Selector with error", c.sel)
		}
	}
}

func TestParseErrorString(t *testing.T) {
	_, err := Parse("a == ")
	const want = `selector "a == " column 6: expected a quoted string after '==', found end of selector`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}

	// Long inputs are shortened around the column, not repeated in full.
	long := strings.Repeat("has(a) && ", 100) + "%"
	_, err = Parse(long)
	msg := err.Error()
	if len(msg) > 200 || !strings.HasPrefix(msg, `selector "...`) || !strings.Contains(msg, `has(a) && %" column 1001: unexpected character '%'`) {
		t.Errorf("long error = %s", msg)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if _, ok := recover().(*ParseError); !ok {
			t.Error("MustParse did not panic with *ParseError")
		}
	}()
	MustParse("a ==")
}

func TestNestingLimit(t *testing.T) {
	nest := func(depth int) string {
		return strings.Repeat("(", depth) + "has(a)" + strings.Repeat(")", depth)
	}
	if _, err := Parse(nest(maxDepth)); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
	_, err := Parse(nest(maxDepth + 1))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Column != maxDepth+1 || !strings.Contains(pe.Msg, "nested more than") {
		t.Errorf("depth %d: error %v", maxDepth+1, err)
	}
	// "!" and sibling groups do not count towards depth.
	many := strings.Repeat("!", 10001) + strings.Repeat("(has(a)) && ", 1000) + "has(b)"
	if _, err := Parse(many); err != nil {
		t.Errorf("flat selector: %v", err)
	}
	// A pathological input fails quickly without exhausting the stack.
	if _, err := Parse(strings.Repeat("(", 1<<20)); err == nil {
		t.Error("deep input parsed")
	}
}

func TestTokenLimit(t *testing.T) {
	// "has(a)" and "&&" are one token each.
	terms := func(n int) string { return strings.Repeat("has(a) && ", n-1) + "has(a)" }
	if _, err := Parse(terms((maxTokens + 1) / 2)); err != nil {
		t.Errorf("%d tokens: %v", maxTokens-1, err)
	}
	_, err := Parse(terms(maxTokens/2 + 1))
	var pe *ParseError
	// Token maxTokens+1 is the has(a) starting term maxTokens/2+1.
	if !errors.As(err, &pe) || pe.Column != maxTokens/2*len("has(a) && ")+1 || !strings.Contains(pe.Msg, "longer than") {
		t.Errorf("%d tokens: %v", maxTokens+1, err)
	}
}

func TestBlankIsAll(t *testing.T) {
	for _, in := range []string{"", " ", "\t", "  \t  ", "all()", " all() ", " (all() )", "((all()))", "!!all()"} {
		s, err := Parse(in)
		if err != nil || !s.IsAll() || s != All() || s != (Selector{}) {
			t.Errorf("Parse(%q) = %q, %v; want all()", in, s, err)
		}
	}
	for _, in := range []string{"all() && all()", "!all()", "global()", "has(a) || all()"} {
		if s := MustParse(in); s.IsAll() {
			t.Errorf("Parse(%q).IsAll() = true", in)
		}
	}
}
