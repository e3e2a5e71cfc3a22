package selector

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Requirement is one entry of a Kubernetes label selector's
// matchExpressions. It mirrors metav1.LabelSelectorRequirement with a plain
// string operator so that this package does not depend on Kubernetes types.
type Requirement struct {
	// Key is the label key; it must be a Kubernetes qualified name.
	Key string
	// Operator is one of In, NotIn, Exists and DoesNotExist.
	Operator string
	// Values are the label values for In and NotIn; they must be valid
	// label values. Exists and DoesNotExist take none.
	Values []string
}

// FromKubernetes converts a Kubernetes label selector (its matchLabels and
// matchExpressions) into a Selector, so that Kubernetes NetworkPolicy and
// Calico policy share one evaluator and one notion of selector identity.
//
// An empty selector selects everything. Every matchLabels entry and every
// expression must hold. NotIn and DoesNotExist hold when the key is absent,
// which is what Calico's "not in" and "!has" already mean. Keys and values
// are validated as the Kubernetes API server validates them, and every
// problem found is reported, so that a policy Kubernetes would reject is
// rejected here too rather than silently matching something. The result does
// not depend on map iteration order.
func FromKubernetes(matchLabels map[string]string, exprs []Requirement) (Selector, error) {
	var (
		errs  []error
		parts []*node
	)
	bad := func(field, what, problem string) {
		errs = append(errs, fmt.Errorf("%s %q: %s", field, what, problem))
	}
	for _, k := range slices.Sorted(maps.Keys(matchLabels)) {
		v := matchLabels[k]
		field := fmt.Sprintf("matchLabels[%q]", k)
		if p := qualifiedNameProblem(k); p != "" {
			bad(field+" key", k, p)
		}
		if p := labelValueProblem(v); p != "" {
			bad(field+" value", v, p)
		}
		parts = append(parts, cmpNode(opEq, k, v))
	}
	for i, r := range exprs {
		field := fmt.Sprintf("matchExpressions[%d]", i)
		if p := qualifiedNameProblem(r.Key); p != "" {
			bad(field+".key", r.Key, p)
		}
		for j, v := range r.Values {
			if p := labelValueProblem(v); p != "" {
				bad(fmt.Sprintf("%s.values[%d]", field, j), v, p)
			}
		}
		switch r.Operator {
		case "In", "NotIn":
			if len(r.Values) == 0 {
				errs = append(errs, fmt.Errorf("%s.values: must be non-empty when operator is %s", field, r.Operator))
			}
			o := opIn
			if r.Operator == "NotIn" {
				o = opNotIn
			}
			parts = append(parts, setNode(o, r.Key, r.Values))
		case "Exists", "DoesNotExist":
			if len(r.Values) != 0 {
				errs = append(errs, fmt.Errorf("%s.values: must be empty when operator is %s", field, r.Operator))
			}
			n := hasNode(r.Key)
			if r.Operator == "DoesNotExist" {
				n = notNode(n)
			}
			parts = append(parts, n)
		default:
			bad(field+".operator", r.Operator, "unknown operator (want In, NotIn, Exists or DoesNotExist)")
		}
	}
	if len(errs) > 0 {
		return Selector{}, fmt.Errorf("invalid Kubernetes label selector: %w", errors.Join(errs...))
	}
	if len(parts) == 0 {
		return Selector{}, nil
	}
	return newSelector(boolNode(opAnd, parts)), nil
}

// Kubernetes' limits on label keys and values.
const (
	maxNameLen   = 63  // name part of a key, and a value
	maxPrefixLen = 253 // DNS subdomain prefix of a key
)

// qualifiedNameProblem explains why k is not a Kubernetes qualified name
// (an optional DNS subdomain and "/", then a name), or returns "".
func qualifiedNameProblem(k string) string {
	name := k
	if i := strings.IndexByte(k, '/'); i >= 0 {
		prefix := k[:i]
		name = k[i+1:]
		switch {
		case strings.IndexByte(name, '/') >= 0:
			return "must be a name with an optional DNS subdomain prefix and a single '/', e.g. 'example.com/MyName'"
		case prefix == "":
			return "prefix before '/' must not be empty"
		case len(prefix) > maxPrefixLen:
			return fmt.Sprintf("prefix must be no more than %d bytes", maxPrefixLen)
		case !dnsSubdomain(prefix):
			return "prefix must be a lowercase RFC 1123 subdomain: lower-case alphanumerics, '-' and '.', each dot-separated part starting and ending with an alphanumeric"
		}
	}
	switch {
	case name == "":
		return "name part must not be empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("name part must be no more than %d bytes", maxNameLen)
	case !nameChars(name):
		return "name part must consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
	}
	return ""
}

// labelValueProblem explains why v is not a Kubernetes label value, or
// returns "".
func labelValueProblem(v string) string {
	switch {
	case v == "":
		return ""
	case len(v) > maxNameLen:
		return fmt.Sprintf("must be no more than %d bytes", maxNameLen)
	case !nameChars(v):
		return "must be empty or consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
	}
	return ""
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// nameChars checks the shape shared by key names and label values:
// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9].
func nameChars(s string) bool {
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// dnsSubdomain checks [a-z0-9]([-a-z0-9]*[a-z0-9])? repeated with dots.
func dnsSubdomain(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if part == "" || !lowerAlnum(part[0]) || !lowerAlnum(part[len(part)-1]) {
			return false
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !lowerAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

func lowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
