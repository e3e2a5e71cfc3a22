package audit

import "github.com/prometheus/client_golang/prometheus"

// Metric descriptions of the audit log.
var (
	linesDesc = prometheus.NewDesc("flowgate_audit_log_lines_total",
		"Audit log lines written (one per logged connection).", []string{"bridge"}, nil)
	droppedDesc = prometheus.NewDesc("flowgate_audit_log_dropped_total",
		"Logged connections not written for lack of capacity, by where they were dropped: switch (the controller meter), rate (the agent's limit), queue (the writer's queue was full).",
		[]string{"bridge", "stage"}, nil)
	duplicatesDesc = prometheus.NewDesc("flowgate_audit_log_duplicates_total",
		"Packets of a connection already logged (retransmitted first packets).", []string{"bridge"}, nil)
	unresolvedDesc = prometheus.NewDesc("flowgate_audit_log_unresolved_total",
		"Logged packets that named no rule of the current policy.", []string{"bridge"}, nil)
	writeErrorsDesc = prometheus.NewDesc("flowgate_audit_log_write_errors_total",
		"Audit log lines the destination refused.", []string{"bridge"}, nil)
)

// collector exports a logger's counters.
type collector struct{ l *Logger }

// Register exports the logger's counters to reg (the agent's metrics
// registry).
func (l *Logger) Register(reg prometheus.Registerer) error {
	return reg.Register(collector{l})
}

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{linesDesc, droppedDesc, duplicatesDesc, unresolvedDesc, writeErrorsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	n := c.l.Counts()
	br := c.l.cfg.Bridge
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{br}, labels...)...)
	}
	counter(linesDesc, n.Lines)
	counter(droppedDesc, n.SwitchDropped, "switch")
	counter(droppedDesc, n.RateDropped, "rate")
	counter(droppedDesc, n.QueueDropped, "queue")
	counter(duplicatesDesc, n.Duplicates)
	counter(unresolvedDesc, n.Unresolved)
	counter(writeErrorsDesc, n.WriteErrors)
}
