// Package kube is the Kubernetes source: it watches the API server with
// client-go shared informers and hands the agent the same snapshots the file
// source does — every object in force as a decode.Object — so the engine
// neither knows nor cares where policy came from.
//
// What is watched, and why:
//
//   - Pods in every namespace: local pods (spec.nodeName = this node) are
//     enforced on, every pod is a peer address. Pods are trimmed on arrival
//     to what policy reads (labels, node, service account, named ports,
//     phase, IPs), which is most of the memory saved at 50,000 pods.
//   - Namespaces and ServiceAccounts: their labels feed namespaceSelector
//     and serviceAccountSelector.
//   - networking.k8s.io/v1 NetworkPolicies.
//   - projectcalico.org/v3 NetworkPolicy, GlobalNetworkPolicy, HostEndpoint,
//     GlobalNetworkSet, NetworkSet and Tier, served as CRDs
//     (deploy/kubernetes/crds). Kinds the API server does not serve are
//     looked for again periodically, so installing the CRDs after the agent
//     needs no restart.
//   - Nodes (names, labels, InternalIP addresses): to pick one agent to
//     post an Event about an invalid object instead of one per node, to
//     warn when --node-name matches no Node, and, with
//     Config.AutoHostEndpoints, to derive each node's automatic host
//     endpoint "<node>-auto-hep" as Calico's kube-controllers would
//     (autohep.go).
//
// One code path: every object — typed or a custom resource — is marshalled
// to JSON and decoded by translator/decode, exactly as a file would be, so a
// policy means the same thing whether it came from kubectl or from disk. An
// object that fails validation is reported (agent log, and a Warning Event
// on the object with reason InvalidPolicy or InvalidObject) and its last good
// version stays in force; every other object is unaffected.
//
// Start-up enforces nothing partial: the first snapshot is sent only when
// every informer has delivered its initial list. Afterwards changes are
// batched (Config.Debounce) and a snapshot is sent when anything in force
// changed. Watch expiry and API server restarts are the informers' business:
// they relist and replay differences keyed by object, so state is neither
// lost nor duplicated; while the API server is unreachable nothing is sent
// and the installed flows stay as they are.
package kube
