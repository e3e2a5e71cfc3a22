package endpoints

import (
	"context"
	"reflect"
)

// Merge combines the snapshots of several sources (say, the cluster and a
// directory of host endpoint files) into one stream. Nothing is sent until
// every source has sent its first snapshot, so that the first realization
// is never made from part of the input; after that, every snapshot of any
// source yields a combined one: the objects of all sources, in argument
// order, and the problems of all. The output closes when ctx ends or any
// input closes. Nil channels are skipped.
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
				merged.Objects = append(merged.Objects, s.Objects...)
				merged.Problems = append(merged.Problems, s.Problems...)
				merged.Incomplete = append(merged.Incomplete, s.Incomplete...)
			}
			if !complete {
				continue
			}
			select {
			case out <- merged:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
