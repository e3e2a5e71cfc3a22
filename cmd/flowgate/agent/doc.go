// Package agent is flowgate's host agent as a library: the Engine that
// keeps one bridge's flows equal to what the policy in force compiles to
// (a full replacement first, then only the compiled changes, in atomic
// bundles), and Run, the loop that feeds it from the sources (files,
// Neutron JSON, a Kubernetes cluster) and OVSDB until it is stopped.
// Command flowgate is flag parsing and wiring around it; `flowgate apply`
// is one Engine realization; integration tests drive it directly.
package agent
