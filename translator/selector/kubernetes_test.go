package selector

import (
	"strings"
	"testing"
)

func TestFromKubernetes(t *testing.T) {
	for _, c := range []struct {
		name   string
		labels map[string]string
		exprs  []Requirement
		want   string
	}{
		{"empty", nil, nil, `all()`},
		{"empty non-nil", map[string]string{}, []Requirement{}, `all()`},
		{"matchLabels sorted", map[string]string{"b": "2", "a": "1", "app.kubernetes.io/name": "web"},
			nil, `a == "1" && app.kubernetes.io/name == "web" && b == "2"`},
		{"empty value", map[string]string{"a": ""}, nil, `a == ""`},
		{"In", nil, []Requirement{{Key: "k", Operator: "In", Values: []string{"y", "x", "y"}}}, `k in {"x", "y"}`},
		{"NotIn", nil, []Requirement{{Key: "k", Operator: "NotIn", Values: []string{"x"}}}, `k not in {"x"}`},
		{"Exists", nil, []Requirement{{Key: "k", Operator: "Exists"}}, `has(k)`},
		{"DoesNotExist", nil, []Requirement{{Key: "k", Operator: "DoesNotExist", Values: []string{}}}, `!has(k)`},
		{"combined", map[string]string{"app": "web"}, []Requirement{
			{Key: "tier", Operator: "In", Values: []string{"fe", "be"}},
			{Key: "example.com/quarantine", Operator: "DoesNotExist"},
		}, `app == "web" && tier in {"be", "fe"} && !has(example.com/quarantine)`},
	} {
		s, err := FromKubernetes(c.labels, c.exprs)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s.String() != c.want {
			t.Errorf("%s: got %q, want %q", c.name, s, c.want)
		}
	}
}

func TestFromKubernetesSemantics(t *testing.T) {
	s, err := FromKubernetes(map[string]string{"app": "web"}, []Requirement{
		{Key: "env", Operator: "NotIn", Values: []string{"prod"}},
		{Key: "debug", Operator: "DoesNotExist"},
		{Key: "tier", Operator: "In", Values: []string{"fe"}},
		{Key: "team", Operator: "Exists"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		l    Set
		want bool
	}{
		{Set{"app": "web", "tier": "fe", "team": ""}, true}, // absent env and debug satisfy NotIn and DoesNotExist
		{Set{"app": "web", "tier": "fe", "team": "", "env": "dev"}, true},
		{Set{"app": "web", "tier": "fe", "team": "", "env": "prod"}, false},
		{Set{"app": "web", "tier": "fe", "team": "", "debug": ""}, false},
		{Set{"app": "web", "tier": "fe"}, false},
		{Set{"app": "web", "team": ""}, false},
		{Set{"app": "db", "tier": "fe", "team": ""}, false},
	} {
		if got := s.Matches(c.l); got != c.want {
			t.Errorf("Matches(%v) = %v, want %v", c.l, got, c.want)
		}
	}
}

func TestFromKubernetesDeterministic(t *testing.T) {
	labels := map[string]string{}
	for _, k := range strings.Fields("q w e r t y u i o p a s d f g h j k l z x c v b n m") {
		labels[k] = k
	}
	first, err := FromKubernetes(labels, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if s, _ := FromKubernetes(labels, nil); s.String() != first.String() {
			t.Fatalf("output varies: %q vs %q", s, first)
		}
	}
}

func TestFromKubernetesInvalid(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	for _, c := range []struct {
		name   string
		labels map[string]string
		exprs  []Requirement
		want   []string // fragments that must all appear in the error
	}{
		{"unknown operator", nil, []Requirement{{Key: "k", Operator: "Gt", Values: []string{"1"}}},
			[]string{`matchExpressions[0].operator "Gt": unknown operator`}},
		{"lower-case operator", nil, []Requirement{{Key: "k", Operator: "in", Values: []string{"1"}}},
			[]string{`operator "in": unknown operator`}},
		{"empty operator", nil, []Requirement{{Key: "k"}}, []string{`operator "": unknown operator`}},
		{"In without values", nil, []Requirement{{Key: "k", Operator: "In"}},
			[]string{"matchExpressions[0].values: must be non-empty when operator is In"}},
		{"NotIn without values", nil, []Requirement{{Key: "k", Operator: "NotIn", Values: []string{}}},
			[]string{"must be non-empty when operator is NotIn"}},
		{"Exists with values", nil, []Requirement{{Key: "k", Operator: "Exists", Values: []string{"x"}}},
			[]string{"must be empty when operator is Exists"}},
		{"DoesNotExist with values", nil, []Requirement{{Key: "k", Operator: "DoesNotExist", Values: []string{""}}},
			[]string{"must be empty when operator is DoesNotExist"}},
		{"empty key", map[string]string{"": "x"}, nil, []string{`matchLabels[""] key "": name part must not be empty`}},
		{"key with space", map[string]string{"a b": "x"}, nil, []string{`key "a b": name part must consist of`}},
		{"key starts with dash", nil, []Requirement{{Key: "-a", Operator: "Exists"}}, []string{`matchExpressions[0].key "-a": name part`}},
		{"key ends with dot", nil, []Requirement{{Key: "a.", Operator: "Exists"}}, []string{`key "a.": name part`}},
		{"two slashes", map[string]string{"a/b/c": "x"}, nil, []string{"single '/'"}},
		{"empty prefix", map[string]string{"/c": "x"}, nil, []string{"prefix before '/' must not be empty"}},
		{"empty name", map[string]string{"a/": "x"}, nil, []string{"name part must not be empty"}},
		{"upper-case prefix", map[string]string{"Example.com/c": "x"}, nil, []string{"prefix must be a lowercase RFC 1123 subdomain"}},
		{"prefix with underscore", map[string]string{"ex_ample.com/c": "x"}, nil, []string{"RFC 1123"}},
		{"prefix empty label", map[string]string{"a..b/c": "x"}, nil, []string{"RFC 1123"}},
		{"long prefix", map[string]string{strings.Repeat("a.", 127) + "a/c": "x"}, nil, []string{"prefix must be no more than 253 bytes"}},
		{"long name", map[string]string{long63 + "a": "x"}, nil, []string{"name part must be no more than 63 bytes"}},
		{"quote in key", map[string]string{`a"`: "x"}, nil, []string{"name part"}},
		{"value with space", map[string]string{"a": "x y"}, nil, []string{`matchLabels["a"] value "x y": must be empty or consist of`}},
		{"value with quote", nil, []Requirement{{Key: "a", Operator: "In", Values: []string{"ok", `it's`}}},
			[]string{`matchExpressions[0].values[1] "it's"`}},
		{"value starts with dash", map[string]string{"a": "-x"}, nil, []string{`value "-x"`}},
		{"long value", map[string]string{"a": long63 + "b"}, nil, []string{"must be no more than 63 bytes"}},
		{"all problems reported", map[string]string{"a b": "ok", "c": "x y"},
			[]Requirement{{Key: "ok", Operator: "Exists"}, {Key: "k", Operator: "Foo"}},
			[]string{`key "a b"`, `value "x y"`, `matchExpressions[1].operator "Foo"`}},
	} {
		s, err := FromKubernetes(c.labels, c.exprs)
		if err == nil {
			t.Errorf("%s: got %q, want error", c.name, s)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.name, err, w)
			}
		}
		if s != (Selector{}) {
			t.Errorf("%s: non-zero selector returned with error", c.name)
		}
	}
}

func TestFromKubernetesValidEdgeCases(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	prefix253 := strings.Repeat("a.", 126) + "a"
	for _, k := range []string{"a", "A", "0", "a-b_c.d", "example.com/My_Name.x", "a-1.b-2/c", prefix253 + "/" + long63, NamespaceLabel} {
		if _, err := FromKubernetes(map[string]string{k: long63}, nil); err != nil {
			t.Errorf("key %q: %v", k, err)
		}
	}
	for _, v := range []string{"", "a", "A-b_c.9", long63} {
		if _, err := FromKubernetes(nil, []Requirement{{Key: "k", Operator: "In", Values: []string{v}}}); err != nil {
			t.Errorf("value %q: %v", v, err)
		}
	}
}
