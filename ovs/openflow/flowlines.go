package openflow

import "strings"

// FlowLines returns the flow lines of `ovs-ofctl dump-flows` output,
// trimmed, in the order printed: the reply header and blank lines are
// left out. Tests comparing dumps use it as the programmer does.
func FlowLines(dump string) []string {
	var lines []string
	for _, l := range strings.Split(dump, "\n") {
		if l = strings.TrimSpace(l); strings.Contains(l, "actions=") {
			lines = append(lines, l)
		}
	}
	return lines
}
