package endpoints

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/flowgate/flowgate/translator/decode"
)

// Merge combines the snapshots of several sources (say, the cluster and a
// directory of host endpoint files) into one stream. Nothing is sent until
// every source has sent its first snapshot, so that the first realization
// is never made from part of the input; after that, every snapshot of any
// source yields a combined one: the objects of all sources, in argument
// order, and the problems of all. The output closes when ctx ends or any
// input closes. Nil channels are skipped.
//
// An object (kind/namespace/name) that two sources both define is kept
// from one only (enforcing the first would silently drop a Deny the other
// defines): the source that had it in force in the previous combined
// snapshot keeps it — a newcomer never displaces what is enforced — and,
// when neither had it, the earlier source in argument order. The other's
// copy is left out and reported as a problem naming both places.
func Merge(ctx context.Context, srcs ...<-chan Snapshot) <-chan Snapshot {
	var live []<-chan Snapshot
	for _, c := range srcs {
		if c != nil {
			live = append(live, c)
		}
	}
	if len(live) == 1 {
		return live[0]
	}
	out := make(chan Snapshot, 1)
	go func() {
		defer close(out)
		last := make([]*Snapshot, len(live))
		var owners map[objectKey]int
		cases := make([]reflect.SelectCase, len(live)+1)
		cases[0] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
		for i, c := range live {
			cases[i+1] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)}
		}
		for {
			i, v, ok := reflect.Select(cases)
			if i == 0 || !ok {
				return
			}
			snap := v.Interface().(Snapshot)
			last[i-1] = &snap
			merged := Snapshot{Changed: snap.Changed, Took: snap.Took}
			complete := true
			for _, s := range last {
				if s == nil {
					complete = false
					break
				}
				merged.Problems = append(merged.Problems, s.Problems...)
				merged.Incomplete = append(merged.Incomplete, s.Incomplete...)
			}
			if !complete {
				continue
			}
			var dups []error
			merged.Objects, owners, dups = combine(last, owners)
			merged.Problems = append(merged.Problems, dups...)
			select {
			case out <- merged:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// objectKey is what makes two objects the same object.
type objectKey struct{ kind, namespace, name string }

// combine concatenates the sources' objects in order, keeping an object
// two sources define from one only (see Merge): its owner in the previous
// combination (prev) if that source still has it, else the first. It
// returns the objects, the new owners and a problem per copy left out.
func combine(snaps []*Snapshot, prev map[objectKey]int) ([]decode.Object, map[objectKey]int, []error) {
	n := 0
	for _, s := range snaps {
		n += len(s.Objects)
	}
	first := make(map[objectKey]int, n) // the sources defining each object, earliest first
	var contested map[objectKey][]int
	for i, s := range snaps {
		for _, o := range s.Objects {
			k := objectKey{o.Kind, o.Namespace, o.Name}
			j, dup := first[k]
			if !dup {
				first[k] = i
				continue
			}
			if j == i {
				continue // within one source: the source and decode.Build judge it
			}
			if contested == nil {
				contested = map[objectKey][]int{}
			}
			if contested[k] == nil {
				contested[k] = []int{j}
			}
			contested[k] = append(contested[k], i)
		}
	}
	owner := first
	for k, srcs := range contested {
		if o, ok := prev[k]; ok && slices.Contains(srcs, o) {
			owner[k] = o
		}
	}
	out := make([]decode.Object, 0, n)
	var dups []error
	for i, s := range snaps {
		for _, o := range s.Objects {
			k := objectKey{o.Kind, o.Namespace, o.Name}
			if owner[k] == i {
				out = append(out, o)
				continue
			}
			w := ownerOrigin(snaps[owner[k]], k)
			dups = append(dups, &decode.Error{File: o.Origin.File, Line: o.Origin.Line, Object: o.Ref(), Field: "metadata.name",
				Err: fmt.Errorf("%w; another source defines it and keeps it in force", &decode.DuplicateError{First: w})})
		}
	}
	return out, owner, dups
}

// ownerOrigin is where the kept copy of k was read.
func ownerOrigin(s *Snapshot, k objectKey) decode.Origin {
	for _, o := range s.Objects {
		if o.Kind == k.kind && o.Namespace == k.namespace && o.Name == k.name {
			return o.Origin
		}
	}
	return decode.Origin{}
}
