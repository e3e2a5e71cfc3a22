package policy

// Direction is ingress (towards an endpoint) or egress (from it).
type Direction uint8

const (
	// Ingress is traffic arriving at the endpoint the policy applies to.
	Ingress Direction = 1 << iota
	// Egress is traffic leaving the endpoint the policy applies to.
	Egress
)

// String returns "ingress" or "egress".
func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	case Ingress | Egress:
		return "ingress+egress"
	}
	return "none"
}
