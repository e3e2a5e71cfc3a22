// Package selector parses and evaluates Calico label selectors, the
// expression language that projectcalico.org/v3 policies use to pick
// endpoints, namespaces and service accounts.
//
// The grammar and the meaning of every operator follow Calico's
// libcalico-go selector package, so a selector Calico accepts is accepted
// here and selects the same things, and one Calico rejects is rejected (this
// package additionally bounds size and parenthesis nesting far beyond what
// real policies use):
//
//	k == 'v'    k != "v"    k in {'a', 'b'}    k not in {}
//	has(k)      !has(k)     all()              global()
//	k contains 's'    k starts with 's'    k ends with 's'
//	e && e    e || e    !e    (e)
//
// "!" binds tightest, then "&&", then "||". Tokens may be separated by any
// number of spaces and tabs; as in Calico, newlines are an error. Label keys
// are made of ASCII letters, digits and "_./-". Strings are quoted with ' or
// " and have no escapes, so a value cannot contain the quote that delimits
// it.
//
// Comparisons that need a value (==, in, contains, starts with, ends with)
// are false when the label is absent; their negative forms (!=, not in) are
// true when it is absent, exactly as in Calico.
//
// global() is true exactly when the labels have no [NamespaceLabel], that
// is, for non-namespaced entities such as host endpoints and global network
// sets. Calico's own evaluator treats global() as always true and gives it
// this meaning only where it rewrites a rule's namespaceSelector; evaluating
// it directly makes a Selector self-contained, and agrees with Calico in the
// namespaceSelector context where Calico documents global().
//
// Kubernetes label selectors are converted by [FromKubernetes] into the same
// [Selector], so one evaluator serves both policy dialects.
package selector
