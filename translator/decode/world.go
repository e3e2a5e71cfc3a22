package decode

import (
	"fmt"

	"github.com/flowgate/flowgate/translator/policy"
)

// Build assembles decoded objects into a World. Cross-object problems —
// two objects with one kind/namespace/name (an *Error wrapping a
// *DuplicateError, naming both places), a policy in a tier that does not
// exist — are reported against the later object, which is left out;
// everything else is kept. Callers that enforce must treat any error as
// "the input is invalid" and not enforce this world (the first of two
// duplicates is not necessarily the one meant).
func Build(objs []Object) (*policy.World, []error) {
	w := policy.NewWorld()
	var errs []error
	// Keyed by the parts of Ref, not Ref itself: Build runs on every
	// change the agent sees, over every object, and building 100,000
	// strings each time showed in its profile.
	type ref struct{ kind, namespace, name string }
	seen := make(map[ref]Origin, len(objs))
	reject := func(o *Object, field string, err error) {
		errs = append(errs, &Error{File: o.Origin.File, Line: o.Origin.Line, Object: o.Ref(), Field: field, Err: err})
	}
	unique := func(o *Object) bool {
		key := ref{o.Kind, o.Namespace, o.Name}
		if first, dup := seen[key]; dup {
			reject(o, "metadata.name", &DuplicateError{First: first})
			return false
		}
		seen[key] = o.Origin
		return true
	}
	// Tiers first so policies can be checked against them.
	for i := range objs {
		o := &objs[i]
		if t, ok := o.Value.(*policy.Tier); ok && unique(o) {
			w.Tiers[t.Name] = t
		}
	}
	for i := range objs {
		o := &objs[i]
		switch v := o.Value.(type) {
		case *policy.Tier:
		case *policy.Policy:
			if w.Tier(v.Tier) == nil {
				reject(o, "spec.tier", fmt.Errorf("tier %q does not exist", v.Tier))
				continue
			}
			if unique(o) {
				w.Policies = append(w.Policies, v)
			}
		case *policy.StagedPolicy:
			if v.Action == policy.StagedSet && w.Tier(v.Policy.Tier) == nil {
				reject(o, "spec.tier", fmt.Errorf("tier %q does not exist", v.Policy.Tier))
				continue
			}
			if unique(o) {
				w.Staged = append(w.Staged, v)
			}
		case *policy.Namespace:
			if unique(o) {
				w.Namespaces[v.Name] = v
			}
		case *policy.ServiceAccount:
			if unique(o) {
				w.ServiceAccounts[v.Namespace+"/"+v.Name] = v
			}
		case *policy.NetworkSet:
			if unique(o) {
				w.NetworkSets = append(w.NetworkSets, v)
			}
		case *policy.Endpoint:
			if unique(o) {
				w.Endpoints = append(w.Endpoints, v)
			}
		default:
			reject(o, "", fmt.Errorf("internal error: unexpected value %T", v))
		}
	}
	return w, errs
}

// DuplicateError is the problem of an object whose kind, namespace and
// name another object of the input already has; the *Error that wraps it
// locates the second. Tools that hold state per file (the agent) find
// both files with errors.As.
type DuplicateError struct {
	// First is where the same kind/namespace/name was defined first.
	First Origin
}

func (d *DuplicateError) Error() string {
	return fmt.Sprintf("duplicate name: already defined at %s:%d", d.First.File, d.First.Line)
}
