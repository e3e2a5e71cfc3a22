package selector

// Labels is what a selector is evaluated against.
//
// It is an interface rather than a map so that callers can evaluate against
// labels that are assembled on the fly (an endpoint's own labels layered over
// its namespace's and service account's prefixed labels) without building a
// merged map for every evaluation.
type Labels interface {
	// Get reports the value of the label key and whether it is present;
	// presence matters on its own because has(k) and != depend on it.
	Get(key string) (value string, ok bool)
}

// Set is a plain label map. It exists so that tests and simple callers can
// pass a map literal wherever [Labels] is wanted.
type Set map[string]string

// Get implements [Labels]; a nil Set behaves as an empty one.
func (s Set) Get(key string) (string, bool) {
	v, ok := s[key]
	return v, ok
}

// NamespaceLabel is the label Calico derives on every namespaced entity,
// holding the name of its namespace. Its absence is what marks an entity as
// non-namespaced, which is what global() tests for.
const NamespaceLabel = "projectcalico.org/namespace"
