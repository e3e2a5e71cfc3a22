package agent

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowgate/flowgate/endpoints/state"
)

// health is what /healthz, /readyz and /metrics report.
type health struct {
	mu       sync.Mutex
	lastBeat time.Time
	synced   bool
	lastErr  error
	syncs    int
	failures int
	lastTook time.Duration
	flowOps  int
	// blocked are the input files with no good state: the agent does not
	// program while there are any (inputsIncomplete).
	blocked []error
	// stores are the state directories' stores, for their write failures.
	stores []*state.Store
	// enforced is served as /objects (enforced.go).
	enforced EnforcedObjects

	// held and invalid are the last realization's held ports and invalid
	// objects.
	held, invalid int
	// counters is where scrapes read the flow counters (nil: not yet);
	// ruleNames names the rules they count, maxRuleSeries bounds them.
	counters       *bridgeCounters
	ruleNames      counterNames
	maxRuleSeries  int
	flowReadErrors int

	// registry is what /metrics serves (metrics.go); other parts of the
	// agent register their collectors on it (Registerer).
	registry                                                *prometheus.Registry
	latency                                                 prometheus.Histogram
	verifyRuns, verifyTraced, verifyDisagreed, verifyErrors prometheus.Counter
	verifyMismatched                                        prometheus.Counter
	verifyLastMismatches                                    prometheus.Gauge
	verifyLast                                              prometheus.Gauge
}

func newHealth() *health {
	h := &health{lastBeat: time.Now(), maxRuleSeries: 500}
	h.registry = h.newRegistry()
	return h
}

// Registerer is where the agent's other parts register their metrics, so
// that /metrics serves them with the rest.
func (h *health) Registerer() prometheus.Registerer { return h.registry }

func (h *health) beat() {
	h.mu.Lock()
	h.lastBeat = time.Now()
	h.mu.Unlock()
}

func (h *health) record(st RealizeStats, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.syncs++
	h.lastErr = err
	if err != nil {
		h.failures++
		return
	}
	h.synced = true
	h.lastTook = st.Took
	h.flowOps += st.Flows
	h.invalid = st.Problems
	h.latency.Observe(st.Took.Seconds())
}

// setHeld records how many ports the last realization holds.
func (h *health) setHeld(n int) {
	h.mu.Lock()
	h.held = n
	h.mu.Unlock()
}

// setRules records the names of the compiled rules, for the per-rule
// counters.
func (h *health) setRules(names counterNames) {
	h.mu.Lock()
	h.ruleNames = names
	h.mu.Unlock()
}

// recordVerify exports one self-verification run.
func (h *health) recordVerify(rep VerifyReport, err error) {
	h.verifyRuns.Inc()
	if err != nil {
		h.verifyErrors.Inc()
		return
	}
	h.verifyTraced.Add(float64(rep.Traced))
	h.verifyDisagreed.Add(float64(len(rep.Disagreed)))
	h.verifyLast.Set(float64(len(rep.Disagreed)))
	h.verifyMismatched.Add(float64(len(rep.RuleMismatches)))
	h.verifyLastMismatches.Set(float64(len(rep.RuleMismatches)))
}

// block records the input files without a good state and reports
// whether that changed.
func (h *health) block(errs []error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := fmt.Sprint(errs) != fmt.Sprint(h.blocked)
	h.blocked = errs
	return changed
}

// serve starts the health endpoints on addr.
func (h *health) serve(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		stale := time.Since(h.lastBeat) > time.Minute
		h.mu.Unlock()
		if stale {
			http.Error(w, "agent loop stuck", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch {
		case len(h.blocked) > 0:
			http.Error(w, "not programming: input without a good state: "+errors.Join(h.blocked...).Error(), http.StatusServiceUnavailable)
		case !h.synced:
			http.Error(w, "not synced yet", http.StatusServiceUnavailable)
		case h.lastErr != nil:
			http.Error(w, "last sync failed: "+h.lastErr.Error(), http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ok")
			for _, st := range h.stores {
				if s := st.Status(); s.LastErr != nil {
					fmt.Fprintf(w, "warning: enforcing, but the last good state is not saved: %v\n", s.LastErr)
				}
			}
		}
	})
	mux.Handle("/metrics", h.metricsHandler())
	mux.Handle("/objects", &h.enforced)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// metricsHandler serves the registry in Prometheus' text format.
func (h *health) metricsHandler() http.Handler {
	return promhttp.HandlerFor(h.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// serveMetrics serves /metrics alone on addr (config metricsAddress), for
// a scrape from off the host without exposing /objects.
func (h *health) serveMetrics(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h.metricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
