// Package policy is flowgate's policy model: Calico-style policies with
// tiers, rules and peers, network sets, namespaces and service accounts, and
// the endpoints policy is enforced on (pods, VMs, host interfaces:
// Endpoint, EndpointKind, Guard), all already normalised to one meaning. Kubernetes NetworkPolicy arrives here
// converted to the Calico form (order 1000 in the default tier) so that the
// evaluator and the compiler have a single semantics to implement.
//
// Selectors stored here are the effective ones: namespace scoping, the
// pcns./pcsa. prefixes and the Kubernetes-pods-only restriction are already
// folded in, exactly as Calico rewrites them. The package is pure data and
// small pure functions: no I/O, no clock, no globals beyond constants.
package policy
