// Package decode reads what users write — projectcalico.org/v3 and
// networking.k8s.io/v1 policy, Kubernetes namespaces, pods and service
// accounts, Calico endpoints, network sets and tiers — from multi-document
// YAML (and kind: List), validates every field, and turns it into the
// policy model.
//
// A bad document never hides a good one: decoders return every valid object
// together with every error, and each error names the file, the object and
// the field. Decoding is pure: callers hand in bytes.
package decode
