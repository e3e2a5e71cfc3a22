// Package hostif reads the host's own interfaces with netlink, for host
// endpoints that name an interface but not its addresses.
package hostif

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/flowgate/flowgate/translator/policy"
)

// FillAddresses gives every host endpoint that names an interface but no
// expectedIPs the global addresses that interface has now (in the calling
// process's network namespace). It returns the endpoints it could not
// resolve; they stay without addresses, so no rule can match them as a
// peer, but their own policy still applies at their port.
func FillAddresses(eps []*policy.Endpoint) []error {
	var errs []error
	for _, e := range eps {
		if e.Kind != policy.HostEndpoint || e.InterfaceName == "" || e.InterfaceName == "*" || len(e.IPs) > 0 {
			continue
		}
		ips, err := InterfaceAddrs(e.InterfaceName)
		if err != nil {
			errs = append(errs, fmt.Errorf("host endpoint %s: %w", e.Name, err))
			continue
		}
		e.IPs = ips
	}
	return errs
}

// InterfaceAddrs lists an interface's global unicast addresses.
func InterfaceAddrs(name string) ([]netip.Addr, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", name, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.IsGlobalUnicast() || ip.IsPrivate() {
			out = append(out, ip)
		}
	}
	return out, nil
}
