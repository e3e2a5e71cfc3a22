package selector

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors point inside the
// input, and that whatever it accepts has a canonical form that parses back
// to the same selector, with the same meaning, also after PrefixKeys and
// ReplaceAll.
func FuzzParse(f *testing.F) {
	for _, c := range evalCases {
		f.Add(c.sel)
	}
	for _, c := range invalidCases {
		f.Add(c.sel)
	}
	for _, c := range canonicalCases {
		f.Add(c.in)
	}
	probes := []Set{
		{},
		{"a": "b"},
		{"a": "", "b": "x", "c": "'"},
		{NamespaceLabel: "ns", "a": "1", "x": `"`},
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): error %T is not *ParseError", in, err)
			}
			if pe.Column < 1 || pe.Column > len(in)+1 || pe.Input != in {
				t.Fatalf("Parse(%q): bad error position %d", in, pe.Column)
			}
			_ = pe.Error()
			return
		}
		checkCanonical(t, in, s, probes)
		checkCanonical(t, in+" (prefixed)", s.PrefixKeys("p./"), nil)
		checkCanonical(t, in+" (replaced)", s.ReplaceAll(Has(NamespaceLabel)), nil)
		if Not(Not(s)) != s {
			t.Fatalf("%q: Not(Not(s)) != s", in)
		}
		_ = s.Keys()
	})
}

func checkCanonical(t *testing.T, in string, s Selector, probes []Set) {
	text := s.String()
	s2, err := Parse(text)
	if err != nil {
		t.Fatalf("%q: canonical form %q does not parse: %v", in, text, err)
	}
	if got := s2.String(); got != text {
		t.Fatalf("%q: canonical form %q re-parses as %q", in, text, got)
	}
	if s2 != s {
		t.Fatalf("%q: re-parsed selector %q is not == the original", in, text)
	}
	for _, l := range probes {
		if s.Matches(l) != s2.Matches(l) {
			t.Fatalf("%q: canonical form %q disagrees on %v", in, text, l)
		}
	}
}
