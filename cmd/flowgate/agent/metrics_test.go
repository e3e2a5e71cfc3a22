package agent

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// flowCounters is a collector of fixed flows, for collectFlowCounters.
type flowCounters struct {
	flows []openflow.FlowStat
	names counterNames
	max   int
}

func (f flowCounters) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTableFlows, descRulePackets, descRuleBytes, descDefaultPkts} {
		ch <- d
	}
}

func (f flowCounters) Collect(ch chan<- prometheus.Metric) {
	collectFlowCounters(ch, f.flows, nil, f.names, f.max)
}

// TestRuleSeriesCapped: with metricsMaxRuleSeries 1 and three rules, one
// rule (the lowest rule id) has its own named series and the other two
// are summed, packets and bytes, into policy="_other"; each tier default
// is a series of its own named by its tier.
func TestRuleSeriesCapped(t *testing.T) {
	ck := func(cat uint8, id uint32) uint64 { return uint64(compiler.NewCookie(1, cat, true, id)) }
	flows := []openflow.FlowStat{
		{Cookie: ck(compiler.CategoryRule, 0x1000), Table: 61, Packets: 1, Bytes: 100},
		{Cookie: ck(compiler.CategoryRule, 0x1000), Table: 61, Packets: 2, Bytes: 200},
		{Cookie: ck(compiler.CategoryRule, 0x2000), Table: 61, Packets: 4, Bytes: 400},
		{Cookie: ck(compiler.CategoryRule, 0x3001), Table: 61, Packets: 8, Bytes: 800},
		{Cookie: ck(compiler.CategoryTierEnd, 0x77), Table: compiler.TableIngressTierEnd.ID, Packets: 16, Bytes: 1600},
	}
	names := counterNames{
		rules: map[ruleKey]compiler.RuleName{{ingress: true, id: 0x1000}: {Tier: "default", Policy: "prod/p", Index: 0, Action: policy.Allow}},
		tiers: map[uint32]string{0x77: "security"},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(flowCounters{flows: flows, names: names, max: 1})
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	samples := regexp.MustCompile(`(?m)^flowgate_rule_packets_total\{`).FindAllString(body, -1)
	if len(samples) != 2 {
		t.Errorf("%d rule packet series, want 2 (one named, _other):\n%s", len(samples), body)
	}
	for name, want := range map[string]float64{
		`flowgate_rule_packets_total{action="Allow",direction="ingress",policy="prod/p",rule="0",tier="default"}`: 3,
		`flowgate_rule_bytes_total{action="Allow",direction="ingress",policy="prod/p",rule="0",tier="default"}`:   300,
		`flowgate_rule_packets_total{action="",direction="ingress",policy="_other",rule="",tier=""}`:              12,
		`flowgate_rule_bytes_total{action="",direction="ingress",policy="_other",rule="",tier=""}`:                1200,
		`flowgate_default_packets_total{default="end of tier: deny",direction="ingress",tier="security"}`:         16,
	} {
		if got := sample(body, name); got != want {
			t.Errorf("%s = %v, want %v\n%s", name, got, want, body)
		}
	}
}

// sample is the value of the sample line name (with its labels), -1 when
// absent.
func sample(body, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}
