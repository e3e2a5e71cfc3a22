// Package compiler turns a policy world into the OpenFlow flows of one
// host's integration bridge. It is pure and deterministic: the same world
// and options give byte-identical flows, and an incremental update returns
// exactly the difference between two full compiles.
//
// The pipeline (see pipeline.go and docs/pipeline.md) works like Calico's
// iptables chains: each local endpoint has one dispatch flow per direction
// whose action list walks the tiers and, within them, the policies that
// apply to it — loading a policy number into a register and resubmitting
// into a shared rules table where every flow is keyed by that number. Rule
// priorities are therefore local to a policy (its rule index), so adding,
// removing or reordering a policy touches only its own flows and the
// dispatch flows of the endpoints it applies to.
//
// Rules with more than one dimension (source addresses, destination
// addresses, ports, protocol) are conjunctions, so a peer set of N
// addresses and M port ranges costs N + M flows. Negations (notNets,
// notSelector, notPorts, notProtocol, notICMP) and Log rules use guard bits:
// a flow just above the rule matches the excluded packets, sets the rule's
// guard bit and looks the rules table up again, where the guarded rule no
// longer matches and evaluation continues with the next rule.
//
// Scale comes from three choices. Only policies that apply to a local
// endpoint are compiled (active.go): the others' rules could never be
// reached from this host's dispatch flows. Selector members are found
// through label indexes (labelindex.go, selterms.go), not by testing every
// entity against every selector, and an entity change finds the selectors
// that may select it the same way. And an update touches the least it can
// (update.go, fastpath.go): an address joining or leaving a selector's
// members changes only the flows matching that address in the rule slots
// that read the selector, a change that alters a slot's layout recompiles
// that slot, and only a change to the policy itself (or one moving its
// guard bits) recompiles the policy.
package compiler
