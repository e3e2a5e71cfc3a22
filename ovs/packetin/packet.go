package packetin

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// PacketIn is one packet a flow sent to the controller.
type PacketIn struct {
	// Userdata is the controller action's userdata.
	Userdata []byte
	// TableID and Cookie name the flow that sent it.
	TableID uint8
	Cookie  uint64
	// Frame is the packet as the flow saw it (possibly truncated).
	Frame []byte
}

// NXT_PACKET_IN2 layout: an experimenter header (16 bytes: OpenFlow
// header, experimenter id, subtype) then properties, each a type and a
// length (which excludes the padding to 8 bytes).
const (
	nxExperimenterID = 0x00002320
	nxtPacketIn2     = 30
	propPacket       = 0
	propTableID      = 3
	propCookie       = 4
	propUserdata     = 7
)

// parsePacketIn2 decodes b when it is an NXT_PACKET_IN2 (ok false
// otherwise). It reads the properties itself rather than through the
// library, whose decoder parses the frame too and rejects frames it does
// not know (some ICMPv6, SCTP): the audit log must see every packet.
func parsePacketIn2(b []byte) (PacketIn, bool, error) {
	if len(b) < 16 || binary.BigEndian.Uint32(b[8:12]) != nxExperimenterID || binary.BigEndian.Uint32(b[12:16]) != nxtPacketIn2 {
		return PacketIn{}, false, nil
	}
	var pi PacketIn
	for p := b[16:]; len(p) >= 4; {
		typ, n := binary.BigEndian.Uint16(p[0:2]), int(binary.BigEndian.Uint16(p[2:4]))
		if n < 4 || n > len(p) {
			return pi, true, fmt.Errorf("packet-in property %d of length %d", typ, n)
		}
		v := p[4:n]
		switch typ {
		case propPacket:
			pi.Frame = v
		case propTableID:
			if len(v) >= 1 {
				pi.TableID = v[0]
			}
		case propCookie:
			if len(v) >= 12 { // 4 bytes of padding, then the cookie
				pi.Cookie = binary.BigEndian.Uint64(v[4:12])
			}
		case propUserdata:
			pi.Userdata = v
		}
		pad := (n + 7) / 8 * 8
		if pad > len(p) {
			break
		}
		p = p[pad:]
	}
	return pi, true, nil
}

// Headers are what the audit log reports of a packet.
type Headers struct {
	// SrcMAC and DstMAC are the frame's addresses.
	SrcMAC, DstMAC net.HardwareAddr
	// Src and Dst are the IP addresses; invalid when the frame is not IP.
	Src, Dst netip.Addr
	// Protocol is the IP protocol number (after IPv6 extension headers).
	Protocol uint8
	// SrcPort and DstPort are set for TCP, UDP, SCTP and UDP-Lite.
	SrcPort, DstPort uint16
	// ICMPType and ICMPCode are set for ICMP and ICMPv6 (HasICMP).
	ICMPType, ICMPCode uint8
	HasICMP            bool
}

// IP protocol numbers the decoder looks into.
const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

// DecodeFrame reads an Ethernet frame's addresses, protocol, ports and
// ICMP type/code. What it cannot read (a truncated or non-IP frame) it
// leaves zero.
func DecodeFrame(f []byte) Headers {
	var h Headers
	if len(f) < 14 {
		return h
	}
	h.DstMAC, h.SrcMAC = net.HardwareAddr(f[0:6]), net.HardwareAddr(f[6:12])
	etype, off := binary.BigEndian.Uint16(f[12:14]), 14
	for (etype == 0x8100 || etype == 0x88a8) && len(f) >= off+4 {
		etype, off = binary.BigEndian.Uint16(f[off+2:off+4]), off+4
	}
	p := f[off:]
	var l4 []byte
	switch etype {
	case 0x0800:
		if len(p) < 20 {
			return h
		}
		ihl := int(p[0]&0x0f) * 4
		h.Src, _ = netip.AddrFromSlice(p[12:16])
		h.Dst, _ = netip.AddrFromSlice(p[16:20])
		h.Protocol = p[9]
		if binary.BigEndian.Uint16(p[6:8])&0x1fff != 0 || ihl < 20 || len(p) < ihl {
			return h // a later fragment has no transport header
		}
		l4 = p[ihl:]
	case 0x86dd:
		if len(p) < 40 {
			return h
		}
		h.Src, _ = netip.AddrFromSlice(p[8:24])
		h.Dst, _ = netip.AddrFromSlice(p[24:40])
		next, rest := p[6], p[40:]
		for isExtension(next) && len(rest) >= 8 {
			n := (int(rest[1]) + 1) * 8
			if next == 44 { // fragment header: fixed 8 bytes
				n = 8
			}
			if len(rest) < n {
				break
			}
			next, rest = rest[0], rest[n:]
		}
		h.Protocol, l4 = next, rest
	default:
		return h
	}
	switch h.Protocol {
	case protoTCP, protoUDP, protoSCTP, protoUDPLite:
		if len(l4) >= 4 {
			h.SrcPort, h.DstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
		}
	case protoICMP, protoICMPv6:
		if len(l4) >= 2 {
			h.ICMPType, h.ICMPCode, h.HasICMP = l4[0], l4[1], true
		}
	}
	return h
}

// isExtension reports IPv6 extension headers the decoder skips:
// hop-by-hop, routing, fragment, destination options.
func isExtension(next uint8) bool {
	return next == 0 || next == 43 || next == 44 || next == 60
}
