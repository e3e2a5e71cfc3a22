package selector

import (
	"fmt"
	"strings"
	"testing"
)

var benchLabels = Set{
	"app":                    "web",
	"tier":                   "frontend",
	"env":                    "prod",
	"version":                "v1.2.3",
	"app.kubernetes.io/name": "shop",
	NamespaceLabel:           "default",
	"pcns.team":              "payments",
}

func manyValues(n int) string {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprintf("%q", fmt.Sprintf("ns-%03d", i))
	}
	return strings.Join(vals, ", ")
}

var benchSelectors = []struct{ name, sel string }{
	{"all", `all()`},
	{"eq", `app == "web"`},
	{"and3", `app == "web" && tier == "frontend" && env != "dev"`},
	{"in3", `tier in {"backend", "frontend", "db"}`},
	{"in100", `pcns.team in {` + manyValues(100) + `, "payments"}`},
	{"strings", `version starts with "v1." && app.kubernetes.io/name contains "ho" && env ends with "od"`},
	{"complex", `(app == "api" || app == "web") && !has(quarantine) && (global() || projectcalico.org/namespace in {"default", "prod"})`},
	{"miss", `has(missing) || absent == "x" || gone in {"a", "b"}`},
}

func BenchmarkMatches(b *testing.B) {
	for _, c := range benchSelectors {
		s := MustParse(c.sel)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Matches(benchLabels)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range benchSelectors {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(c.sel); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
