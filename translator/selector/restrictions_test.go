package selector

import (
	"reflect"
	"testing"
)

// TestLabelRestrictions: the top-level conjuncts an index can use, and none
// from a disjunction or a negation.
func TestLabelRestrictions(t *testing.T) {
	for _, tc := range []struct {
		sel  string
		want []LabelRestriction
	}{
		{"all()", nil},
		{"app == 'web'", []LabelRestriction{{"app", []string{"web"}}}},
		{`ns == "n" && app in {"db", "api", "db"}`, []LabelRestriction{{"ns", []string{"n"}}, {"app", []string{"api", "db"}}}},
		{"has(app) && !has(version)", []LabelRestriction{{Key: "app"}}},
		{"app == 'web' || role == 'db'", nil},
		{"(app == 'web' || role == 'db') && x == 'y'", []LabelRestriction{{"x", []string{"y"}}}},
		{"!(a == 'b' && c == 'd')", nil},
		{"!!(a == 'b')", []LabelRestriction{{"a", []string{"b"}}}},
		{"a == 'has(b) && c == \"d\"'", []LabelRestriction{{"a", []string{`has(b) && c == "d"`}}}},
		{`a == "it's" && b in {"x || y"}`, []LabelRestriction{{"a", []string{"it's"}}, {"b", []string{"x || y"}}}},
		{"a in {}", []LabelRestriction{{"a", []string{}}}},
		{"a != 'b' && c starts with 'd' && global()", nil},
	} {
		if got := MustParse(tc.sel).LabelRestrictions(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.sel, got, tc.want)
		}
	}
}
