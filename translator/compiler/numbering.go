package compiler

import (
	"hash/fnv"
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
