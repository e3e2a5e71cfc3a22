package policy

import (
	"net/netip"

	"github.com/flowgate/flowgate/translator/selector"
)

// Rule is one Calico rule in its normalised form. Every constraint present
// must hold for the rule to match; absent constraints match anything.
type Rule struct {
	// Action is what a match does.
	Action Action
	// IPVersion is 4 or 6 to restrict the rule to one family, 0 for both.
	IPVersion uint8
	// Protocol restricts the IP protocol; 0 matches any.
	Protocol Protocol
	// NotProtocol excludes one protocol; 0 excludes none.
	NotProtocol Protocol
	// ICMP matches ICMP type/code (Protocol is ICMP or ICMPv6).
	ICMP *ICMPMatch
	// NotICMP excludes an ICMP type/code.
	NotICMP *ICMPMatch
	// Source constrains the packet's source address and port.
	Source Peer
	// Destination constrains the packet's destination address and port.
	Destination Peer
	// Index is the rule's position in the list the user wrote, so that
	// tools can name it; several normalised rules can share one index
	// (a Kubernetes rule with many peers becomes one rule per peer).
	Index int
	// Name is the rule's name where the API has one (the cluster-scoped
	// kinds), so that tools can show it; empty otherwise.
	Name string
}

// ICMPMatch matches ICMP (or ICMPv6) messages by type and, optionally, code.
type ICMPMatch struct {
	// Type is the ICMP type, 0–254.
	Type uint8
	// Code, when set, is the ICMP code, 0–255.
	Code *uint8
}

// Matches reports whether an ICMP message of type t and code c matches.
func (m *ICMPMatch) Matches(t, c uint8) bool {
	return m.Type == t && (m.Code == nil || *m.Code == c)
}

// Peer is one side of a rule: which addresses, which ports.
//
// Selector and NotSelector select entities (endpoints and network sets);
// a packet's address matches when it belongs to a selected entity. They
// are already scoped as Calico scopes them (the policy's own namespace, a
// namespaceSelector, service accounts).
type Peer struct {
	// Nets: the address must be in one of them (when non-empty).
	Nets []netip.Prefix
	// NotNets: the address must be in none of them.
	NotNets []netip.Prefix
	// Selector, when set, must select an entity owning the address.
	Selector *selector.Selector
	// NotSelector, when set, must select no entity owning the address.
	NotSelector *selector.Selector
	// Ports: the port must match one of them (when non-empty). Named
	// ports match an (address, protocol, port) published by an endpoint
	// that Selector selects (any endpoint when Selector is unset).
	Ports []PortMatch
	// NotPorts: the port must match none of them.
	NotPorts []PortMatch
}

// IsZero reports whether the peer constrains nothing.
func (p *Peer) IsZero() bool {
	return len(p.Nets) == 0 && len(p.NotNets) == 0 && p.Selector == nil &&
		p.NotSelector == nil && len(p.Ports) == 0 && len(p.NotPorts) == 0
}
