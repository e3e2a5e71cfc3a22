package decode

import (
	"errors"
	"fmt"
	"sort"

	"github.com/flowgate/flowgate/translator/policy"
)

// WorldWarnings are the warnings only a whole world shows (each object's
// own are in Object.Warnings): cluster-scoped policies of equal priority
// in one tier that both apply, in one direction, to an endpoint of the
// world — the API leaves their order undefined; flowgate orders them by
// name. Like Object.Warnings they are *Error values for valid input.
func WorldWarnings(objs []Object, w *policy.World) []error {
	var out []error
	origin := map[*policy.Policy]*Object{}
	for i := range objs {
		o := &objs[i]
		p, ok := o.Value.(*policy.Policy)
		if !ok || !isClusterKind(p.Kind) {
			continue
		}
		origin[p] = o
	}
	var ps []*policy.Policy
	for _, p := range w.Policies {
		if origin[p] != nil {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Before(ps[j]) })
	for i, p := range ps {
		for _, q := range ps[i+1:] {
			if p.Tier != q.Tier || p.Order != q.Order || p.Types&q.Types == 0 {
				continue
			}
			if e := sharedSubject(w, p, q); e != "" {
				out = append(out, warning(origin[q], "spec.priority", fmt.Sprintf(
					"same priority %v as %s in tier %s, and both apply to %s: the API leaves their order undefined; flowgate evaluates %s first (by name)",
					q.Order, p.Name, p.Tier, e, p.Name)))
			}
		}
	}
	return out
}

func isClusterKind(k policy.Kind) bool {
	return k == policy.ClusterNetworkPolicy || k == policy.AdminNetworkPolicy || k == policy.BaselineAdminNetworkPolicy
}

// sharedSubject returns an endpoint both policies apply to, or "".
func sharedSubject(w *policy.World, p, q *policy.Policy) string {
	for _, e := range w.Endpoints {
		l := w.EndpointLabels(e)
		if p.AppliesTo.Matches(l) && q.AppliesTo.Matches(l) {
			return e.ID()
		}
	}
	return ""
}

func warning(o *Object, field, what string) error {
	return &Error{File: o.Origin.File, Line: o.Origin.Line, Object: o.Ref(), Field: field, Err: errors.New(what)}
}
