package agent

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
)

// TestEnforcedObjectsReadOnly: /objects answers GET only, 503 before the
// first realization, and refuses (500) rather than serve a world with an
// object it has no document for — half a world would read as policy
// removed.
func TestEnforcedObjectsReadOnly(t *testing.T) {
	var o EnforcedObjects
	get := func(method string) (int, string) {
		rec := httptest.NewRecorder()
		o.ServeHTTP(rec, httptest.NewRequest(method, "/objects", nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get(http.MethodGet); code != http.StatusServiceUnavailable {
		t.Errorf("before the first realization: %d", code)
	}
	objs, errs := decode.Decode("t.yaml", []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	o.Set(objs)
	if code, body := get(http.MethodGet); code != http.StatusOK || !strings.Contains(body, `"kind":"List"`) || !strings.Contains(body, `"name":"prod"`) {
		t.Errorf("GET: %d %s", code, body)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if code, _ := get(m); code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, code)
		}
	}
	o.Set(append(objs, decode.NewObject(decode.ObjectInfo{Kind: "Namespace", Name: "native"})))
	if code, body := get(http.MethodGet); code != http.StatusInternalServerError || !strings.Contains(body, "Namespace native") {
		t.Errorf("an object without a document: %d %s", code, body)
	}
}
