package compiler

import (
	"fmt"
	"regexp"
	"strconv"
)

var nxmField = regexp.MustCompile(`^NXM_NX_(REG\d+|CT_MARK)\[(?:(\d+)(?:\.\.(\d+))?)?\]$`)

// setField writes "store value into the NXM field or bit range dst" as a
// set_field action ("set_field:0x2->reg6", "set_field:0x4/0x4->reg5"),
// the form OVS itself prints: an OpenFlow 1.3+ switch turns load actions
// into set_field, and `ovs-ofctl diff-flows` compares printed actions, so
// writing what OVS prints is what lets an unchanged bridge be recognised.
func setField(value uint32, dst string) string {
	m := nxmField.FindStringSubmatch(dst)
	if m == nil {
		panic("setField: unsupported destination " + dst)
	}
	field := map[string]string{"CT_MARK": "ct_mark"}[m[1]]
	if field == "" {
		field = "reg" + m[1][3:]
	}
	if m[2] == "" {
		return fmt.Sprintf("set_field:%#x->%s", value, field)
	}
	lo, _ := strconv.Atoi(m[2])
	hi := lo
	if m[3] != "" {
		hi, _ = strconv.Atoi(m[3])
	}
	mask := uint64(1)<<(hi-lo+1) - 1
	return fmt.Sprintf("set_field:%#x/%#x->%s", uint64(value)<<lo, mask<<lo, field)
}
