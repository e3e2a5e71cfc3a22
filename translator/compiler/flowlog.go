package compiler

// flowLog records, during one update, every flow removed from or added to
// the compiler's flows: the first version of each key seen (what was
// installed before) and the last (what is installed after). Their
// difference is exactly the update's delta, however many times a key was
// touched on the way, provided every change is logged as the removal of
// the old flow and the addition of the new one, and a key moving between
// owners is removed from the old owner before the new one adds it.
//
// A nil log records nothing (a full compile needs no delta).
type flowLog struct {
	first map[FlowKey]flowVersion
	last  map[FlowKey]flowVersion
}

// flowVersion is a flow, or its absence.
type flowVersion struct {
	flow    Flow
	present bool
}

func newFlowLog() *flowLog {
	return &flowLog{first: map[FlowKey]flowVersion{}, last: map[FlowKey]flowVersion{}}
}

// del records that f was removed.
func (l *flowLog) del(f Flow) {
	if l == nil {
		return
	}
	k := f.Key()
	if _, ok := l.first[k]; !ok {
		l.first[k] = flowVersion{f, true}
	}
	l.last[k] = flowVersion{}
}

// put records that f was added (its key holding no flow just before).
func (l *flowLog) put(f Flow) {
	if l == nil {
		return
	}
	k := f.Key()
	if _, ok := l.first[k]; !ok {
		l.first[k] = flowVersion{}
	}
	l.last[k] = flowVersion{f, true}
}

// delta is what turns the first versions into the last.
func (l *flowLog) delta() Delta {
	var before, after []Flow
	for k, v := range l.first {
		if v.present {
			before = append(before, v.flow)
		}
		if w := l.last[k]; w.present {
			after = append(after, w.flow)
		}
	}
	return Diff(before, after)
}
