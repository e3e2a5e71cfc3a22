package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Failsafe is a protocol and port that host endpoints always allow, so that
// a bad policy cannot lock the operator out of the host.
type Failsafe struct {
	// Protocol is TCP, UDP or SCTP.
	Protocol Protocol
	// Port is the destination port.
	Port uint16
}

// String prints "tcp:22".
func (f Failsafe) String() string { return fmt.Sprintf("%s:%d", f.Protocol, f.Port) }

// DefaultFailsafeInbound is Calico's default list of inbound failsafe
// ports: SSH, DHCP client, BGP, etcd, Typha and the Kubernetes API.
func DefaultFailsafeInbound() []Failsafe {
	return mustFailsafes("tcp:22,udp:68,tcp:179,tcp:2379,tcp:2380,tcp:5473,tcp:6443,tcp:6666,tcp:6667")
}

// DefaultFailsafeOutbound is Calico's default list of outbound failsafe
// ports: DNS, DHCP server, BGP, etcd, Typha and the Kubernetes API.
func DefaultFailsafeOutbound() []Failsafe {
	return mustFailsafes("udp:53,udp:67,tcp:179,tcp:2379,tcp:2380,tcp:5473,tcp:6443,tcp:6666,tcp:6667")
}

// ParseFailsafes reads a comma-separated list such as "tcp:22,udp:68";
// "none" (or an empty string) disables failsafes.
func ParseFailsafes(s string) ([]Failsafe, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []Failsafe
	for _, item := range strings.Split(s, ",") {
		proto, port, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok {
			return nil, fmt.Errorf("failsafe %q: want protocol:port", item)
		}
		p, err := ParseProtocol(proto)
		if err != nil || !p.HasPorts() {
			return nil, fmt.Errorf("failsafe %q: protocol must be tcp, udp or sctp", item)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("failsafe %q: port is not a number", item)
		}
		pn, err := PortNumber(n)
		if err != nil {
			return nil, fmt.Errorf("failsafe %q: %w", item, err)
		}
		out = append(out, Failsafe{Protocol: p, Port: pn})
	}
	return out, nil
}

func mustFailsafes(s string) []Failsafe {
	f, err := ParseFailsafes(s)
	if err != nil {
		panic(err)
	}
	return f
}

// FormatFailsafes writes a list the way ParseFailsafes reads it ("none"
// for an empty list).
func FormatFailsafes(list []Failsafe) string {
	if len(list) == 0 {
		return "none"
	}
	parts := make([]string, len(list))
	for i, f := range list {
		parts[i] = f.String()
	}
	return strings.Join(parts, ",")
}
