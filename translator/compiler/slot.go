package compiler

import (
	"fmt"
	"strconv"

	"github.com/flowgate/flowgate/translator/policy"
	"github.com/flowgate/flowgate/translator/selector"
)

// slotState is one rule slot of a compiled policy direction: its flows,
// and what they are built from, so that a change of a selector's members
// can be turned into flow changes without recompiling the policy.
type slotState struct {
	policyID string
	dir      policy.Direction
	group    ruleGroup
	index    int
	rules    []ruleDims

	// live: the slot can match (it has flows). needGuard: it takes a
	// guard bit when live (a Log rule or an exclusion); guard is the bit,
	// -1 for none.
	live, needGuard bool
	guard           int

	// Flow templates.
	table        uint8
	prio         uint16
	base         string // reg6=0,reg7=<policy number>
	action       string
	exAction     string
	conjID       uint32
	cookie       Cookie
	exCookie     Cookie
	ingress      bool
	logDenied    bool   // a Deny rule's packets also go to the controller
	nClauses     int    // positive clauses
	addrClause   [2]int // clause index of the source / destination addresses, -1 when any
	admit        [2]bool
	hasExclusion bool
	// The clauses that do not depend on members as the fast path sees
	// them: source ports and service (nil when not a clause), and the
	// exclusion clause with its texts for lookups.
	portsClause, serviceClause, negClause fragmentSet
	negTexts                              map[string]struct{}

	flows map[slotKey]Flow
	deps  []selector.Selector
	// dropped is set when the slot no longer belongs to a compiled policy.
	dropped bool
}

// slotKey identifies a flow within its slot (the table is the slot's).
type slotKey struct {
	prio  uint16
	match string
}

// buildSlot computes a slot's clauses and registers its dependencies; emit
// then makes its flows, once the guard bit is known.
func (c *Compiler) buildSlot(p *policy.Policy, dir policy.Direction, g ruleGroup, index int, num uint32) *slotState {
	ingress := dir == policy.Ingress
	s := &slotState{
		policyID: p.ID(), dir: dir, group: g, index: index, guard: -1, ingress: ingress,
		table:     c.opts.table(TableEgressRules),
		prio:      uint16(rulePriorityTop - ruleSlotSpan*index),
		base:      "reg6=0,reg7=" + hex(num),
		logDenied: c.opts.LogDenied || p.LogDenied,
	}
	if ingress {
		s.table = c.opts.table(TableIngressRules)
	}
	if g[0].Action == policy.Log && c.opts.Established != EstablishedSurvive {
		// Established packets walk the policy again in cut mode; Log
		// records connections, not every packet of them. An untracked
		// endpoint's packets (-trk) have no connection: each is logged,
		// as in survive mode.
		s.base = "ct_state=-est," + s.base
	}
	id := ruleID(num, index)
	s.conjID = id << 1
	s.cookie = c.opts.cookie(CategoryRule, ingress, id)
	s.exCookie = c.opts.cookie(CategoryExclusion, ingress, id)
	s.rules = make([]ruleDims, 0, len(g))
	for _, r := range g {
		s.rules = append(s.rules, c.ruleDimensions(r, dir, p.AppliesTo, s)...)
	}
	s.needGuard = g[0].Action == policy.Log
	s.computeClauses()
	if s.hasExclusion {
		s.needGuard = true
	}
	return s
}

// hex formats n as the compiler writes register values: 0x-prefixed.
func hex(n uint32) string { return "0x" + strconv.FormatUint(uint64(n), 16) }

// computeClauses derives the slot's clause layout from its rules and the
// current members: which rules are live, which families are admitted,
// which dimensions are clauses, and the exclusion clause.
func (s *slotState) computeClauses() {
	live := make([]bool, len(s.rules))
	anyLive := false
	for i := range s.rules {
		live[i] = s.rules[i].live(currentFamily)
		anyLive = anyLive || live[i]
	}
	s.live = false
	s.hasExclusion = false
	s.negTexts = nil
	if !anyLive {
		return
	}
	s.admit = admitted(s.rules, live, currentFamily)
	var any [4]bool
	var neg fragmentSet
	var ports, service fragmentSet
	for i := range s.rules {
		if !live[i] {
			continue
		}
		d := &s.rules[i]
		for side := 0; side < 2; side++ {
			any[side] = any[side] || d.addr[side].any
		}
		if d.ports == nil {
			any[2] = true
		}
		ports = append(ports, d.ports...)
		if d.service == nil {
			any[3] = true
		}
		service = append(service, d.service...)
		neg = append(neg, d.neg...)
	}
	s.nClauses = 0
	for side := 0; side < 2; side++ {
		s.addrClause[side] = -1
		if !any[side] {
			s.addrClause[side] = s.nClauses
			s.nClauses++
		}
	}
	// Every address clause has a fragment of each admitted family, so
	// they are all empty exactly when no family is admitted.
	if s.nClauses > 0 && !s.admit[0] && !s.admit[1] {
		return
	}
	s.portsClause, s.serviceClause = nil, nil
	for i, cl := range []fragmentSet{ports, service} {
		if any[2+i] {
			continue
		}
		cl = cl.onlyFamilies(s.admit[0], s.admit[1]).sorted()
		if len(cl) == 0 {
			return
		}
		if i == 0 {
			s.portsClause = cl
		} else {
			s.serviceClause = cl
		}
		s.nClauses++
	}
	s.live = true
	s.negClause = neg.onlyFamilies(s.admit[0], s.admit[1]).sorted()
	if len(s.negClause) > 0 {
		s.hasExclusion = true
		s.negTexts = make(map[string]struct{}, len(s.negClause))
		for _, f := range s.negClause {
			s.negTexts[f.text] = struct{}{}
		}
	}
}

// admitted computes which IP families the slot's address clauses all
// admit (a fragment of another family can never match together with
// them), given the live rules and the pure sets' family counts.
func admitted(rules []ruleDims, live []bool, family func(*memberSet) [2]int) [2]bool {
	adm := [2]bool{true, true}
	for side := 0; side < 2; side++ {
		has := [2]bool{}
		isAny := false
		for i := range rules {
			if !live[i] {
				continue
			}
			a := &rules[i].addr[side]
			if a.any {
				isAny = true
				break
			}
			var fam [2]int
			if a.pure != nil {
				fam = family(a.pure)
			}
			for f := 0; f < 2; f++ {
				has[f] = has[f] || a.has(f, fam)
			}
		}
		if !isAny {
			adm[0], adm[1] = adm[0] && has[0], adm[1] && has[1]
		}
	}
	return adm
}

// addrFragments is the address clause of one side, as emitted: every
// live rule's source, in the admitted families, sorted and distinct.
func (s *slotState) addrFragments(side int, live []bool) fragmentSet {
	name := [2]string{"src", "dst"}[side]
	var out fragmentSet
	for i := range s.rules {
		if !live[i] {
			continue
		}
		a := &s.rules[i].addr[side]
		if a.pure != nil {
			for _, f := range a.pure.sideFragments(name) {
				if fam := f.famIndex(); a.fams.has(fam) && s.admit[fam] {
					out = append(out, a.scope.qualify(f))
				}
			}
			continue
		}
		for _, f := range addrFragments(name, a.static) {
			if s.admit[f.famIndex()] {
				out = append(out, a.scope.qualify(f))
			}
		}
	}
	if out == nil {
		return fragmentSet{}
	}
	return out.sorted()
}

// emit makes the slot's flows from its clauses and guard bit.
func (s *slotState) emit() {
	s.flows = map[slotKey]Flow{}
	if !s.live {
		return
	}
	live := make([]bool, len(s.rules))
	for i := range s.rules {
		live[i] = s.rules[i].live(currentFamily)
	}
	var clauses []fragmentSet
	for side := 0; side < 2; side++ {
		if s.addrClause[side] >= 0 {
			clauses = append(clauses, s.addrFragments(side, live))
		}
	}
	for _, cl := range []fragmentSet{s.portsClause, s.serviceClause} {
		if cl != nil {
			clauses = append(clauses, cl)
		}
	}
	s.action, s.exAction = s.actions()
	guard := s.guardMatch()
	for _, f := range conjunctionFlows(s.table, s.prio, s.base, guard, clauses, s.action, s.conjID, s.cookie) {
		s.flows[slotKey{f.Priority, f.Match}] = f
	}
	if s.hasExclusion {
		ex := append(append([]fragmentSet{}, clauses...), s.negClause)
		for _, f := range conjunctionFlows(s.table, s.prio+1, s.base, guard, ex, s.exAction, s.conjID|1, s.exCookie) {
			s.flows[slotKey{f.Priority, f.Match}] = f
		}
	}
}

// guardMatch is the match on the slot's guard bit, "" without one.
func (s *slotState) guardMatch() string {
	if s.guard < 0 {
		return ""
	}
	return fmt.Sprintf("reg5=0/%#x", uint32(1)<<s.guard)
}

// actions returns the rule's action and its exclusion's.
func (s *slotState) actions() (string, string) {
	id := s.conjID >> 1
	regRule := regEgressRule
	if s.ingress {
		regRule = regIngressRule
	}
	var action string
	switch s.group[0].Action {
	case policy.Allow:
		action = setField(verdictAllow, regVerdict) + "," + setField(id, regRule)
	case policy.Deny:
		action = setField(verdictDeny, regVerdict) + "," + setField(id, regRule)
		if s.logDenied {
			action = fmt.Sprintf("controller(userdata=%s),%s", deniedUserdata(id, s.ingress), action)
		}
	case policy.Pass:
		action = setField(verdictPass, regVerdict)
	case policy.Log:
		action = fmt.Sprintf("controller(userdata=%s),%s,resubmit(,%d)", userdata(id, s.ingress), setField(1, fmt.Sprintf("NXM_NX_REG5[%d]", s.guard)), s.table)
	}
	if s.guard < 0 {
		return action, "" // no exclusion without a guard bit
	}
	exAction := fmt.Sprintf("%s,resubmit(,%d)", setField(1, fmt.Sprintf("NXM_NX_REG5[%d]", s.guard)), s.table)
	return action, exAction
}

// Flags of the controller actions' userdata.
const (
	// userdataIngress marks the ingress rule list.
	userdataIngress = 1
	// userdataDenied marks a logged denial (Options.LogDenied) rather
	// than a Log rule.
	userdataDenied = 2
)

// userdata encodes a rule id for the controller that receives Log packets:
// a flags byte (userdataIngress) then the id, big-endian.
func userdata(id uint32, ingress bool) string {
	var d byte
	if ingress {
		d = userdataIngress
	}
	return formatUserdata(d, id)
}

// deniedUserdata encodes a denial: the Deny rule's id, or a default's
// end-of-tier code (codeTierEndDeny, codeProfileDeny).
func deniedUserdata(id uint32, ingress bool) string {
	d := byte(userdataDenied)
	if ingress {
		d |= userdataIngress
	}
	return formatUserdata(d, id)
}

func formatUserdata(flags byte, id uint32) string {
	return fmt.Sprintf("%02x.%02x.%02x.%02x.%02x", flags, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// conjunctionFlows emits a rule with the given clauses: one flow when it
// has none, plain flows for one clause, a conjunction for more.
func conjunctionFlows(table uint8, prio uint16, base, guard string, clauses []fragmentSet, action string, conjID uint32, cookie Cookie) []Flow {
	switch len(clauses) {
	case 0:
		return []Flow{{Table: table, Priority: prio, Match: joinMatch(base, guard, ""), Actions: action, Cookie: cookie}}
	case 1:
		out := make([]Flow, 0, len(clauses[0]))
		for _, f := range clauses[0] {
			out = append(out, Flow{Table: table, Priority: prio, Match: joinMatch(base, guard, f.text), Actions: action, Cookie: cookie})
		}
		return out
	}
	var out []Flow
	n := len(clauses)
	// A fragment in several clauses (an exclusion clause repeating a
	// positive one) is one flow carrying each clause's conjunction action:
	// OpenFlow allows one flow per match and priority.
	at := map[string]int{}
	for k, cl := range clauses {
		act := conjunctionAction(conjID, k, n)
		for _, f := range cl {
			match := joinMatch(base, "", f.text)
			if i, ok := at[match]; ok {
				out[i].Actions += "," + act
				continue
			}
			at[match] = len(out)
			out = append(out, Flow{Table: table, Priority: prio, Match: match, Actions: act, Cookie: cookie})
		}
	}
	out = append(out, Flow{Table: table, Priority: prio, Match: joinMatch("conj_id="+strconv.FormatUint(uint64(conjID), 10), guard, ""), Actions: action, Cookie: cookie})
	return out
}

// conjunctionAction is clause k (0-based) of n of conjunction id.
func conjunctionAction(id uint32, k, n int) string {
	return "conjunction(" + strconv.FormatUint(uint64(id), 10) + "," + strconv.Itoa(k+1) + "/" + strconv.Itoa(n) + ")"
}

// joinMatch joins the non-empty parts of a match with commas.
func joinMatch(a, b, c string) string {
	s := a
	for _, p := range [2]string{b, c} {
		if p == "" {
			continue
		}
		if s != "" {
			s += ","
		}
		s += p
	}
	return s
}
