package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Protocol is an IP protocol number. Zero means "any" in rules.
type Protocol uint8

// The protocols rules can name.
const (
	ICMP    Protocol = 1
	TCP     Protocol = 6
	UDP     Protocol = 17
	ICMPv6  Protocol = 58
	SCTP    Protocol = 132
	UDPLite Protocol = 136
)

var protocolNames = map[string]Protocol{
	"tcp": TCP, "udp": UDP, "icmp": ICMP, "icmpv6": ICMPv6, "sctp": SCTP, "udplite": UDPLite,
}

// ParseProtocol reads a protocol the way Calico accepts it: a name (TCP, UDP,
// ICMP, ICMPv6, SCTP, UDPLite, any case) or a number 1–255.
func ParseProtocol(s string) (Protocol, error) {
	if p, ok := protocolNames[strings.ToLower(s)]; ok {
		return p, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q (want TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255)", s)
	}
	if n < 1 || n > 255 {
		return 0, fmt.Errorf("protocol number %d out of range 1-255", n)
	}
	return Protocol(n), nil
}

// HasPorts reports whether packets of this protocol carry ports, which is
// when a rule may match on them.
func (p Protocol) HasPorts() bool {
	return p == TCP || p == UDP || p == SCTP
}

// IsICMP reports whether the protocol is ICMP or ICMPv6, the ones with
// type/code matches.
func (p Protocol) IsICMP() bool { return p == ICMP || p == ICMPv6 }

// String returns the protocol's lower-case name, or its number.
func (p Protocol) String() string {
	switch p {
	case 0:
		return "any"
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMP:
		return "icmp"
	case ICMPv6:
		return "icmpv6"
	case SCTP:
		return "sctp"
	case UDPLite:
		return "udplite"
	}
	return strconv.Itoa(int(p))
}
