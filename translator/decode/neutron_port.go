package decode

import (
	"fmt"
	"net"
	"strings"

	"github.com/flowgate/flowgate/translator/policy"
)

// A WorkloadEndpoint carries Neutron's port-level protection — which Calico
// has no field for — in the label and annotation `flowgate import
// openstack` writes, so that its YAML means what the import does in memory
// and an operator reads it where it is.
const (
	// LabelPortSecurity is "enabled" for a filtered Neutron port (the spoof
	// guard adds Neutron's DHCP rules), "disabled" (port_security_enabled
	// = false) or "trusted" (a port Neutron owns) for one that is not
	// filtered at all.
	LabelPortSecurity = "neutron.openstack.org/port-security"
	// AnnotationAddressPairs lists the port's allowed address pairs,
	// comma-separated, each an address or CIDR with "@MAC" when it comes
	// with a MAC of its own.
	AnnotationAddressPairs = "neutron.openstack.org/allowed-address-pairs"
)

// portGuard reads LabelPortSecurity.
func portGuard(probs *problems, labels map[string]string) policy.Guard {
	v, ok := labels[LabelPortSecurity]
	if !ok {
		return policy.GuardDefault
	}
	switch v {
	case "enabled":
		return policy.GuardNeutron
	case "disabled", "trusted":
		return policy.GuardNone
	}
	probs.add("metadata.labels."+LabelPortSecurity, "unknown port security %q (want enabled, disabled or trusted)", v)
	return policy.GuardNeutron // filtered: the safe reading
}

// addressPairs reads AnnotationAddressPairs.
func addressPairs(probs *problems, annotations map[string]string) []policy.AddressPair {
	text := strings.TrimSpace(annotations[AnnotationAddressPairs])
	if text == "" {
		return nil
	}
	field := "metadata.annotations." + AnnotationAddressPairs
	var out []policy.AddressPair
	for i, item := range strings.Split(text, ",") {
		addr, mac, hasMAC := strings.Cut(strings.TrimSpace(item), "@")
		p, err := parseCIDROrIP(addr)
		if err != nil {
			probs.addErr(fmt.Sprintf("%s[%d]", field, i), err)
			continue
		}
		pair := policy.AddressPair{Prefix: p}
		if hasMAC {
			m, err := net.ParseMAC(mac)
			if err != nil || len(m) != 6 {
				probs.add(fmt.Sprintf("%s[%d]", field, i), "invalid MAC %q", mac)
				continue
			}
			pair.MAC = m
		}
		out = append(out, pair)
	}
	return out
}
