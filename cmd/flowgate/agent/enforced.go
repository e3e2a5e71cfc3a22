package agent

import (
	"bytes"
	"net/http"
	"sync"

	"github.com/flowgate/flowgate/translator/decode"
)

// EnforcedObjects are the objects the agent's last successful realization
// put in force, served read-only as GET /objects on the health address so
// that `flowgate diff` can compare a change with what the host enforces
// now. The objects are the sources' valid, decoded ones (files, Neutron
// JSON converted, Kubernetes) as one v1 List of their documents, which the
// decoders read back as they read any List.
type EnforcedObjects struct {
	mu   sync.Mutex
	objs []decode.Object
	ok   bool
}

// Set records what a successful realization enforces.
func (o *EnforcedObjects) Set(objs []decode.Object) {
	o.mu.Lock()
	o.objs, o.ok = objs, true
	o.mu.Unlock()
}

// ServeHTTP writes the List, or 503 before the first realization.
func (o *EnforcedObjects) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
