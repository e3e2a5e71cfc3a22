// Package sandbox runs a private Open vSwitch (ovsdb-server plus a
// userspace-datapath ovs-vswitchd) and network-namespace "workloads" attached
// to it, so that flowgate's tests and demo can push real packets through real
// OpenFlow tables without a kernel openvswitch module and without touching any
// system Open vSwitch instance.
//
// Layout of one instance (everything is private to it):
//
//   - Dir holds conf.db, db.sock, the pidfiles, the daemons' unixctl and
//     bridge management sockets, and their logs; OVS_RUNDIR, OVS_DBDIR,
//     OVS_LOGDIR and OVS_SYSCONFDIR all point at it (see [OVS.Env]).
//   - Both daemons run inside their own network namespace, "fgovs-<id>",
//     because the userspace datapath creates a tap called "ovs-netdev" and a
//     second ovs-vswitchd in the same namespace would fail with EBUSY.
//   - Every workload gets a namespace "fgwl-<id>-<name>" and a veth pair
//     created directly across the two namespaces, so no interface ever appears
//     in the caller's namespace and interface names only need to be unique
//     inside one instance.
//
// Cleanup: [OVS.Stop] kills the daemons named by their pidfiles and deletes
// every namespace the instance created. Because a test binary can die without
// running its cleanups (a -timeout panic, SIGKILL), every instance is also
// recorded under /run/fgsandbox with the pid of the process that owns it; the
// next [Start] in any process reaps instances whose owner is gone.
//
// Requirements: root (namespaces, veths, raw sockets), the ip command and the
// Open vSwitch binaries (Debian: openvswitch-switch). The sandboxtest
// sub-package turns their absence into a skip or, with CI=true, a failure.
package sandbox
