// Package flowcheck proves that a set of OpenFlow flows never leaves Open
// vSwitch to choose between flows of one priority: OpenFlow does not define
// which of two overlapping flows of equal priority a packet takes, and OVS
// picks either, so a compiler that emits such a pair has a bug that only
// shows on some packets, some of the time.
//
// It understands the match syntax flowgate's compiler writes (ovs-ofctl
// syntax: protocol shorthands, k=v and v/mask fields, IPv4 and IPv6
// prefixes, registers, ct_state flags, conj_id) and conjunctive matches:
// what must not overlap at one priority is two plain flows with different
// actions, two conjunctive matches (different conjunction ids), and a
// conjunctive match and a plain flow with other actions. The flows that
// make up conjunctions may overlap each other freely.
package flowcheck

import (
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// value is a field value or mask, up to 128 bits.
type value struct{ hi, lo uint64 }

func (a value) and(b value) value { return value{a.hi & b.hi, a.lo & b.lo} }

// constraint is one field's match: the packet's field, masked, must equal
// v (already masked).
type constraint struct {
	v, m value
}

// Match is a parsed match: the constraint on every field it names, with
// protocol shorthands expanded into eth_type and nw_proto.
type Match struct {
	fields map[string]constraint
}

// Disjoint reports whether no packet can match both a and b: some field
// both constrain has bits that both care about and that differ.
func Disjoint(a, b Match) bool {
	small, large := a.fields, b.fields
	if len(large) < len(small) {
		small, large = large, small
	}
	for name, x := range small {
		if y, ok := large[name]; ok && conflicts(x, y) {
			return true
		}
	}
	return false
}

func conflicts(x, y constraint) bool {
	both := x.m.and(y.m)
	return x.v.and(both) != y.v.and(both)
}

// shorthands are the protocol keywords and what they stand for.
var shorthands = map[string][]string{
	"ip":    {"eth_type=0x0800"},
	"ipv6":  {"eth_type=0x86dd"},
	"arp":   {"eth_type=0x0806"},
	"tcp":   {"eth_type=0x0800", "nw_proto=6"},
	"udp":   {"eth_type=0x0800", "nw_proto=17"},
	"sctp":  {"eth_type=0x0800", "nw_proto=132"},
	"icmp":  {"eth_type=0x0800", "nw_proto=1"},
	"tcp6":  {"eth_type=0x86dd", "nw_proto=6"},
	"udp6":  {"eth_type=0x86dd", "nw_proto=17"},
	"sctp6": {"eth_type=0x86dd", "nw_proto=132"},
	"icmp6": {"eth_type=0x86dd", "nw_proto=58"},
}

// kind is how a field's value is written.
type kind uint8

const (
	kindInt  kind = iota // decimal or 0x hex, optional /mask
	kindIPv4             // dotted quad, optional /len or /mask
	kindIPv6             // IPv6 address, optional /len
	kindMAC              // xx:xx:xx:xx:xx:xx, optional /mask
	kindCT               // ct_state flags: +trk-inv...
)

// field describes one match field: its canonical name (aliases such as
// tcp_dst and tp_dst are one field), width and syntax.
type field struct {
	name  string
	width int
	kind  kind
}

var fieldTable = func() map[string]field {
	m := map[string]field{
		"in_port":   {"in_port", 32, kindInt},
		"dl_src":    {"dl_src", 48, kindMAC},
		"dl_dst":    {"dl_dst", 48, kindMAC},
		"eth_src":   {"dl_src", 48, kindMAC},
		"eth_dst":   {"dl_dst", 48, kindMAC},
		"dl_type":   {"eth_type", 16, kindInt},
		"eth_type":  {"eth_type", 16, kindInt},
		"nw_proto":  {"nw_proto", 8, kindInt},
		"ip_proto":  {"nw_proto", 8, kindInt},
		"nw_src":    {"nw_src", 32, kindIPv4},
		"nw_dst":    {"nw_dst", 32, kindIPv4},
		"ip_src":    {"nw_src", 32, kindIPv4},
		"ip_dst":    {"nw_dst", 32, kindIPv4},
		"ipv6_src":  {"ipv6_src", 128, kindIPv6},
		"ipv6_dst":  {"ipv6_dst", 128, kindIPv6},
		"arp_spa":   {"arp_spa", 32, kindIPv4},
		"arp_tpa":   {"arp_tpa", 32, kindIPv4},
		"arp_sha":   {"arp_sha", 48, kindMAC},
		"arp_tha":   {"arp_tha", 48, kindMAC},
		"nd_target": {"nd_target", 128, kindIPv6},
		"nd_sll":    {"nd_sll", 48, kindMAC},
		"nd_tll":    {"nd_tll", 48, kindMAC},
		"ct_state":  {"ct_state", 32, kindCT},
		"ct_mark":   {"ct_mark", 32, kindInt},
		"ct_zone":   {"ct_zone", 16, kindInt},
		"conj_id":   {"conj_id", 32, kindInt},
		"metadata":  {"metadata", 64, kindInt},
	}
	// OVS stores the transport ports of every protocol in one pair of
	// fields (the protocol, nw_proto, tells them apart), and the ICMP and
	// ICMPv6 type and code likewise.
	for _, p := range []string{"tp", "tcp", "udp", "sctp"} {
		m[p+"_src"] = field{"tp_src", 16, kindInt}
		m[p+"_dst"] = field{"tp_dst", 16, kindInt}
	}
	for _, p := range []string{"icmp", "icmpv6"} {
		m[p+"_type"] = field{"icmp_type", 8, kindInt}
		m[p+"_code"] = field{"icmp_code", 8, kindInt}
	}
	for i := 0; i < 16; i++ {
		m["reg"+strconv.Itoa(i)] = field{"reg" + strconv.Itoa(i), 32, kindInt}
	}
	return m
}()

// ctFlags are the ct_state flag bits.
var ctFlags = map[string]uint64{"new": 0x01, "est": 0x02, "rel": 0x04, "rpl": 0x08, "inv": 0x10, "trk": 0x20, "snat": 0x40, "dnat": 0x80}

// ParseMatch parses a match in ovs-ofctl syntax. It fails on a field it
// does not know (so that a checker never passes a flow it did not
// understand), on a malformed value, on a match that contradicts itself
// ("tcp,udp") and on a field whose prerequisite is missing (a port without
// a protocol, an IPv4 address without eth_type=0x0800), which OVS would
// reject too.
func ParseMatch(s string) (Match, error) {
	m := Match{fields: map[string]constraint{}}
	if s == "" {
		return m, nil
	}
	var parts []string
	for _, tok := range strings.Split(s, ",") {
		if exp, ok := shorthands[tok]; ok {
			parts = append(parts, exp...)
			continue
		}
		parts = append(parts, tok)
	}
	for _, part := range parts {
		name, text, ok := strings.Cut(part, "=")
		if !ok {
			return Match{}, fmt.Errorf("match %q: %q is neither a protocol nor field=value", s, part)
		}
		f, known := fieldTable[name]
		if !known {
			return Match{}, fmt.Errorf("match %q: unknown field %q", s, name)
		}
		c, err := parseValue(f, text)
		if err != nil {
			return Match{}, fmt.Errorf("match %q: %s: %w", s, name, err)
		}
		if old, dup := m.fields[f.name]; dup {
			if conflicts(old, c) {
				return Match{}, fmt.Errorf("match %q contradicts itself on %s", s, f.name)
			}
			c = constraint{v: value{old.v.hi | c.v.hi, old.v.lo | c.v.lo}, m: value{old.m.hi | c.m.hi, old.m.lo | c.m.lo}}
		}
		m.fields[f.name] = c
	}
	if err := m.prerequisites(); err != nil {
		return Match{}, fmt.Errorf("match %q: %w", s, err)
	}
	return m, nil
}

// widths maps every canonical field name to its width.
var widths = func() map[string]int {
	m := map[string]int{}
	for _, f := range fieldTable {
		m[f.name] = f.width
	}
	return m
}()

// exact reports whether the match pins field name to v exactly.
func (m Match) exact(name string, v uint64) bool {
	c, ok := m.fields[name]
	return ok && c.m == value{0, ones(widths[name])} && c.v == value{0, v}
}

// prerequisites checks the fields that OVS only accepts together with
// others.
func (m Match) prerequisites() error {
	ip4, ip6 := m.exact("eth_type", 0x0800), m.exact("eth_type", 0x86dd)
	proto := func(ps ...uint64) bool {
		for _, p := range ps {
			if m.exact("nw_proto", p) {
				return true
			}
		}
		return false
	}
	for name := range m.fields {
		var ok bool
		switch name {
		case "nw_src", "nw_dst":
			ok = ip4
		case "ipv6_src", "ipv6_dst":
			ok = ip6
		case "nw_proto":
			ok = ip4 || ip6
		case "arp_spa", "arp_tpa", "arp_sha", "arp_tha":
			ok = m.exact("eth_type", 0x0806)
		case "tp_src", "tp_dst":
			ok = (ip4 || ip6) && proto(6, 17, 132)
		case "icmp_type", "icmp_code":
			ok = ip4 && proto(1) || ip6 && proto(58)
		case "nd_target":
			ok = ip6 && proto(58) && (m.exact("icmp_type", 135) || m.exact("icmp_type", 136))
		case "nd_sll":
			ok = ip6 && proto(58) && m.exact("icmp_type", 135)
		case "nd_tll":
			ok = ip6 && proto(58) && m.exact("icmp_type", 136)
		default:
			ok = true
		}
		if !ok {
			return fmt.Errorf("%s without its prerequisites", name)
		}
	}
	return nil
}

func ones(width int) uint64 {
	if width >= 64 {
		return ^uint64(0)
	}
	return 1<<width - 1
}

// parseValue reads one field's value (and mask).
func parseValue(f field, s string) (constraint, error) {
	switch f.kind {
	case kindIPv4, kindIPv6:
		return parseAddress(f, s)
	case kindMAC:
		return parseMAC(s)
	case kindCT:
		return parseCTState(s)
	}
	text, maskText, masked := strings.Cut(s, "/")
	v, err := strconv.ParseUint(text, 0, f.width)
	if err != nil {
		return constraint{}, err
	}
	mask := ones(f.width)
	if masked {
		if mask, err = strconv.ParseUint(maskText, 0, f.width); err != nil {
			return constraint{}, err
		}
	}
	return constraint{v: value{0, v & mask}, m: value{0, mask}}, nil
}

func parseAddress(f field, s string) (constraint, error) {
	text, maskText, masked := strings.Cut(s, "/")
	a, err := netip.ParseAddr(text)
	if err != nil || (f.kind == kindIPv4) != a.Is4() {
		return constraint{}, fmt.Errorf("bad address %q", s)
	}
	bitsLen := a.BitLen()
	if masked {
		if n, err := strconv.Atoi(maskText); err == nil {
			if n < 0 || n > a.BitLen() {
				return constraint{}, fmt.Errorf("bad prefix length in %q", s)
			}
			bitsLen = n
		} else {
			// A dotted (or IPv6) netmask: it must be contiguous to be a
			// prefix; OVS accepts others, flowgate never writes them.
			mk, err := netip.ParseAddr(maskText)
			if err != nil || mk.BitLen() != a.BitLen() {
				return constraint{}, fmt.Errorf("bad mask in %q", s)
			}
			mv := toValue(mk)
			n := bits.OnesCount64(mv.hi) + bits.OnesCount64(mv.lo)
			if prefixMask(a.BitLen(), n) != mv {
				return constraint{}, fmt.Errorf("non-contiguous mask in %q", s)
			}
			bitsLen = n
		}
	}
	mask := prefixMask(a.BitLen(), bitsLen)
	return constraint{v: toValue(a).and(mask), m: mask}, nil
}

// toValue right-aligns an address in 128 bits.
func toValue(a netip.Addr) value {
	if a.Is4() {
		b := a.As4()
		return value{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var v value
	for i := 0; i < 8; i++ {
		v.hi = v.hi<<8 | uint64(b[i])
		v.lo = v.lo<<8 | uint64(b[8+i])
	}
	return v
}

// prefixMask is the mask of the first n of width bits, right-aligned.
func prefixMask(width, n int) value {
	if width == 32 {
		return value{0, ones(32) &^ ones(32-n)}
	}
	switch {
	case n == 0:
		return value{}
	case n <= 64:
		return value{^uint64(0) << (64 - n), 0}
	case n == 128:
		return value{^uint64(0), ^uint64(0)}
	}
	return value{^uint64(0), ^uint64(0) << (128 - n)}
}

func parseMAC(s string) (constraint, error) {
	text, maskText, masked := strings.Cut(s, "/")
	hw, err := net.ParseMAC(text)
	if err != nil || len(hw) != 6 {
		return constraint{}, fmt.Errorf("bad MAC %q", s)
	}
	mask := ones(48)
	if masked {
		mk, err := net.ParseMAC(maskText)
		if err != nil || len(mk) != 6 {
			return constraint{}, fmt.Errorf("bad MAC mask %q", s)
		}
		mask = macValue(mk)
	}
	return constraint{v: value{0, macValue(hw) & mask}, m: value{0, mask}}, nil
}

func macValue(hw net.HardwareAddr) uint64 {
	var v uint64
	for _, b := range hw {
		v = v<<8 | uint64(b)
	}
	return v
}

// parseCTState reads "+trk+new-inv": each flag's bit is in the mask, and
// in the value when it is +.
func parseCTState(s string) (constraint, error) {
	var c constraint
	for s != "" {
		sign := s[0]
		if sign != '+' && sign != '-' {
			return constraint{}, fmt.Errorf("bad ct_state %q", s)
		}
		end := strings.IndexAny(s[1:], "+-")
		if end < 0 {
			end = len(s) - 1
		}
		flag, ok := ctFlags[s[1:1+end]]
		if !ok {
			return constraint{}, fmt.Errorf("unknown ct_state flag %q", s[1:1+end])
		}
		c.m.lo |= flag
		if sign == '+' {
			c.v.lo |= flag
		}
		s = s[1+end:]
	}
	return c, nil
}
