package policy

import "fmt"

// Action is what a rule does with a packet that matches it.
type Action uint8

const (
	// Allow accepts the connection and ends evaluation for this direction.
	Allow Action = iota + 1
	// Deny drops the connection and ends evaluation for this direction.
	Deny
	// Log records the packet and goes on with the next rule.
	Log
	// Pass skips the rest of the current tier and goes on with the next.
	Pass
)

// ParseAction reads an action as Calico spells it.
func ParseAction(s string) (Action, error) {
	switch s {
	case "Allow":
		return Allow, nil
	case "Deny":
		return Deny, nil
	case "Log":
		return Log, nil
	case "Pass":
		return Pass, nil
	}
	return 0, fmt.Errorf("unknown action %q (want Allow, Deny, Log or Pass)", s)
}

// String returns the action as Calico spells it.
func (a Action) String() string {
	switch a {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	case Log:
		return "Log"
	case Pass:
		return "Pass"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}
