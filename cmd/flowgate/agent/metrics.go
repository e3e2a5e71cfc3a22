package agent

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// Version is the agent's version for flowgate_build_info (the command
// sets it from its build).
var Version = "dev"

// counterNames name what the flow counters count: each compiled rule
// and each tier number.
type counterNames struct {
	rules map[ruleKey]compiler.RuleName
	tiers map[uint32]string
}

// ruleKey is one rule of one direction, as cookies carry it.
type ruleKey struct {
	ingress bool
	id      uint32
}

// bridgeCounters says where the per-scrape flow dump reads from.
type bridgeCounters struct {
	bridge, match string
	env           []string
	shared        *compiler.Shared
}

// Metric descriptions of the values the health struct keeps; their names
// are the ones the hand-written /metrics had (docs, tests and dashboards
// use them).
var (
	descRealizations  = prometheus.NewDesc("flowgate_realizations_total", "Policy realizations attempted.", nil, nil)
	descFailures      = prometheus.NewDesc("flowgate_realization_failures_total", "Realizations that failed.", nil, nil)
	descFlowOps       = prometheus.NewDesc("flowgate_flow_operations_total", "Flow adds, deletes and modifies applied.", nil, nil)
	descBlocked       = prometheus.NewDesc("flowgate_inputs_without_good_state", "Input files with no good state; the agent does not program while it is not 0.", nil, nil)
	descSaveFailures  = prometheus.NewDesc("flowgate_state_save_failures_total", "Failed writes of a last good state to the state directory.", nil, nil)
	descSaveFailing   = prometheus.NewDesc("flowgate_state_save_failing", "1 while the last write to the state directory failed.", nil, nil)
	descLastTook      = prometheus.NewDesc("flowgate_last_realization_seconds", "Time the last realization took.", nil, nil)
	descHeld          = prometheus.NewDesc("flowgate_held_ports", "Workload ports bound to no endpoint, whose traffic is dropped until it is realized.", nil, nil)
	descInvalid       = prometheus.NewDesc("flowgate_invalid_objects", "Objects of the last realization left out as invalid (their last good version, if any, stays enforced).", nil, nil)
	descTableFlows    = prometheus.NewDesc("flowgate_table_flows", "Flows in each table of the bridge (read at scrape).", []string{"table"}, nil)
	descRulePackets   = prometheus.NewDesc("flowgate_rule_packets_total", "Packets that matched a policy rule's flows: the first packet of each connection (every packet in the cut modes). One series per rule and direction up to metricsMaxRuleSeries; the rest are summed into policy=\"_other\".", []string{"direction", "tier", "policy", "rule", "action"}, nil)
	descRuleBytes     = prometheus.NewDesc("flowgate_rule_bytes_total", "Bytes of the packets counted by flowgate_rule_packets_total.", []string{"direction", "tier", "policy", "rule", "action"}, nil)
	descDefaultPkts   = prometheus.NewDesc("flowgate_default_packets_total", "Packets decided by a default: the end of a tier (the tier label names it) or an endpoint's default.", []string{"direction", "default", "tier"}, nil)
	descFlowReadError = prometheus.NewDesc("flowgate_flow_read_errors_total", "Scrapes whose read of the bridge's flow counters failed.", nil, nil)
)

// newRegistry builds the agent's Prometheus registry: the health values,
// the bridge's counters (read at scrape), the realization latency, the
// verify results, build info and the Go and process collectors.
func (h *health) newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	h.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "flowgate_realization_seconds",
		Help:    "Time each successful realization took, from reading the change to the flows installed.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
	})
	h.verifyRuns = prometheus.NewCounter(prometheus.CounterOpts{Name: "flowgate_verify_runs_total", Help: "Self-verification runs (config verify)."})
	h.verifyTraced = prometheus.NewCounter(prometheus.CounterOpts{Name: "flowgate_verify_connections_total", Help: "Connections self-verification traced through the bridge."})
	h.verifyDisagreed = prometheus.NewCounter(prometheus.CounterOpts{Name: "flowgate_verify_disagreements_total", Help: "Traced connections the bridge decided differently from the evaluator."})
	h.verifyLast = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowgate_verify_last_disagreements", Help: "Disagreements found by the last self-verification run (0: the bridge enforces the policy)."})
	h.verifyMismatched = prometheus.NewCounter(prometheus.CounterOpts{Name: "flowgate_verify_rule_mismatches_total", Help: "Traced connections the bridge decided as the evaluator does but by another rule (or a default where the evaluator names a rule, or the reverse)."})
	h.verifyLastMismatches = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowgate_verify_last_rule_mismatches", Help: "Rule mismatches found by the last self-verification run."})
	h.verifyErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "flowgate_verify_errors_total", Help: "Self-verification runs that could not trace."})
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowgate_build_info", Help: "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": Version, "goversion": runtime.Version()}})
	build.Set(1)
	reg.MustRegister(h, h.latency, h.verifyRuns, h.verifyTraced, h.verifyDisagreed, h.verifyLast, h.verifyErrors, h.verifyMismatched, h.verifyLastMismatches, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Describe sends the descriptions of Collect's metrics.
func (h *health) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(h, ch) }

// Collect sends the health values and, when the bridge is known, its flow
// counters per table and per rule.
func (h *health) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter(descRealizations, float64(h.syncs))
	counter(descFailures, float64(h.failures))
	counter(descFlowOps, float64(h.flowOps))
	gauge(descBlocked, float64(len(h.blocked)))
	fails, failing := 0, 0
	for _, st := range h.stores {
		s := st.Status()
		fails += s.Failures
		if s.LastErr != nil {
			failing = 1
		}
	}
	counter(descSaveFailures, float64(fails))
	gauge(descSaveFailing, float64(failing))
	gauge(descLastTook, h.lastTook.Seconds())
	gauge(descHeld, float64(h.held))
	gauge(descInvalid, float64(h.invalid))
	src, names, max := h.counters, h.ruleNames, h.maxRuleSeries
	h.mu.Unlock()
	if src == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	flows, err := openflow.DumpFlowStats(ctx, src.bridge, src.match, src.env)
	h.mu.Lock()
	if err != nil {
		h.flowReadErrors++
	}
	counter(descFlowReadError, float64(h.flowReadErrors))
	h.mu.Unlock()
	if err != nil {
		logrus.WithError(err).Warn("metrics: cannot read the bridge's flow counters")
		return
	}
	collectFlowCounters(ch, flows, src.shared, names, max)
}

// collectFlowCounters sends flows per table, per-rule counters (at most
// max rule series, the rest summed into policy="_other") and default
// counters.
func collectFlowCounters(ch chan<- prometheus.Metric, flows []openflow.FlowStat, shared *compiler.Shared, names counterNames, max int) {
	perTable := map[uint8]int{}
	for _, f := range flows {
		perTable[f.Table]++
	}
	for t, n := range perTable {
		ch <- prometheus.MustNewConstMetric(descTableFlows, prometheus.GaugeValue, float64(n), fmt.Sprint(t))
	}
	stats := RuleStats(flows, nil, shared)
	sort.Slice(stats, func(i, j int) bool { return stats[i].RuleID < stats[j].RuleID })
	type labels struct{ dir, tier, pol, rule, action string }
	sums := map[labels][2]uint64{}
	series := 0
	for _, s := range stats {
		if s.Default != "" {
			tier := ""
			if s.TierNumber != 0 {
				tier = fmt.Sprintf("number %#x", s.TierNumber)
				if name, ok := names.tiers[s.TierNumber]; ok {
					tier = name
				}
			}
			ch <- prometheus.MustNewConstMetric(descDefaultPkts, prometheus.CounterValue, float64(s.Packets), s.Direction, s.Default, tier)
			continue
		}
		l := labels{dir: s.Direction, pol: "_other", rule: "", tier: "", action: ""}
		if series < max {
			series++
			l = labels{dir: s.Direction, pol: fmt.Sprintf("number %#x", s.RuleID>>11), rule: fmt.Sprintf("slot %d", s.RuleID&0x7ff)}
			if n, ok := names.rules[ruleKey{ingress: s.Direction == policy.Ingress.String(), id: s.RuleID}]; ok {
				l = labels{dir: s.Direction, tier: n.Tier, pol: n.Policy, rule: fmt.Sprint(n.Index), action: n.Action.String()}
			}
		}
		v := sums[l]
		sums[l] = [2]uint64{v[0] + s.Packets, v[1] + s.Bytes}
	}
	for l, v := range sums {
		ch <- prometheus.MustNewConstMetric(descRulePackets, prometheus.CounterValue, float64(v[0]), l.dir, l.tier, l.pol, l.rule, l.action)
		ch <- prometheus.MustNewConstMetric(descRuleBytes, prometheus.CounterValue, float64(v[1]), l.dir, l.tier, l.pol, l.rule, l.action)
	}
}

// ruleNames names every compiled rule of the world's policies by the
// rule id its flows' cookies carry (docs/pipeline.md: policy number << 11
// | slot), and every tier by its number, for the per-rule and per-default
// metrics.
func ruleNames(comp *compiler.Compiler, w *policy.World) counterNames {
	out := map[ruleKey]compiler.RuleName{}
	if comp == nil || w == nil {
		return counterNames{rules: out}
	}
	names := counterNames{rules: out, tiers: comp.TierNames()}
	for _, p := range w.Policies {
		num, ok := comp.PolicyNumber(p.ID())
		if !ok {
			continue
		}
		for _, dir := range []policy.Direction{policy.Egress, policy.Ingress} {
			for slot := range len(p.Rules(dir)) {
				id := num<<11 | uint32(slot)
				if n, ok := comp.RuleOf(id, dir); ok {
					out[ruleKey{ingress: dir == policy.Ingress, id: id}] = n
				}
			}
		}
	}
	return names
}
