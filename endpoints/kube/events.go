package kube

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// reporter posts Events about invalid objects. Every node's agent sees
// every invalid object; so that a cluster of 500 nodes does not post 500
// Events for one typo, the agents agree without talking on which of them
// reports it: the node whose name hashed with the object's UID is highest
// (rendezvous hashing over the Node names all of them watch). Every agent
// still logs the problem. If this node is not among the Nodes (no Node
// object, or the list not yet seen), it reports anyway: a duplicate Event is
// better than none.
type reporter struct {
	recorder record.EventRecorder
	node     string

	mu    sync.Mutex
	nodes map[string]bool
}

func newReporter(recorder record.EventRecorder, node string) *reporter {
	return &reporter{recorder: recorder, node: node, nodes: map[string]bool{}}
}

func (r *reporter) setNode(name string, present bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if present {
		r.nodes[name] = true
	} else {
		delete(r.nodes, name)
	}
}

// hasNode reports whether a Node object of that name exists.
func (r *reporter) hasNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nodes[name]
}

// responsible reports whether this node reports on the object uid.
func (r *reporter) responsible(uid types.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.nodes[r.node] {
		return true
	}
	names := make([]string, 0, len(r.nodes))
	for n := range r.nodes {
		names = append(names, n)
	}
	sort.Strings(names) // ties (never in practice) break by name
	best, bestHash := "", uint64(0)
	for _, n := range names {
		sum := sha256.Sum256([]byte(n + "\x00" + string(uid)))
		if v := binary.BigEndian.Uint64(sum[:8]); best == "" || v > bestHash {
			best, bestHash = n, v
		}
	}
	return best == r.node
}

// report posts a Warning Event on the object, if this node is the one to.
func (r *reporter) report(res *resource, ref corev1.ObjectReference, msg string) {
	if r.recorder == nil || !r.responsible(ref.UID) {
		return
	}
	r.recorder.Event(&ref, corev1.EventTypeWarning, res.reason, msg)
}
