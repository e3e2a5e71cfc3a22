package policy

// DefaultTier is the tier policies belong to unless they name another; the
// one Kubernetes NetworkPolicies live in.
const DefaultTier = "default"

// DefaultTierOrder is the order Calico gives the default tier, so tiers a
// user orders below it run first.
const DefaultTierOrder = 1_000_000

// AdminTier is the tier ClusterNetworkPolicies of the Admin tier and
// AdminNetworkPolicies live in, named, ordered and defaulted as Calico
// 3.32 creates it, so Calico users see the same evaluation order.
const AdminTier = "kube-admin"

// AdminTierOrder is the Admin tier's order: before the default tier.
const AdminTierOrder = 1_000

// BaselineTier is the tier ClusterNetworkPolicies of the Baseline tier and
// the BaselineAdminNetworkPolicy live in, after the default tier so a
// Kubernetes NetworkPolicy overrides them.
const BaselineTier = "kube-baseline"

// BaselineTierOrder is the Baseline tier's order: after the default tier.
const BaselineTierOrder = 10_000_000

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

// NewAdminTier returns the Admin tier as Calico creates it: a tier with no
// decision passes to the next one, so selecting a pod isolates nothing.
func NewAdminTier() *Tier {
	return &Tier{Name: AdminTier, Order: AdminTierOrder, DefaultAction: Pass}
}

// NewBaselineTier returns the Baseline tier as Calico creates it.
func NewBaselineTier() *Tier {
	return &Tier{Name: BaselineTier, Order: BaselineTierOrder, DefaultAction: Pass}
}

// builtInTier returns a fresh copy of the tier flowgate creates by itself
// when the input names it without defining it, or nil.
func builtInTier(name string) *Tier {
	switch name {
	case DefaultTier:
		return NewDefaultTier()
	case AdminTier:
		return NewAdminTier()
	case BaselineTier:
		return NewBaselineTier()
	}
	return nil
}

// builtInTierNames lists the tiers that always exist.
var builtInTierNames = []string{AdminTier, DefaultTier, BaselineTier}
