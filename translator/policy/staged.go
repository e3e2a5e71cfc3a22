package policy

import "strconv"

// StagedAction is what a staged policy would do to the enforced policy of
// its kind, namespace and name if it were committed, as Calico defines
// stagedAction.
type StagedAction uint8

const (
	// StagedSet would create the policy, or replace the one of that name
	// (Calico's default when stagedAction is omitted).
	StagedSet StagedAction = iota + 1
	// StagedDelete would delete the enforced policy of that name.
	StagedDelete
)

// String returns the action as Calico writes it.
func (a StagedAction) String() string {
	switch a {
	case StagedSet:
		return "Set"
	case StagedDelete:
		return "Delete"
	}
	return "StagedAction(" + strconv.Itoa(int(a)) + ")"
}

// StagedPolicy is a Calico staged policy (StagedNetworkPolicy,
// StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy): validated
// like the policy it stages and shown by what-if tools, but never
// enforced. It lives in World.Staged, which neither the compiler nor the
// evaluator reads; only WithStaged turns it into policy.
type StagedPolicy struct {
	// Action is Set or Delete.
	Action StagedAction
	// Policy is the policy it stages, with the Kind of the enforced policy
	// it would set or delete. For Delete only Kind, Namespace, Name and
	// Tier are meaningful.
	Policy *Policy
}

// StagedKind returns the staged kind as users write it.
func (s *StagedPolicy) StagedKind() string {
	switch s.Policy.Kind {
	case CalicoNetworkPolicy:
		return "StagedNetworkPolicy"
	case CalicoGlobalNetworkPolicy:
		return "StagedGlobalNetworkPolicy"
	case KubernetesNetworkPolicy:
		return "StagedKubernetesNetworkPolicy"
	}
	return "Staged" + s.Policy.Kind.String()
}

// WithStaged returns the world as it would be if every staged policy were
// committed: a Set adds its policy or replaces the enforced policy of the
// same kind and ID, a Delete removes it. w is not changed; the result
// shares every other object with w and has no staged policies.
func (w *World) WithStaged() *World {
	if len(w.Staged) == 0 {
		return w
	}
	type key struct {
		kind Kind
		id   string
	}
	staged := make(map[key]*StagedPolicy, len(w.Staged))
	for _, s := range w.Staged {
		staged[key{s.Policy.Kind, s.Policy.ID()}] = s
	}
	out := *w
	out.Staged = nil
	out.Policies = make([]*Policy, 0, len(w.Policies)+len(w.Staged))
	for _, p := range w.Policies {
		if _, replaced := staged[key{p.Kind, p.ID()}]; !replaced {
			out.Policies = append(out.Policies, p)
		}
	}
	for _, s := range w.Staged {
		if s.Action == StagedSet {
			out.Policies = append(out.Policies, s.Policy)
		}
	}
	return &out
}
