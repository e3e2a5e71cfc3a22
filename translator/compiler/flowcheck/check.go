package flowcheck

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Flow is what the checker needs of a flow.
type Flow struct {
	// Table and Priority place the flow; only flows of one table and
	// priority can be ambiguous with each other.
	Table    uint8
	Priority uint16
	// Match and Actions are in ovs-ofctl syntax.
	Match   string
	Actions string
}

// String formats the flow for problem reports, in ovs-ofctl syntax.
func (f Flow) String() string {
	return fmt.Sprintf("table=%d,priority=%d,%s actions=%s", f.Table, f.Priority, f.Match, f.Actions)
}

// Problem is a reason OVS could pick between flows of one priority, or a
// flow the checker cannot vouch for.
type Problem struct {
	// Table and Priority are where the problem is.
	Table    uint8
	Priority uint16
	// What describes it, quoting the flows involved.
	What string
}

// String describes the problem with its table and priority.
func (p Problem) String() string {
	return fmt.Sprintf("table %d priority %d: %s", p.Table, p.Priority, p.What)
}

// entry is a parsed flow.
type entry struct {
	flow  Flow
	match Match
}

// conjunction is one conjunctive match: its clauses and the flow that
// acts when all of them match (its conj_id flow), whose other fields
// narrow the match further.
type conjunction struct {
	id      uint32
	n       int
	clauses map[int][]*entry
	act     *entry
}

// Check returns every problem in flows, sorted. No problems proves that at
// every table and priority: plain flows with different actions are
// disjoint; no two conjunctive matches can match one packet; and no
// conjunctive match overlaps a plain flow with other actions.
//
// Disjointness is proved field by field (some field both constrain, with
// conflicting bits), and for conjunctions clause by clause (some clause of
// each whose flows are pairwise disjoint): sufficient conditions, so a
// pair of flows that are disjoint only through a combination of fields
// would be reported; flowgate's compiler never relies on one.
func Check(flows []Flow) []Problem {
	type group struct {
		table uint8
		prio  uint16
	}
	groups := map[group][]Flow{}
	for _, f := range flows {
		g := group{f.Table, f.Priority}
		groups[g] = append(groups[g], f)
	}
	var out []Problem
	for g, fs := range groups {
		for _, what := range checkGroup(fs) {
			out = append(out, Problem{Table: g.table, Priority: g.prio, What: what})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.What < b.What
	})
	return out
}

// checkGroup checks the flows of one table and priority.
func checkGroup(fs []Flow) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var plain []*entry
	conjs := map[uint32]*conjunction{}
	conj := func(id uint32) *conjunction {
		c := conjs[id]
		if c == nil {
			c = &conjunction{id: id, clauses: map[int][]*entry{}}
			conjs[id] = c
		}
		return c
	}
	seen := map[string]Flow{}
	for _, f := range fs {
		if o, dup := seen[f.Match]; dup {
			report("two flows with one match:\n  %s\n  %s", o, f)
			continue
		}
		seen[f.Match] = f
		m, err := ParseMatch(f.Match)
		if err != nil {
			report("%v", err)
			continue
		}
		e := &entry{flow: f, match: m}
		clauses, err := conjunctionActions(f.Actions)
		switch {
		case err != nil:
			report("%s: %v", f, err)
		case len(clauses) > 0:
			if _, ok := m.fields["conj_id"]; ok {
				report("%s: a clause flow matches conj_id", f)
			}
			for _, cl := range clauses {
				c := conj(cl.id)
				if c.n != 0 && c.n != cl.n {
					report("conjunction %d has clauses of %d and of %d", cl.id, c.n, cl.n)
				}
				c.n = cl.n
				c.clauses[cl.k] = append(c.clauses[cl.k], e)
			}
		default:
			if id, ok := m.fields["conj_id"]; ok {
				c := conj(uint32(id.v.lo))
				if c.act != nil {
					report("conjunction %d has two conj_id flows", c.id)
				}
				rest := Match{fields: map[string]constraint{}}
				for k, v := range m.fields {
					if k != "conj_id" {
						rest.fields[k] = v
					}
				}
				c.act = &entry{flow: f, match: rest}
				continue
			}
			plain = append(plain, e)
		}
	}
	ids := make([]uint32, 0, len(conjs))
	for id, c := range conjs {
		ids = append(ids, id)
		switch {
		case c.act == nil:
			report("conjunction %d has no conj_id flow: its clauses never act", id)
		case c.n == 0:
			report("conjunction %d has a conj_id flow and no clauses", id)
		default:
			for k := 1; k <= c.n; k++ {
				if len(c.clauses[k]) == 0 {
					report("conjunction %d has no flow for clause %d/%d", id, k, c.n)
				}
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	for i, a := range plain {
		for _, b := range plain[i+1:] {
			if a.flow.Actions != b.flow.Actions && !Disjoint(a.match, b.match) {
				report("overlapping flows with different actions:\n  %s\n  %s", a.flow, b.flow)
			}
		}
	}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if !conjunctionsDisjoint(conjs[a], conjs[b]) {
				report("conjunctions %d and %d can both match one packet", a, b)
			}
		}
	}
	for _, p := range plain {
		for _, id := range ids {
			c := conjs[id]
			if c.act != nil && p.flow.Actions != c.act.flow.Actions && !plainDisjointFrom(p, c) {
				report("conjunction %d (%s) overlaps a flow with other actions:\n  %s", id, c.act.flow, p.flow)
			}
		}
	}
	return problems
}

// clauseRef is one conjunction(id,k/n) action.
type clauseRef struct {
	id   uint32
	k, n int
}

// conjunctionActions parses an action list that consists of conjunction
// actions; it returns none for any other action list, and an error for a
// list that mixes them (OVS rejects that) or a malformed one.
func conjunctionActions(actions string) ([]clauseRef, error) {
	var out []clauseRef
	other := false
	for _, a := range SplitActions(actions) {
		body, ok := strings.CutPrefix(a, "conjunction(")
		if !ok {
			other = true
			continue
		}
		body, ok = strings.CutSuffix(body, ")")
		idText, kn, ok2 := strings.Cut(body, ",")
		kText, nText, ok3 := strings.Cut(kn, "/")
		id, err1 := strconv.ParseUint(strings.TrimSpace(idText), 10, 32)
		k, err2 := strconv.Atoi(strings.TrimSpace(kText))
		n, err3 := strconv.Atoi(strings.TrimSpace(nText))
		if !ok || !ok2 || !ok3 || err1 != nil || err2 != nil || err3 != nil || n < 2 || n > 64 || k < 1 || k > n {
			return nil, fmt.Errorf("malformed %q", a)
		}
		out = append(out, clauseRef{uint32(id), k, n})
	}
	if other && out != nil {
		return nil, fmt.Errorf("conjunction mixed with other actions")
	}
	return out, nil
}

// SplitActions splits an action list (OpenFlow or datapath) at the commas
// outside parentheses, so ct(...,exec(...)) stays one action.
func SplitActions(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// parts returns the sets a conjunction's match is the intersection of:
// each clause, and its conj_id flow's other fields.
func (c *conjunction) parts() [][]*entry {
	out := make([][]*entry, 0, c.n+1)
	for k := 1; k <= c.n; k++ {
		out = append(out, c.clauses[k])
	}
	if c.act != nil {
		out = append(out, []*entry{c.act})
	}
	return out
}

// conjunctionsDisjoint proves that no packet satisfies both a and b: some
// part of a and some part of b are pairwise disjoint.
func conjunctionsDisjoint(a, b *conjunction) bool {
	for _, pa := range a.parts() {
		ca := common(pa)
		for _, pb := range b.parts() {
			if Disjoint(ca, common(pb)) || allDisjoint(pa, pb) {
				return true
			}
		}
	}
	return false
}

// plainDisjointFrom proves that no packet matches both p and c.
func plainDisjointFrom(p *entry, c *conjunction) bool {
	for _, part := range c.parts() {
		if Disjoint(p.match, common(part)) || allDisjoint([]*entry{p}, part) {
			return true
		}
	}
	return false
}

// common is the constraints every entry of a set shares exactly: a match
// that covers them all, so that whatever is disjoint from it is disjoint
// from each.
func common(es []*entry) Match {
	out := Match{fields: map[string]constraint{}}
	if len(es) == 0 {
		return out
	}
	for k, c := range es[0].match.fields {
		same := true
		for _, e := range es[1:] {
			if d, ok := e.match.fields[k]; !ok || d != c {
				same = false
				break
			}
		}
		if same {
			out.fields[k] = c
		}
	}
	return out
}

func allDisjoint(as, bs []*entry) bool {
	for _, a := range as {
		for _, b := range bs {
			if !Disjoint(a.match, b.match) {
				return false
			}
		}
	}
	return true
}
