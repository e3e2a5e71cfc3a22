package evaltest

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/flowgate/flowgate/translator/evaluator"
)

// Reachability is a truth table over the scenario pods: for each ordered
// pair of distinct pods, whether a new connection is allowed. Traffic from
// a pod to itself is not part of the table; upstream ignores loopback too,
// because CNIs disagree about it.
type Reachability struct {
	pods    []Pod
	allowed map[[2]string]bool
}

// NewReachability returns a table in which every pair is allowed (def
// true) or denied (def false).
func NewReachability(def bool) *Reachability {
	r := &Reachability{pods: Pods(), allowed: map[[2]string]bool{}}
	for _, from := range r.pods {
		for _, to := range r.pods {
			if from != to {
				r.allowed[[2]string{from.String(), to.String()}] = def
			}
		}
	}
	return r
}

// Peer matches pods: an empty Namespace or Pod matches any.
type Peer struct {
	// Namespace is the pod's namespace, or "" for any.
	Namespace string
	// Pod is the pod's name, or "" for any.
	Pod string
}

func (p Peer) matches(q Pod) bool {
	return (p.Namespace == "" || p.Namespace == q.Namespace) && (p.Pod == "" || p.Pod == q.Name)
}

// parsePeer reads "x/a" (one pod), "x" or "x/" (a namespace), "/a" (a pod
// name in any namespace) or "" (every pod).
func parsePeer(s string) Peer {
	ns, pod, _ := strings.Cut(s, "/")
	return Peer{Namespace: ns, Pod: pod}
}

// ExpectPeer sets every pair whose source matches from and whose
// destination matches to.
func (r *Reachability) ExpectPeer(from, to Peer, allowed bool) *Reachability {
	for _, f := range r.pods {
		for _, t := range r.pods {
			if f != t && from.matches(f) && to.matches(t) {
				r.allowed[[2]string{f.String(), t.String()}] = allowed
			}
		}
	}
	return r
}

// Expect sets the pairs between from and to, each written "x/a" (one pod),
// "x" (every pod of namespace x), "/b" (pod b of every namespace) or ""
// (every pod): Expect("x/b", "x/a", true), Expect("z", "x/a", false).
func (r *Reachability) Expect(from, to string, allowed bool) *Reachability {
	return r.ExpectPeer(parsePeer(from), parsePeer(to), allowed)
}

// ExpectAllIngress sets every pair whose destination is pod.
func (r *Reachability) ExpectAllIngress(pod string, allowed bool) *Reachability {
	return r.ExpectPeer(Peer{}, parsePeer(pod), allowed)
}

// ExpectAllEgress sets every pair whose source is pod.
func (r *Reachability) ExpectAllEgress(pod string, allowed bool) *Reachability {
	return r.ExpectPeer(parsePeer(pod), Peer{}, allowed)
}

// Allowed reports the table's value for one pair of pod IDs.
func (r *Reachability) Allowed(from, to string) bool {
	return r.allowed[[2]string{from, to}]
}

// Set records one pair, as an observer does.
func (r *Reachability) Set(from, to string, allowed bool) {
	r.allowed[[2]string{from, to}] = allowed
}

// Diff lists the pairs where got differs from r (the expectation), one
// line each: "x/b -> x/a: want allowed, got denied".
func (r *Reachability) Diff(got *Reachability) []string {
	word := map[bool]string{true: "allowed", false: "denied"}
	var out []string
	for _, f := range r.pods {
		for _, t := range r.pods {
			if f == t {
				continue
			}
			k := [2]string{f.String(), t.String()}
			if r.allowed[k] != got.allowed[k] {
				out = append(out, fmt.Sprintf("%s -> %s: want %s, got %s", k[0], k[1], word[r.allowed[k]], word[got.allowed[k]]))
			}
		}
	}
	return out
}

// String prints the table as upstream does: rows are sources, columns
// destinations, '.' allowed, 'X' denied, '-' the pod itself.
func (r *Reachability) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	fmt.Fprint(tw, "-")
	for _, t := range r.pods {
		fmt.Fprintf(tw, "\t%s", t)
	}
	fmt.Fprintln(tw)
	for _, f := range r.pods {
		fmt.Fprint(tw, f)
		for _, t := range r.pods {
			mark := "-"
			if f != t {
				mark = "X"
				if r.Allowed(f.String(), t.String()) {
					mark = "."
				}
			}
			fmt.Fprintf(tw, "\t%s", mark)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	return b.String()
}

// Observe probes every pair of scenario pods for one service with the
// reference evaluator and returns what it decided. It fails when a pod is
// missing from the evaluator's world.
func Observe(ev *evaluator.Evaluator, svc Service) (*Reachability, error) {
	got := NewReachability(false)
	for _, f := range got.pods {
		src := ev.Endpoint(f.String())
		if src == nil {
			return nil, fmt.Errorf("pod %s is not in the world", f)
		}
		for _, t := range got.pods {
			if f == t {
				continue
			}
			dst := ev.Endpoint(t.String())
			if dst == nil {
				return nil, fmt.Errorf("pod %s is not in the world", t)
			}
			pkt := evaluator.Packet{Src: f.IP, Dst: t.IP, Protocol: svc.Protocol, SrcPort: evaluator.SourcePort, DstPort: svc.Port}
			got.Set(f.String(), t.String(), ev.Evaluate(src, dst, pkt).Allowed)
		}
	}
	return got, nil
}
