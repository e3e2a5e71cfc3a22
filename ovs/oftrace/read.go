package oftrace

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/compiler/flowcheck"
	"github.com/flowgate/flowgate/translator/policy"
)

// Delivers reads the last "Datapath actions:" line of a trace: the packet
// is delivered when those actions output it to a port.
func Delivers(trace string) bool {
	last := ""
	for _, line := range strings.Split(trace, "\n") {
		if strings.HasPrefix(line, "Datapath actions:") {
			last = strings.TrimSpace(strings.TrimPrefix(line, "Datapath actions:"))
		}
	}
	for _, a := range flowcheck.SplitActions(last) {
		a = strings.TrimSpace(a)
		if a != "" && a != "drop" && !strings.HasPrefix(a, "ct(") && !strings.HasPrefix(a, "recirc(") && !strings.HasPrefix(a, "userspace(") {
			return true
		}
	}
	return false
}

// How a direction was decided.
const (
	// ByRule: a policy rule (RuleID names it).
	ByRule = "rule"
	// ByDefault: a tier's end or the endpoint's default (Code says which).
	ByDefault = "default"
	// ByFailsafe: a host endpoint's failsafe port, before any policy.
	ByFailsafe = "failsafe"
)

// Decision is what one direction's walk of the policy decided on the
// bridge.
type Decision struct {
	// Direction is the walk's direction (the dispatch flow's cookie).
	Direction policy.Direction
	// Allowed is the verdict the walk ended with.
	Allowed bool
	// By says what decided: ByRule, ByDefault or ByFailsafe; "" when the
	// walk ended undecided (the verdict table drops it).
	By string
	// RuleID is the deciding rule's id (reg3/reg4) when By is ByRule.
	RuleID uint32
	// Code is the end-of-tier or endpoint default code (reg7) when By is
	// ByDefault: a tier's deny code names its tier
	// (compiler.TierNumberOfCode). LastPolicy is the number of the last
	// policy walked before it (0: none).
	Code, LastPolicy uint32
}

// Result is what a trace says.
type Result struct {
	// Delivered: the bridge outputs the packet to a port.
	Delivered bool
	// Egress and Ingress are the walks of the source's egress and the
	// destination's ingress policy; nil when the bridge walked none (no
	// policy there, not a local endpoint, or the egress walk dropped the
	// packet first). The last walk of each direction counts.
	Egress, Ingress *Decision
}

// flowLine is a trace's line for one flow matched: "  31. MATCH, priority
// P, cookie 0xC". A table that missed prints "31. No match.".
var flowLine = regexp.MustCompile(`^\s*\d+\. (.*), priority \d+(?:, cookie (0x[0-9a-f]+))?$`)

// setReg is a set_field action on a whole register.
var setReg = regexp.MustCompile(`^\s*set_field:(0x[0-9a-f]+|0)->reg(\d+)$`)

// Decode reads trace, the output of ofproto/trace, as the pipeline of
// docs/pipeline.md writes its registers: a dispatch flow (cookie category
// dispatch, bit 32 for ingress) starts a walk and loads policy numbers and
// end codes into reg7; a rule flow sets the verdict (reg6) and its rule id
// (reg3 egress, reg4 ingress); a tier-end flow (matching reg7=code) sets
// the verdict of a default.
func Decode(trace string) Result {
	res := Result{Delivered: Delivers(trace)}
	var cur *Decision
	// code and last are the walk's reg7 so far: the last end code and
	// the last policy number loaded.
	var code, last uint32
	var category uint8
	var match string
	for _, line := range strings.Split(trace, "\n") {
		if strings.Contains(line, "No match.") {
			category, match = 0, ""
			continue
		}
		if m := flowLine.FindStringSubmatch(line); m != nil {
			match, category = m[1], 0
			if m[2] != "" {
				ck, _ := strconv.ParseUint(m[2], 0, 64)
				category = compiler.Cookie(ck).Category()
				if category == compiler.CategoryDispatch {
					d := &Decision{Direction: policy.Egress}
					if compiler.Cookie(ck).Ingress() {
						d.Direction = policy.Ingress
						res.Ingress = d
					} else {
						res.Egress = d
					}
					cur, code, last = d, 0, 0
				}
			}
			continue
		}
		m := setReg.FindStringSubmatch(line)
		if m == nil || cur == nil {
			continue
		}
		v, _ := strconv.ParseUint(m[1], 0, 32)
		switch m[2] {
		case "7":
			if compiler.IsEndCode(uint32(v)) {
				code = uint32(v)
			} else {
				last = uint32(v)
			}
		case "3", "4":
			if (m[2] == "3") == (cur.Direction == policy.Egress) && cur.By == ByRule {
				cur.RuleID = uint32(v)
			}
		case "6":
			if v != 1 && v != 2 {
				continue
			}
			cur.Allowed, cur.RuleID, cur.Code, cur.LastPolicy = v == 1, 0, 0, 0
			switch {
			case category == compiler.CategoryRule || category == compiler.CategoryExclusion:
				cur.By = ByRule
			case category == compiler.CategoryDispatch:
				cur.By = ByFailsafe
			case strings.Contains(match, "reg7=0xff"):
				cur.By, cur.Code, cur.LastPolicy = ByDefault, code, last
			default:
				cur.By = ""
			}
		}
	}
	return res
}
