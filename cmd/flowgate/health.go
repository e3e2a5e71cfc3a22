package main

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
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
	// enforced is served as /objects (enforced.go).
	enforced enforcedObjects
}

func newHealth() *health { return &health{lastBeat: time.Now()} }

func (h *health) beat() {
	h.mu.Lock()
	h.lastBeat = time.Now()
	h.mu.Unlock()
}

func (h *health) record(st realizeStats, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.syncs++
	h.lastErr = err
	if err != nil {
		h.failures++
		return
	}
	h.synced = true
	h.lastTook = st.took
	h.flowOps += st.flows
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
		case !h.synced:
			http.Error(w, "not synced yet", http.StatusServiceUnavailable)
		case h.lastErr != nil:
			http.Error(w, "last sync failed: "+h.lastErr.Error(), http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		fmt.Fprintf(w, "# HELP flowgate_realizations_total Policy realizations attempted.\n# TYPE flowgate_realizations_total counter\nflowgate_realizations_total %d\n", h.syncs)
		fmt.Fprintf(w, "# HELP flowgate_realization_failures_total Realizations that failed.\n# TYPE flowgate_realization_failures_total counter\nflowgate_realization_failures_total %d\n", h.failures)
		fmt.Fprintf(w, "# HELP flowgate_flow_operations_total Flow adds, deletes and modifies applied.\n# TYPE flowgate_flow_operations_total counter\nflowgate_flow_operations_total %d\n", h.flowOps)
		fmt.Fprintf(w, "# HELP flowgate_last_realization_seconds Time the last realization took.\n# TYPE flowgate_last_realization_seconds gauge\nflowgate_last_realization_seconds %g\n", h.lastTook.Seconds())
	})
	mux.Handle("/objects", &h.enforced)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
