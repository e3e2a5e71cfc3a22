package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// PortMatch is one element of a rule's ports list: a number, a min:max
// range, or a named port resolved against the endpoints on that side.
type PortMatch struct {
	// Min and Max bound a numeric range (Min == Max for one port). Both
	// are zero for a named port.
	Min, Max uint16
	// Name is the named port, empty for numeric matches.
	Name string
}

// Contains reports whether a numeric match covers port. A named port never
// does; it is resolved against endpoints, not numbers.
func (m PortMatch) Contains(port uint16) bool {
	return m.Name == "" && m.Min <= port && port <= m.Max
}

// String returns the match as a user writes it: "80", "8000:8080" or "http".
func (m PortMatch) String() string {
	switch {
	case m.Name != "":
		return m.Name
	case m.Min == m.Max:
		return strconv.Itoa(int(m.Min))
	}
	return fmt.Sprintf("%d:%d", m.Min, m.Max)
}

// ParsePort reads a port the way Calico accepts it: 80, "80", "1000:2000"
// or a named port such as "http". Numbers must be 1–65535.
func ParsePort(s string) (PortMatch, error) {
	if s == "" {
		return PortMatch{}, fmt.Errorf("empty port")
	}
	if lo, hi, ok := strings.Cut(s, ":"); ok {
		min, err := parsePortNumber(lo)
		if err != nil {
			return PortMatch{}, err
		}
		max, err := parsePortNumber(hi)
		if err != nil {
			return PortMatch{}, err
		}
		if min > max {
			return PortMatch{}, fmt.Errorf("port range %q has min above max", s)
		}
		return PortMatch{Min: min, Max: max}, nil
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := parsePortNumber(s)
		if err != nil {
			return PortMatch{}, err
		}
		return PortMatch{Min: n, Max: n}, nil
	}
	if err := ValidPortName(s); err != nil {
		return PortMatch{}, err
	}
	return PortMatch{Name: s}, nil
}

// PortNumber checks that n is a usable port, 1–65535.
func PortNumber(n int) (uint16, error) {
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", n)
	}
	return uint16(n), nil
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	return PortNumber(n)
}

// ValidPortName checks a named port the way Kubernetes checks an
// IANA_SVC_NAME: 1–15 lower-case letters, digits and '-', at least one
// letter, no leading, trailing or double '-'.
func ValidPortName(s string) error {
	if len(s) > 15 {
		return fmt.Errorf("port name %q longer than 15 characters", s)
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9':
		case c == '-':
			if i == 0 || i == len(s)-1 || s[i-1] == '-' {
				return fmt.Errorf("port name %q: misplaced '-'", s)
			}
		default:
			return fmt.Errorf("port name %q: only lower-case letters, digits and '-' allowed", s)
		}
	}
	if !letter {
		return fmt.Errorf("port name %q must contain a letter", s)
	}
	return nil
}
