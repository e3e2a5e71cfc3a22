package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/flowgate/flowgate/translator/decode"
)

// enforcedObjects are the objects the agent's last successful realization
// put in force, served read-only as GET /objects on the health address so
// that `flowgate diff` can compare a change with what the host enforces
// now. The objects are the sources' valid, decoded ones (files, Neutron
// JSON converted, Kubernetes) as one v1 List of their documents, which the
// decoders read back as they read any List.
type enforcedObjects struct {
	mu   sync.Mutex
	objs []decode.Object
	ok   bool
}

// set records what a successful realization enforces.
func (o *enforcedObjects) set(objs []decode.Object) {
	o.mu.Lock()
	o.objs, o.ok = objs, true
	o.mu.Unlock()
}

// ServeHTTP writes the List, or 503 before the first realization.
func (o *enforcedObjects) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only: GET only", http.StatusMethodNotAllowed)
		return
	}
	o.mu.Lock()
	objs, ok := o.objs, o.ok
	o.mu.Unlock()
	if !ok {
		http.Error(w, "nothing enforced yet", http.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"apiVersion":"v1","kind":"List","items":[`)
	for i, obj := range objs {
		if len(obj.Document) == 0 {
			// Half a world would read as policy removed: refuse.
			http.Error(w, obj.Ref()+" has no document to serve", http.StatusInternalServerError)
			return
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(obj.Document)
	}
	b.WriteString("]}\n")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}

// readAgentObjects fetches what the agent at addr (its health address)
// enforces and decodes it.
func readAgentObjects(ctx context.Context, addr string) ([]decode.Object, []error) {
	url := "http://" + addr + "/objects"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, []error{fmt.Errorf("agent %s: %w", addr, err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, []error{fmt.Errorf("read what the agent enforces (is it running, with healthAddress %s? or give --before): %w", addr, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, []error{fmt.Errorf("agent %s: %w", url, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, []error{fmt.Errorf("agent %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))}
	}
	if !json.Valid(body) {
		return nil, []error{fmt.Errorf("agent %s: not JSON", url)}
	}
	return decode.Decode(url, body)
}
