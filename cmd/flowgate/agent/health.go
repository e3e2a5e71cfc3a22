package agent

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

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
}

func newHealth() *health { return &health{lastBeat: time.Now()} }

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
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		fmt.Fprintf(w, "# HELP flowgate_realizations_total Policy realizations attempted.\n# TYPE flowgate_realizations_total counter\nflowgate_realizations_total %d\n", h.syncs)
		fmt.Fprintf(w, "# HELP flowgate_realization_failures_total Realizations that failed.\n# TYPE flowgate_realization_failures_total counter\nflowgate_realization_failures_total %d\n", h.failures)
		fmt.Fprintf(w, "# HELP flowgate_flow_operations_total Flow adds, deletes and modifies applied.\n# TYPE flowgate_flow_operations_total counter\nflowgate_flow_operations_total %d\n", h.flowOps)
		fmt.Fprintf(w, "# HELP flowgate_inputs_without_good_state Input files with no good state; the agent does not program while it is not 0.\n# TYPE flowgate_inputs_without_good_state gauge\nflowgate_inputs_without_good_state %d\n", len(h.blocked))
		fails, failing := 0, 0
		for _, st := range h.stores {
			s := st.Status()
			fails += s.Failures
			if s.LastErr != nil {
				failing = 1
			}
		}
		fmt.Fprintf(w, "# HELP flowgate_state_save_failures_total Failed writes of a last good state to the state directory.\n# TYPE flowgate_state_save_failures_total counter\nflowgate_state_save_failures_total %d\n", fails)
		fmt.Fprintf(w, "# HELP flowgate_state_save_failing 1 while the last write to the state directory failed.\n# TYPE flowgate_state_save_failing gauge\nflowgate_state_save_failing %d\n", failing)
		fmt.Fprintf(w, "# HELP flowgate_last_realization_seconds Time the last realization took.\n# TYPE flowgate_last_realization_seconds gauge\nflowgate_last_realization_seconds %g\n", h.lastTook.Seconds())
	})
	mux.Handle("/objects", &h.enforced)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
