package sandbox

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// IPv6 frames built by hand, for spoofing tests: the kernel would refuse
// to send most of them (a source address eth0 does not have, a neighbour
// advertisement for someone else's address, a router advertisement from a
// host).

// ICMPv6 message types of neighbour discovery (RFC 4861).
const (
	ICMPv6RouterSolicit   = 133
	ICMPv6RouterAdvert    = 134
	ICMPv6NeighborSolicit = 135
	ICMPv6NeighborAdvert  = 136
)

// ipv6Multicast is the Ethernet address of IPv6 multicast group a (RFC 2464).
func ipv6Multicast(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// IPv6Frame is an Ethernet frame carrying an IPv6 packet of next header
// proto with payload (whose checksum, for ICMPv6 and UDP, it fills in at
// the usual offset). The hop limit is 255, as neighbour discovery needs;
// a nil dstMAC is the multicast MAC of a multicast dst.
func IPv6Frame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, proto uint8, payload []byte) []byte {
	if dstMAC == nil {
		dstMAC = ipv6Multicast(dst)
	}
	f := make([]byte, 14+40+len(payload))
	copy(f[0:6], dstMAC)
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	ip := f[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)))
	ip[6], ip[7] = proto, 255
	s, d := src.As16(), dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	body := ip[40:]
	copy(body, payload)
	at := -1
	switch proto {
	case 58: // ICMPv6
		at = 2
	case 17: // UDP
		at = 6
	}
	if at >= 0 {
		body[at], body[at+1] = 0, 0
		// The pseudo-header: addresses, length, next header.
		pseudo := make([]byte, 0, 40+len(body))
		pseudo = append(pseudo, s[:]...)
		pseudo = append(pseudo, d[:]...)
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(body)))
		pseudo = append(pseudo, 0, 0, 0, proto)
		pseudo = append(pseudo, body...)
		binary.BigEndian.PutUint16(body[at:], icmpChecksum(pseudo))
	}
	return f
}

// UDP6 is a UDP datagram (header and data) from srcPort to dstPort, its
// checksum left for IPv6Frame.
func UDP6(srcPort, dstPort uint16, data []byte) []byte {
	u := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], srcPort)
	binary.BigEndian.PutUint16(u[2:], dstPort)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], data)
	return u
}

// NeighborAdvert is an unsolicited neighbour advertisement (override set)
// claiming target for the link-layer address lladdr: what a host sends to
// move an address to itself.
func NeighborAdvert(target netip.Addr, lladdr net.HardwareAddr) []byte {
	m := make([]byte, 24, 32)
	m[0] = ICMPv6NeighborAdvert
	m[4] = 0x20 // override
	t := target.As16()
	copy(m[8:24], t[:])
	m = append(m, 2, 1) // target link-layer address option, 8 bytes
	return append(m, lladdr...)
}

// NeighborSolicit asks for target's link-layer address, carrying the
// sender's lladdr (a source link-layer address option) unless it is nil.
func NeighborSolicit(target netip.Addr, lladdr net.HardwareAddr) []byte {
	m := make([]byte, 24, 32)
	m[0] = ICMPv6NeighborSolicit
	t := target.As16()
	copy(m[8:24], t[:])
	if lladdr != nil {
		m = append(m, 1, 1) // source link-layer address option
		m = append(m, lladdr...)
	}
	return m
}

// RouterAdvert advertises a default router (lifetime 1800 s) with the
// on-link, autonomous prefix pfx and the router's lladdr: a rogue router
// taking over its neighbours' default route and addresses.
func RouterAdvert(pfx netip.Prefix, lladdr net.HardwareAddr) []byte {
	m := make([]byte, 16, 16+8+32)
	m[0] = ICMPv6RouterAdvert
	m[4] = 64                                              // current hop limit
	binary.BigEndian.PutUint16(m[6:], 1800)                // router lifetime
	m = append(m, 1, 1)                                    // source link-layer address option
	m = append(m, lladdr...)                               //
	p := make([]byte, 32)                                  // prefix information option
	p[0], p[1], p[2], p[3] = 3, 4, uint8(pfx.Bits()), 0xc0 // on-link, autonomous
	binary.BigEndian.PutUint32(p[4:], 86400)               // valid lifetime
	binary.BigEndian.PutUint32(p[8:], 14400)               // preferred lifetime
	a := pfx.Masked().Addr().As16()
	copy(p[16:], a[:])
	return append(m, p...)
}

// LinkLocal is the EUI-64 link-local address of mac (RFC 4291 appendix
// A), the one Linux gives an interface by default.
func LinkLocal(mac net.HardwareAddr) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	b[8], b[9], b[10], b[11] = mac[0]^2, mac[1], mac[2], 0xff
	b[12], b[13], b[14], b[15] = 0xfe, mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}

// IPv6Packet is what a test reads of a captured IPv6 frame.
type IPv6Packet struct {
	SrcMAC   net.HardwareAddr
	Src, Dst netip.Addr
	// Proto is the next header (no extension headers are walked).
	Proto uint8
	// Payload is what follows the IPv6 header.
	Payload []byte
}

// ParseIPv6 reads an Ethernet frame as IPv6; ok is false for anything else.
func ParseIPv6(frame []byte) (IPv6Packet, bool) {
	if len(frame) < 54 || binary.BigEndian.Uint16(frame[12:]) != 0x86dd {
		return IPv6Packet{}, false
	}
	ip := frame[14:]
	return IPv6Packet{
		SrcMAC:  net.HardwareAddr(frame[6:12]),
		Src:     netip.AddrFrom16([16]byte(ip[8:24])),
		Dst:     netip.AddrFrom16([16]byte(ip[24:40])),
		Proto:   ip[6],
		Payload: ip[40:],
	}, true
}

// ICMPv6Type is the ICMPv6 type of p, or -1 when p is no ICMPv6.
func (p IPv6Packet) ICMPv6Type() int {
	if p.Proto != 58 || len(p.Payload) < 4 {
		return -1
	}
	return int(p.Payload[0])
}

// NDTarget is the target address of a neighbour solicitation or
// advertisement.
func (p IPv6Packet) NDTarget() (netip.Addr, bool) {
	t := p.ICMPv6Type()
	if (t != ICMPv6NeighborSolicit && t != ICMPv6NeighborAdvert) || len(p.Payload) < 24 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(p.Payload[8:24])), true
}
