package compiler

// Compose merges deltas produced one after another into the single delta
// that takes the flows from before the first to after the last, so an
// agent can apply a burst of changes as one atomic bundle. A flow added
// and then deleted vanishes; one deleted and added again becomes a modify.
func Compose(ds ...Delta) Delta {
	type entry struct {
		flow          *Flow // nil: absent at the end
		existedBefore bool
		deleted       Flow // the flow as it was, for deletes
	}
	state := map[FlowKey]*entry{}
	var order []FlowKey
	touch := func(k FlowKey, existed bool) *entry {
		e, ok := state[k]
		if !ok {
			e = &entry{existedBefore: existed}
			state[k] = e
			order = append(order, k)
		}
		return e
	}
	for _, d := range ds {
		for i := range d.Delete {
			f := d.Delete[i]
			e := touch(f.Key(), true)
			if e.existedBefore && e.deleted.Actions == "" && e.flow == nil {
				e.deleted = f
			}
			e.flow = nil
		}
		for i := range d.Add {
			f := d.Add[i]
			touch(f.Key(), false).flow = &f
		}
		for i := range d.Modify {
			f := d.Modify[i]
			touch(f.Key(), true).flow = &f
		}
	}
	var out Delta
	for _, k := range order {
		e := state[k]
		switch {
		case e.existedBefore && e.flow == nil:
			f := e.deleted
			if f.Actions == "" {
				f = Flow{Table: k.Table, Priority: k.Priority, Match: k.Match}
			}
			out.Delete = append(out.Delete, f)
		case !e.existedBefore && e.flow != nil:
			out.Add = append(out.Add, *e.flow)
		case e.existedBefore && e.flow != nil:
			out.Modify = append(out.Modify, *e.flow)
		}
	}
	out.sort()
	return out
}
