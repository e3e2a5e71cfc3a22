package evaluator

import (
	"fmt"

	"github.com/flowgate/flowgate/translator/policy"
)

// RuleRef names one rule: the tier, policy, direction and the rule's index
// in the list the user wrote.
type RuleRef struct {
	// Tier is the policy's tier.
	Tier string
	// Policy is the policy's ID ("namespace/name" or "name").
	Policy string
	// Direction is the rule list the rule is in.
	Direction policy.Direction
	// Index is the rule's position in that list.
	Index int
	// Action is the rule's action.
	Action policy.Action
	// Name is the rule's name where the API has one, else empty.
	Name string
}

// String prints "tier/policy ingress[0] Allow", with the rule's name after
// the index when it has one: "ingress[0] \"deny-db\" Deny".
func (r RuleRef) String() string {
	if r.Name != "" {
		return fmt.Sprintf("%s/%s %s[%d] %q %s", r.Tier, r.Policy, r.Direction, r.Index, r.Name, r.Action)
	}
	return fmt.Sprintf("%s/%s %s[%d] %s", r.Tier, r.Policy, r.Direction, r.Index, r.Action)
}

// Decision is the outcome for one endpoint in one direction.
type Decision struct {
	// Allowed is the outcome.
	Allowed bool
	// Endpoint is the ID of the endpoint whose policy decided.
	Endpoint string
	// Direction is ingress (policy of the destination) or egress (of the source).
	Direction policy.Direction
	// Rule is the deciding rule; nil when a default decided.
	Rule *RuleRef
	// Reason explains a default decision, or repeats the rule.
	Reason string
	// Logged lists the Log rules the packet reached before the decision.
	Logged []RuleRef
}

// Verdict combines the source's egress and the destination's ingress
// decision; either is nil when that side is no endpoint.
type Verdict struct {
	// Allowed is true when every present decision allows.
	Allowed bool
	// Egress is the source endpoint's decision.
	Egress *Decision
	// Ingress is the destination endpoint's decision.
	Ingress *Decision
}

// Reason names what decided the verdict: the first denying side, or both
// sides' reasons when allowed.
func (v Verdict) Reason() string {
	switch {
	case v.Egress != nil && !v.Egress.Allowed:
		return "egress: " + v.Egress.Reason
	case v.Ingress != nil && !v.Ingress.Allowed:
		return "ingress: " + v.Ingress.Reason
	case v.Egress != nil && v.Ingress != nil:
		return "egress: " + v.Egress.Reason + "; ingress: " + v.Ingress.Reason
	case v.Egress != nil:
		return "egress: " + v.Egress.Reason
	case v.Ingress != nil:
		return "ingress: " + v.Ingress.Reason
	}
	return "no endpoint on either side: not policed"
}
