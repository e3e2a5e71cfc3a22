package audit

import (
	"time"
)

// Record is one line of the audit log.
type Record struct {
	// Time is when the agent received the packet.
	Time time.Time `json:"time"`
	// Bridge is the bridge the packet crossed.
	Bridge string `json:"bridge"`
	// Direction is the rule list that logged: "ingress" (the destination
	// endpoint's policy) or "egress" (the source's).
	Direction string `json:"direction"`
	// Tier, Policy and Rule name the rule that logged.
	Tier   string    `json:"tier"`
	Policy PolicyRef `json:"policy"`
	// Rule is the rule's index in the list the user wrote; RuleName its
	// name where the kind has names.
	Rule     int    `json:"rule"`
	RuleName string `json:"ruleName,omitempty"`
	// RuleAction is the logging rule's own action: "Log", or "Deny" for
	// a logged denial.
	RuleAction string `json:"ruleAction"`
	// Action is what followed for this direction: "Allow" or "Deny" (as
	// the policy in force decides the connection), "" when unknown.
	Action string `json:"action"`
	// DecidedBy names the rule or default that decided the direction.
	DecidedBy string `json:"decidedBy,omitempty"`
	// Src and Dst are the packet's addresses; Protocol its IP protocol.
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Protocol string `json:"protocol"`
	// SrcPort and DstPort are set for protocols with ports.
	SrcPort *uint16 `json:"srcPort,omitempty"`
	DstPort *uint16 `json:"dstPort,omitempty"`
	// ICMPType and ICMPCode are set for ICMP and ICMPv6.
	ICMPType *uint8 `json:"icmpType,omitempty"`
	ICMPCode *uint8 `json:"icmpCode,omitempty"`
	// SrcEndpoint and DstEndpoint are the endpoints owning the addresses
	// ("namespace/name" or "name"), empty for addresses of no endpoint.
	SrcEndpoint string `json:"srcEndpoint,omitempty"`
	DstEndpoint string `json:"dstEndpoint,omitempty"`
}

// PolicyRef names a policy.
type PolicyRef struct {
	// Kind is the API kind ("NetworkPolicy", "GlobalNetworkPolicy", …).
	Kind string `json:"kind"`
	// Namespace is empty for cluster-scoped kinds.
	Namespace string `json:"namespace,omitempty"`
	// Name is the policy's name.
	Name string `json:"name"`
}
