package evaluator

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/flowgate/flowgate/translator/policy"
)

// Packet is the first packet of a new connection: what policy decides on.
type Packet struct {
	// Src and Dst are the packet's addresses (one family).
	Src, Dst netip.Addr
	// Protocol is the IP protocol.
	Protocol policy.Protocol
	// SrcPort and DstPort are meaningful for TCP, UDP, SCTP and UDPLite.
	SrcPort, DstPort uint16
	// ICMPType and ICMPCode are meaningful for ICMP and ICMPv6.
	ICMPType, ICMPCode uint8
	// SrcMAC and DstMAC are the frame's MACs when known: an endpoint with
	// an address pair of all addresses is a member only in packets from
	// (to) the pair's MAC (endpoints.AddressPair).
	SrcMAC, DstMAC net.HardwareAddr
}

// String prints the packet as "tcp 10.0.0.1:1234 -> 10.0.0.2:80".
func (p Packet) String() string {
	switch {
	case p.Protocol.HasPorts():
		return fmt.Sprintf("%s %s -> %s", p.Protocol, netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort))
	case p.Protocol.IsICMP():
		return fmt.Sprintf("%s %s -> %s type %d code %d", p.Protocol, p.Src, p.Dst, p.ICMPType, p.ICMPCode)
	}
	return fmt.Sprintf("%s %s -> %s", p.Protocol, p.Src, p.Dst)
}

// ipVersion is 4 or 6.
func (p Packet) ipVersion() uint8 {
	if p.Src.Is4() {
		return 4
	}
	return 6
}
