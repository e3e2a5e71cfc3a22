package policy

// DefaultTier is the tier policies belong to unless they name another; the
// one Kubernetes NetworkPolicies live in.
const DefaultTier = "default"

// DefaultTierOrder is the order Calico gives the default tier, so tiers a
// user orders below it run first.
const DefaultTierOrder = 1_000_000

// Tier groups policies; tiers are evaluated in order, and a tier that has
// policies for an endpoint ends with its DefaultAction.
type Tier struct {
	// Name is the tier's name.
	Name string
	// Order ranks tiers, lower first; NoOrder when absent.
	Order float64
	// DefaultAction is Deny (Calico's default) or Pass: what happens to a
	// packet that no policy of the tier decided.
	DefaultAction Action
}

// Before reports whether t is evaluated before u.
func (t *Tier) Before(u *Tier) bool {
	if t.Order != u.Order {
		return t.Order < u.Order
	}
	return t.Name < u.Name
}

// NewDefaultTier returns the default tier as Calico creates it.
func NewDefaultTier() *Tier {
	return &Tier{Name: DefaultTier, Order: DefaultTierOrder, DefaultAction: Deny}
}
