// Package integration holds flowgate's tests against the real thing: a
// private ovs-vswitchd (userspace datapath) per test, network namespaces as
// workloads, real traffic and ofproto/trace. The helpers here are shared by
// those tests.
package integration
