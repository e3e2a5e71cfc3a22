package openflow

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"antrea.io/libOpenflow/openflow15"
)

// instructions parses the compiler's action text (see flowmatch.go for
// the rules of this parser) into OpenFlow 1.5 instructions: the actions
// in one apply-actions instruction, then goto_table if it ends with one.
// "drop" alone is no instruction at all, as ovs-ofctl sends it.
func parseInstructions(text string) ([]openflow15.Instruction, error) {
	if text == "drop" {
		return nil, nil
	}
	toks, err := splitTop(text)
	if err != nil {
		return nil, err
	}
	var goto_ *openflow15.InstrGotoTable
	if last := toks[len(toks)-1]; strings.HasPrefix(last, "goto_table:") {
		t, err := parseUint(strings.TrimPrefix(last, "goto_table:"), 8)
		if err != nil {
			return nil, err
		}
		goto_ = openflow15.NewInstrGotoTable(uint8(t))
		toks = toks[:len(toks)-1]
	}
	acts, err := parseActions(toks, false)
	if err != nil {
		return nil, err
	}
	var ins []openflow15.Instruction
	if len(acts) > 0 {
		apply := openflow15.NewInstrApplyActions()
		for _, a := range acts {
			if err := apply.AddAction(a, false); err != nil {
				return nil, fmt.Errorf("actions %q: %w", text, err)
			}
		}
		ins = append(ins, apply)
	}
	if goto_ != nil {
		ins = append(ins, goto_)
	}
	return ins, nil
}

// splitTop splits at the commas outside parentheses.
func splitTop(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, unsupported("unbalanced parentheses in %q", s)
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, unsupported("unbalanced parentheses in %q", s)
	}
	out = append(out, s[start:])
	for _, t := range out {
		if t == "" {
			return nil, unsupported("empty action in %q", s)
		}
	}
	return out, nil
}

// parseActions parses a list of actions; inCT restricts it to what a
// ct(exec(...)) may hold (setting ct_mark and ct_label).
func parseActions(toks []string, inCT bool) ([]openflow15.Action, error) {
	var out []openflow15.Action
	for _, tok := range toks {
		a, err := parseAction(tok, inCT)
		if err != nil {
			return nil, fmt.Errorf("action %q: %w", tok, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// parseAction parses one action.
func parseAction(tok string, inCT bool) (openflow15.Action, error) {
	name, arg, _ := strings.Cut(tok, ":")
	if inCT && name != "set_field" && name != "load" && name != "move" {
		return nil, unsupported("action %s inside ct(exec())", name)
	}
	switch {
	case tok == "NORMAL":
		return output(openflow15.P_NORMAL), nil
	case name == "output":
		p, err := parseUint(arg, 32)
		if err != nil || p == 0 || p > 0xfeff {
			return nil, unsupported("output port %q (only a physical port number)", arg)
		}
		return output(uint32(p)), nil
	case name == "set_field":
		return parseSetField(arg, inCT)
	case name == "load":
		return parseLoad(arg, inCT)
	case name == "move":
		return parseMove(arg, inCT)
	}
	call, args, ok := strings.Cut(tok, "(")
	if !ok || !strings.HasSuffix(args, ")") {
		return nil, unsupported("action %s", name)
	}
	args = strings.TrimSuffix(args, ")")
	switch call {
	case "resubmit":
		t, ok := strings.CutPrefix(args, ",")
		if !ok {
			return nil, unsupported("resubmit to a port")
		}
		n, err := parseUint(t, 8)
		if err != nil || n == 255 {
			return nil, unsupported("resubmit table %q", t)
		}
		return openflow15.NewNXActionResubmitTableAction(openflow15.OFPP_IN_PORT, uint8(n)), nil
	case "conjunction":
		id, kn, ok := strings.Cut(args, ",")
		ks, ns, ok2 := strings.Cut(kn, "/")
		if !ok || !ok2 {
			return nil, unsupported("conjunction(%s)", args)
		}
		idv, err1 := parseUint(id, 32)
		k, err2 := parseUint(ks, 8)
		n, err3 := parseUint(ns, 8)
		if err1 != nil || err2 != nil || err3 != nil || n < 2 || n > 64 || k < 1 || k > n {
			return nil, unsupported("conjunction(%s)", args)
		}
		// The wire carries the clause 0-based (ovs-ofctl: k - 1).
		return openflow15.NewNXActionConjunction(uint8(k-1), uint8(n), uint32(idv)), nil
	case "controller":
		hexs, ok := strings.CutPrefix(args, "userdata=")
		if !ok || strings.ContainsAny(hexs, ",=") {
			return nil, unsupported("controller(%s): only userdata=", args)
		}
		ud, err := parseUserdata(hexs)
		if err != nil {
			return nil, err
		}
		// ovs-ofctl sends a controller action with userdata as
		// NXAST_CONTROLLER2 with only the userdata property (max_len,
		// controller id, reason and meter at their defaults are left out).
		c := openflow15.NewNXActionController2()
		c.AddUserdata(ud)
		return c, nil
	case "ct":
		return parseCT(args)
	}
	return nil, unsupported("action %s", call)
}

// output is an output action as ovs-ofctl sends it: max_len 0 for any
// port but the controller.
func output(port uint32) *openflow15.ActionOutput {
	a := openflow15.NewActionOutput(port)
	a.MaxLen = 0
	return a
}

// parseUserdata reads hex bytes separated by dots ("01.00.12").
func parseUserdata(s string) ([]byte, error) {
	var out []byte
	for _, p := range strings.Split(s, ".") {
		if len(p) != 2 {
			return nil, unsupported("userdata %q", s)
		}
		b, err := hex.DecodeString(p)
		if err != nil {
			return nil, unsupported("userdata %q", s)
		}
		out = append(out, b...)
	}
	return out, nil
}

// setFieldTargets are the fields set_field may write, by ovs-ofctl name:
// the registers and, inside ct(exec()), ct_mark.
func setFieldTarget(name string, inCT bool) (string, error) {
	if inCT {
		if name == "ct_mark" {
			return "NXM_NX_CT_MARK", nil
		}
		return "", unsupported("set_field to %s inside ct(exec())", name)
	}
	if n, ok := regIndex(name); ok {
		return fmt.Sprintf("NXM_NX_REG%d", n), nil
	}
	return "", unsupported("set_field to %s", name)
}

// parseSetField parses "V->F" or "V/M->F" for a 32-bit register or
// ct_mark. ovs-ofctl sends it for OpenFlow 1.5 as OFPAT_SET_FIELD, with
// the mask in the OXM when there is one.
func parseSetField(arg string, inCT bool) (openflow15.Action, error) {
	val, dst, ok := strings.Cut(arg, "->")
	if !ok {
		return nil, unsupported("set_field:%s", arg)
	}
	oxm, err := setFieldTarget(dst, inCT)
	if err != nil {
		return nil, err
	}
	v, m, err := parseUintMasked(val, 32)
	if err != nil {
		return nil, err
	}
	if m != nil && *m == 0 {
		return nil, unsupported("set_field with an empty mask")
	}
	if m != nil && uint64(v)&^*m != 0 {
		// ovs-ofctl refuses value bits outside the mask.
		return nil, unsupported("set_field value %#x outside its mask %#x", v, *m)
	}
	return setField(oxm, uint32(v), m)
}

// setField is OFPAT_SET_FIELD of a 32-bit field, masked unless m is nil
// or all ones.
func setField(oxm string, v uint32, m *uint64) (openflow15.Action, error) {
	f, _, err := oxmField(oxm, be32(v), maskBytes(m, 4))
	if err != nil {
		return nil, err
	}
	return openflow15.NewActionSetField(f), nil
}

// subfield is FIELD[], FIELD[n] or FIELD[a..b] of an NXM field.
type subfield struct {
	name      string
	ofs, bits int
	header    *openflow15.MatchField
}

// nxmWidths are the fields move and load may name, with their widths in
// bits: the registers, conntrack state the compiler copies, and the
// packet fields it rewrites on a reply's clone.
var nxmWidths = map[string]int{
	"NXM_NX_CT_MARK": 32, "NXM_NX_CT_LABEL": 128,
	"NXM_OF_ETH_SRC": 48, "NXM_OF_ETH_DST": 48,
	"NXM_OF_IP_SRC": 32, "NXM_OF_IP_DST": 32,
	"NXM_NX_IPV6_SRC": 128, "NXM_NX_IPV6_DST": 128,
	"NXM_NX_CT_NW_SRC": 32, "NXM_NX_CT_NW_DST": 32,
	"NXM_NX_CT_IPV6_SRC": 128, "NXM_NX_CT_IPV6_DST": 128,
	"NXM_NX_CT_TP_SRC": 16, "NXM_NX_CT_TP_DST": 16,
	"NXM_OF_TCP_SRC": 16, "NXM_OF_TCP_DST": 16, "NXM_OF_UDP_SRC": 16, "NXM_OF_UDP_DST": 16,
	"NXM_OF_ICMP_TYPE": 8, "NXM_OF_ICMP_CODE": 8, "NXM_NX_ICMPV6_TYPE": 8, "NXM_NX_ICMPV6_CODE": 8,
}

// parseSubfield reads FIELD[], FIELD[n] or FIELD[a..b].
func parseSubfield(s string) (subfield, error) {
	name, rng, ok := strings.Cut(s, "[")
	if !ok || !strings.HasSuffix(rng, "]") {
		return subfield{}, unsupported("subfield %q", s)
	}
	rng = strings.TrimSuffix(rng, "]")
	width, known := nxmWidths[name]
	if strings.HasPrefix(name, "NXM_NX_REG") {
		if n, ok := regIndex("reg" + strings.TrimPrefix(name, "NXM_NX_REG")); ok {
			width, known = 32, true
			name = fmt.Sprintf("NXM_NX_REG%d", n)
		}
	}
	if !known {
		return subfield{}, unsupported("field %s", name)
	}
	sf := subfield{name: name, ofs: 0, bits: width}
	if rng != "" {
		a, b, two := strings.Cut(rng, "..")
		lo, err := strconv.Atoi(a)
		hi := lo
		if err == nil && two {
			hi, err = strconv.Atoi(b)
		}
		if err != nil || lo < 0 || hi < lo || hi >= width || strconv.Itoa(lo) != a || two && strconv.Itoa(hi) != b {
			return subfield{}, unsupported("bits [%s] of %s", rng, name)
		}
		sf.ofs, sf.bits = lo, hi-lo+1
	}
	h, err := openflow15.FindFieldHeaderByName(name, false)
	if err != nil {
		return subfield{}, fmt.Errorf("libOpenflow has no field %s: %w", name, err)
	}
	sf.header = h
	return sf, nil
}

// parseMove parses "SRC->DST" of subfields of equal width, sent as
// ovs-ofctl sends it for OpenFlow 1.5: OFPAT_COPY_FIELD (OVS accepts
// NXAST_REG_MOVE only up to OpenFlow 1.4).
func parseMove(arg string, inCT bool) (openflow15.Action, error) {
	s, d, ok := strings.Cut(arg, "->")
	if !ok {
		return nil, unsupported("move:%s", arg)
	}
	src, err := parseSubfield(s)
	if err != nil {
		return nil, err
	}
	dst, err := parseSubfield(d)
	if err != nil {
		return nil, err
	}
	if src.bits != dst.bits {
		return nil, unsupported("move of %d bits into %d", src.bits, dst.bits)
	}
	if inCT && dst.name != "NXM_NX_CT_LABEL" && dst.name != "NXM_NX_CT_MARK" {
		return nil, unsupported("move to %s inside ct(exec())", dst.name)
	}
	so, err := openflow15.FindOxmIdByName(src.name, false)
	if err != nil {
		return nil, fmt.Errorf("libOpenflow has no field %s: %w", src.name, err)
	}
	do, err := openflow15.FindOxmIdByName(dst.name, false)
	if err != nil {
		return nil, fmt.Errorf("libOpenflow has no field %s: %w", dst.name, err)
	}
	return openflow15.NewActionCopyField(uint16(src.bits), uint16(src.ofs), uint16(dst.ofs), *so, *do), nil
}

// parseLoad parses "V->FIELD[a..b]" into a register or ct_mark: ovs-ofctl
// sends it for OpenFlow 1.5 as the masked OFPAT_SET_FIELD of the same
// bits (OVS prints it back as set_field).
func parseLoad(arg string, inCT bool) (openflow15.Action, error) {
	val, d, ok := strings.Cut(arg, "->")
	if !ok {
		return nil, unsupported("load:%s", arg)
	}
	dst, err := parseSubfield(d)
	if err != nil {
		return nil, err
	}
	if dst.name != "NXM_NX_CT_MARK" && !strings.HasPrefix(dst.name, "NXM_NX_REG") || inCT != (dst.name == "NXM_NX_CT_MARK") {
		return nil, unsupported("load into %s", dst.name)
	}
	v, err := parseUint(val, 64)
	if err != nil {
		return nil, err
	}
	if dst.bits < 64 && v>>dst.bits != 0 {
		return nil, unsupported("load of %#x into %d bits", v, dst.bits)
	}
	mask := (uint64(1)<<dst.bits - 1) << dst.ofs
	return setField(dst.name, uint32(v<<dst.ofs), &mask)
}

// parseCT parses ct(...) as the compiler writes it: commit, table=N,
// zone=N or zone=FIELD[a..b] (16 bits), exec(...), each at most once.
func parseCT(args string) (openflow15.Action, error) {
	toks, err := splitTop(args)
	if err != nil {
		return nil, err
	}
	ct := openflow15.NewNXActionConnTrack()
	seen := map[string]bool{}
	var exec []openflow15.Action
	for _, tok := range toks {
		key, val, _ := strings.Cut(tok, "=")
		if strings.HasPrefix(tok, "exec(") {
			key = "exec"
		}
		if seen[key] {
			return nil, unsupported("ct %s twice", key)
		}
		seen[key] = true
		switch key {
		case "commit":
			if val != "" || tok != "commit" {
				return nil, unsupported("ct(%s)", tok)
			}
			ct.Commit()
		case "table":
			t, err := parseUint(val, 8)
			if err != nil || t == 255 {
				return nil, unsupported("ct table %q", val)
			}
			ct.Table(uint8(t))
		case "zone":
			if z, err := parseUint(val, 16); err == nil {
				ct.ZoneImm(uint16(z))
				break
			}
			sf, err := parseSubfield(val)
			if err != nil {
				return nil, err
			}
			if sf.bits != 16 {
				return nil, unsupported("ct zone from %d bits", sf.bits)
			}
			ct.ZoneRange(sf.header, openflow15.NewNXRange(sf.ofs, sf.ofs+sf.bits-1))
		case "exec":
			inner := strings.TrimSuffix(strings.TrimPrefix(tok, "exec("), ")")
			itoks, err := splitTop(inner)
			if err != nil {
				return nil, err
			}
			if exec, err = parseActions(itoks, true); err != nil {
				return nil, err
			}
		default:
			return nil, unsupported("ct(%s)", tok)
		}
	}
	if len(exec) > 0 && !seen["commit"] {
		return nil, unsupported("ct(exec()) without commit")
	}
	ct.AddAction(exec...)
	return ct, nil
}
