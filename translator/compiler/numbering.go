package compiler

import (
	"hash/fnv"
	"slices"
	"sort"

	"github.com/flowgate/flowgate/translator/policy"
)

// Policy numbers are 20 bits: they key the rules tables (reg7) and form the
// upper part of rule ids, conjunction ids and cookies. A number is a hash of
// the policy's ID, so it does not move when other policies come and go;
// the rare collision is resolved by probing in ID order.
const (
	policyNumberBits = 20
	policyNumberMask = 1<<policyNumberBits - 1
	// ruleSlotBits bounds the rules of one policy direction.
	ruleSlotBits = 11
	maxRuleSlots = 1 << ruleSlotBits
)

// numberPolicies assigns every policy its number, deterministically.
func numberPolicies(ps []*policy.Policy) map[string]uint32 {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID()
	}
	return numberNames(ids)
}

// numberNames gives every name a 20-bit number, its hash, probing in name
// order on a collision: the same numbers for the same set of names.
func numberNames(ids []string) map[string]uint32 {
	ids = slices.Clone(ids)
	sort.Strings(ids)
	taken := make(map[uint32]bool, len(ids))
	out := make(map[string]uint32, len(ids))
	for _, id := range ids {
		n := policyHash(id)
		for taken[n] {
			n = (n + 1) & policyNumberMask
			if n == 0 {
				n = 1
			}
		}
		taken[n] = true
		out[id] = n
	}
	return out
}

func policyHash(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	n := h.Sum32() & policyNumberMask
	if n == 0 {
		n = 1
	}
	return n
}

// ruleID packs a policy number and rule slot; it is what ct_label records
// and what cookies carry.
func ruleID(policyNumber uint32, slot int) uint32 {
	return policyNumber<<ruleSlotBits | uint32(slot)
}

// RuleIDParts unpacks a rule id into policy number and slot.
func RuleIDParts(id uint32) (policyNumber uint32, slot int) {
	return id >> ruleSlotBits, int(id & (maxRuleSlots - 1))
}

// policyNumbers is the numbering kept current as policies come and go:
// each policy's number, each number's policy, and the policies that did
// not get their hash (whose probe runs past taken numbers).
type policyNumbers struct {
	of        map[string]uint32
	owner     map[uint32]string
	displaced map[string]bool
}

func newPolicyNumbers(of map[string]uint32) *policyNumbers {
	n := &policyNumbers{of: of, owner: make(map[uint32]string, len(of)), displaced: map[string]bool{}}
	for id, num := range of {
		n.owner[num] = id
		if num != policyHash(id) {
			n.displaced[id] = true
		}
	}
	return n
}

func nextNumber(n uint32) uint32 {
	n = (n + 1) & policyNumberMask
	if n == 0 {
		n = 1
	}
	return n
}

// add numbers a new policy without renumbering the others, as
// numberPolicies would: it succeeds when every number on the new policy's
// probe is held by a policy sorting before it (a policy sorting after it
// would lose its number to it). Numbers on any probe are all held, so a
// free number is on no other policy's probe and taking it moves nobody.
func (n *policyNumbers) add(id string) bool {
	num := policyHash(id)
	for {
		owner, taken := n.owner[num]
		if !taken {
			break
		}
		if owner > id {
			return false
		}
		num = nextNumber(num)
	}
	n.of[id], n.owner[num] = num, id
	if num != policyHash(id) {
		n.displaced[id] = true
	}
	return true
}

// remove drops a policy's number without renumbering the others: it
// succeeds when no policy sorting after it probed past its number (such
// a policy would take it, or a number before it, in a fresh numbering).
func (n *policyNumbers) remove(id string) bool {
	num, ok := n.of[id]
	if !ok {
		return true
	}
	for other := range n.displaced {
		if other > id && n.probes(other, num) {
			return false
		}
	}
	delete(n.of, id)
	delete(n.owner, num)
	delete(n.displaced, id)
	return true
}

// probes reports whether the probe of policy id went through number num
// before reaching its own.
func (n *policyNumbers) probes(id string, num uint32) bool {
	own := n.of[id]
	for x := policyHash(id); x != own; x = nextNumber(x) {
		if x == num {
			return true
		}
	}
	return false
}
