package openflow

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"antrea.io/libOpenflow/openflow15"
)

// The native path (native.go) encodes the compiler's flow text itself.
// This file and flowactions.go are a strict parser of exactly the
// ovs-ofctl vocabulary the compiler writes, never a general one: a field,
// an action, a number form or a combination outside it is an error
// (errUnsupported), and that flow's bundle goes through ovs-ofctl as
// before. Each accepted form is encoded as ovs-ofctl 3.1 encodes it for
// OpenFlow 1.5 (ofp-actions.c, nx-match.c), which
// TestNativeEncodingMatchesOfctl checks flow by flow on a real switch.

// errUnsupported marks text outside the native vocabulary.
type errUnsupported struct{ what string }

func (e *errUnsupported) Error() string { return "not in the native OpenFlow vocabulary: " + e.what }

func unsupported(format string, args ...any) error {
	return &errUnsupported{fmt.Sprintf(format, args...)}
}

// ethernet types and IP protocols the shorthand match names stand for.
const (
	ethIPv4 = 0x0800
	ethIPv6 = 0x86dd
	ethARP  = 0x0806

	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// shorthands are ovs-ofctl's protocol names: an ethernet type and maybe
// an IP protocol.
var shorthands = map[string]struct {
	eth   uint16
	proto uint8
}{
	"ip": {ethIPv4, 0}, "ipv6": {ethIPv6, 0}, "arp": {ethARP, 0},
	"tcp": {ethIPv4, protoTCP}, "udp": {ethIPv4, protoUDP}, "sctp": {ethIPv4, protoSCTP}, "icmp": {ethIPv4, protoICMP},
	"tcp6": {ethIPv6, protoTCP}, "udp6": {ethIPv6, protoUDP}, "sctp6": {ethIPv6, protoSCTP}, "icmp6": {ethIPv6, protoICMPv6},
}

// matchBuilder collects a match's fields: ethernet type and IP protocol
// are emitted before the fields that need them (OVS checks prerequisites
// in order).
type matchBuilder struct {
	eth    uint16
	proto  uint8
	seen   map[string]bool
	first  []openflow15.MatchField // in_port, eth_src, eth_dst
	fields []openflow15.MatchField // everything after eth_type and ip_proto
}

// oxmField builds a match field (or a set_field's field) from libOpenflow's
// header for name with big-endian value and mask bytes of the field's
// width. As ovs-ofctl does, value bits outside the mask are cleared and
// an all-ones mask is sent as no mask; ok is false for an all-zero mask
// (the field matches anything and is left out).
func oxmField(name string, value, mask []byte) (f openflow15.MatchField, ok bool, err error) {
	if mask != nil {
		if allBytes(mask, 0) {
			return f, false, nil
		}
		if allBytes(mask, 0xff) {
			mask = nil
		} else {
			v := make([]byte, len(value))
			for i := range value {
				v[i] = value[i] & mask[i]
			}
			value = v
		}
	}
	h, err := openflow15.FindFieldHeaderByName(name, mask != nil)
	if err != nil {
		return f, false, fmt.Errorf("libOpenflow has no field %s: %w", name, err)
	}
	f = *h
	f.Value = &openflow15.ByteArrayField{Data: value, Length: uint8(len(value))}
	if mask != nil {
		f.Mask = &openflow15.ByteArrayField{Data: mask, Length: uint8(len(mask))}
	}
	return f, true, nil
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

// parseMatch parses the compiler's match text into OpenFlow 1.5 fields.
func parseMatch(text string) (openflow15.Match, error) {
	mb := matchBuilder{seen: map[string]bool{}}
	if text != "" {
		for _, tok := range strings.Split(text, ",") {
			if err := mb.add(tok); err != nil {
				return openflow15.Match{}, fmt.Errorf("match %q: %w", tok, err)
			}
		}
	}
	m := *openflow15.NewMatch()
	for _, f := range mb.first {
		m.AddField(f)
	}
	if mb.eth != 0 {
		f, _, _ := oxmField("OXM_OF_ETH_TYPE", be16(mb.eth), nil)
		m.AddField(f)
	}
	if mb.proto != 0 {
		f, _, _ := oxmField("OXM_OF_IP_PROTO", []byte{mb.proto}, nil)
		m.AddField(f)
	}
	for _, f := range mb.fields {
		m.AddField(f)
	}
	return m, nil
}

// add parses one name or name=value of a match.
func (mb *matchBuilder) add(tok string) error {
	name, value, hasValue := strings.Cut(tok, "=")
	if mb.seen[name] {
		return unsupported("field %s twice", name)
	}
	mb.seen[name] = true
	if s, ok := shorthands[name]; ok {
		if hasValue {
			return unsupported("%s with a value", name)
		}
		return mb.setProto(s.eth, s.proto)
	}
	if !hasValue {
		return unsupported("field %s without a value", name)
	}
	var (
		f   openflow15.MatchField
		ok  bool
		err error
	)
	switch name {
	case "in_port":
		var p uint64
		if p, err = parseUint(value, 32); err == nil {
			if p == 0 || p > 0xfeff {
				return unsupported("in_port %s (only a physical port number)", value)
			}
			f, ok, err = oxmField("OXM_OF_IN_PORT", be32(uint32(p)), nil)
			mb.first = append(mb.first, f)
			return err
		}
		return err
	case "dl_src", "dl_dst":
		v, m, err := parseMACMasked(value)
		if err != nil {
			return err
		}
		oxm := map[string]string{"dl_src": "OXM_OF_ETH_SRC", "dl_dst": "OXM_OF_ETH_DST"}[name]
		if f, ok, err = oxmField(oxm, v, m); err == nil && ok {
			mb.first = append(mb.first, f)
		}
		return err
	case "nw_proto":
		p, err := parseUint(value, 8)
		if err != nil {
			return err
		}
		if mb.eth != ethIPv4 && mb.eth != ethIPv6 || mb.proto != 0 || p == 0 {
			return unsupported("nw_proto=%s without ip or ipv6 before it", value)
		}
		mb.proto = uint8(p)
		return nil
	case "nw_src", "nw_dst", "arp_spa", "arp_tpa":
		want := map[string]uint16{"nw_src": ethIPv4, "nw_dst": ethIPv4, "arp_spa": ethARP, "arp_tpa": ethARP}[name]
		if mb.eth != want {
			return unsupported("%s without its protocol before it", name)
		}
		v, m, err := parseAddrMasked(value, false)
		if err != nil {
			return err
		}
		oxm := map[string]string{"nw_src": "OXM_OF_IPV4_SRC", "nw_dst": "OXM_OF_IPV4_DST", "arp_spa": "OXM_OF_ARP_SPA", "arp_tpa": "OXM_OF_ARP_TPA"}[name]
		f, ok, err = oxmField(oxm, v, m)
	case "ipv6_src", "ipv6_dst", "nd_target":
		if mb.eth != ethIPv6 || name == "nd_target" && mb.proto != protoICMPv6 {
			return unsupported("%s without its protocol before it", name)
		}
		v, m, err := parseAddrMasked(value, true)
		if err != nil {
			return err
		}
		oxm := map[string]string{"ipv6_src": "OXM_OF_IPV6_SRC", "ipv6_dst": "OXM_OF_IPV6_DST", "nd_target": "OXM_OF_IPV6_ND_TARGET"}[name]
		f, ok, err = oxmField(oxm, v, m)
	case "arp_sha", "arp_tha", "nd_sll", "nd_tll":
		if name[0] == 'a' && mb.eth != ethARP || name[0] == 'n' && mb.proto != protoICMPv6 {
			return unsupported("%s without its protocol before it", name)
		}
		hw, err := parseMAC(value)
		if err != nil {
			return err
		}
		oxm := map[string]string{"arp_sha": "OXM_OF_ARP_SHA", "arp_tha": "OXM_OF_ARP_THA", "nd_sll": "OXM_OF_IPV6_ND_SLL", "nd_tll": "OXM_OF_IPV6_ND_TLL"}[name]
		f, ok, err = oxmField(oxm, hw, nil)
	case "tcp_src", "tcp_dst", "udp_src", "udp_dst", "sctp_src", "sctp_dst", "tp_src", "tp_dst":
		proto, side, _ := strings.Cut(name, "_")
		want := map[string]uint8{"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP}[proto]
		if proto == "tp" {
			want = mb.proto
			proto = map[uint8]string{protoTCP: "tcp", protoUDP: "udp", protoSCTP: "sctp"}[mb.proto]
		}
		if proto == "" || mb.proto != want {
			return unsupported("%s without tcp, udp or sctp before it", name)
		}
		v, m, err := parseUintMasked(value, 16)
		if err != nil {
			return err
		}
		f, ok, err = oxmField("OXM_OF_"+strings.ToUpper(proto+"_"+side), be16(uint16(v)), maskBytes(m, 2))
	case "icmp_type", "icmp_code", "icmpv6_type", "icmpv6_code":
		oxm, want := "OXM_OF_ICMPV4_", uint8(protoICMP)
		if strings.HasPrefix(name, "icmpv6") {
			oxm, want = "OXM_OF_ICMPV6_", protoICMPv6
		}
		if mb.proto != want {
			return unsupported("%s without its protocol before it", name)
		}
		v, err := parseUint(value, 8)
		if err != nil {
			return err
		}
		_, part, _ := strings.Cut(name, "_")
		f, ok, err = oxmField(oxm+strings.ToUpper(part), []byte{uint8(v)}, nil)
	case "ct_state":
		v, m, err := parseCTState(value)
		if err != nil {
			return err
		}
		f, ok, err = oxmField("NXM_NX_CT_STATE", be32(v), be32(m))
	case "ct_mark", "conj_id":
		v, m, err := parseUintMasked(value, 32)
		if err != nil {
			return err
		}
		if name == "conj_id" && m != nil {
			return unsupported("masked conj_id")
		}
		f, ok, err = oxmField("NXM_NX_"+strings.ToUpper(name), be32(uint32(v)), maskBytes(m, 4))
	default:
		n, isReg := regIndex(name)
		if !isReg {
			return unsupported("match field %s", name)
		}
		v, m, err := parseUintMasked(value, 32)
		if err != nil {
			return err
		}
		f, ok, err = oxmField(fmt.Sprintf("NXM_NX_REG%d", n), be32(uint32(v)), maskBytes(m, 4))
	}
	if err != nil {
		return err
	}
	if ok {
		mb.fields = append(mb.fields, f)
	}
	return nil
}

// setProto applies a protocol shorthand; two that disagree are refused.
func (mb *matchBuilder) setProto(eth uint16, proto uint8) error {
	if mb.eth != 0 && mb.eth != eth || mb.proto != 0 && proto != 0 && mb.proto != proto {
		return unsupported("two protocols")
	}
	mb.eth = eth
	if proto != 0 {
		mb.proto = proto
	}
	return nil
}

// regIndex is n for "regN" (0–15, no leading zeros).
func regIndex(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "reg")
	if !ok || s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 15 {
		return 0, false
	}
	return n, true
}

// parseUint reads a number as the compiler writes it: decimal without
// leading zeros, or 0x hex. (ovs-ofctl reads "010" as ten; Go's base 0 as
// eight: neither form is accepted.)
func parseUint(s string, bits int) (uint64, error) {
	base := 10
	digits := s
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		base, digits = 16, h
	} else if len(s) > 1 && s[0] == '0' {
		return 0, unsupported("number %q", s)
	}
	if digits == "" || strings.ContainsAny(digits, "_+-") {
		return 0, unsupported("number %q", s)
	}
	v, err := strconv.ParseUint(digits, base, bits)
	if err != nil {
		return 0, unsupported("number %q (%d bits)", s, bits)
	}
	return v, nil
}

// parseUintMasked reads V or V/M; m is nil without a mask.
func parseUintMasked(s string, bits int) (v uint64, m *uint64, err error) {
	vs, ms, masked := strings.Cut(s, "/")
	if v, err = parseUint(vs, bits); err != nil {
		return 0, nil, err
	}
	if masked {
		mv, err := parseUint(ms, bits)
		if err != nil {
			return 0, nil, err
		}
		m = &mv
	}
	return v, m, nil
}

// maskBytes is m as n big-endian bytes, nil for no mask.
func maskBytes(m *uint64, n int) []byte {
	if m == nil {
		return nil
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], *m)
	return b[8-n:]
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// parseMAC reads six colon-separated two-digit hex bytes.
func parseMAC(s string) ([]byte, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 || len(s) != 17 || strings.ContainsAny(s, "-.") {
		return nil, unsupported("MAC address %q", s)
	}
	return hw, nil
}

// parseMACMasked reads MAC or MAC/MAC.
func parseMACMasked(s string) (v, m []byte, err error) {
	vs, ms, masked := strings.Cut(s, "/")
	if v, err = parseMAC(vs); err != nil {
		return nil, nil, err
	}
	if masked {
		if m, err = parseMAC(ms); err != nil {
			return nil, nil, err
		}
	}
	return v, m, nil
}

// parseAddrMasked reads an address or address/prefix-length of one
// family, as net/netip reads them (no zones, no IPv4 in IPv6, no leading
// zeros in IPv4); host bits of a prefix are cleared, as ovs-ofctl does.
func parseAddrMasked(s string, v6 bool) (v, m []byte, err error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Is6() != v6 || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return nil, nil, unsupported("address prefix %q", s)
		}
		bits := p.Addr().BitLen()
		mask := net.CIDRMask(p.Bits(), bits)
		return p.Addr().AsSlice(), []byte(mask), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is6() != v6 || a.Zone() != "" || a.Is4In6() {
		return nil, nil, unsupported("address %q", s)
	}
	return a.AsSlice(), nil, nil
}

// ctStateBits are the ct_state flags by name (NXM_NX_CT_STATE bits).
var ctStateBits = map[string]uint32{
	"new": 1 << 0, "est": 1 << 1, "rel": 1 << 2, "rpl": 1 << 3,
	"inv": 1 << 4, "trk": 1 << 5, "snat": 1 << 6, "dnat": 1 << 7,
}

// parseCTState reads "+flag-flag...": set flags go into value and mask,
// cleared ones into the mask only.
func parseCTState(s string) (v, m uint32, err error) {
	if s == "" {
		return 0, 0, unsupported("empty ct_state")
	}
	for s != "" {
		sign := s[0]
		if sign != '+' && sign != '-' {
			return 0, 0, unsupported("ct_state %q", s)
		}
		s = s[1:]
		i := strings.IndexAny(s, "+-")
		if i < 0 {
			i = len(s)
		}
		bit, ok := ctStateBits[s[:i]]
		if !ok || m&bit != 0 {
			return 0, 0, unsupported("ct_state flag %q", s[:i])
		}
		m |= bit
		if sign == '+' {
			v |= bit
		}
		s = s[i:]
	}
	return v, m, nil
}
