package selector

import "strconv"

// ParseError reports why and where a selector failed to parse. It carries
// the position separately from the message so that an API server can
// underline the offending part of a policy field.
type ParseError struct {
	// Input is the complete selector that was being parsed.
	Input string
	// Column is the 1-based byte offset in Input at which parsing failed;
	// len(Input)+1 means the input ended too early. Bytes rather than runes
	// because everything outside quoted strings is ASCII, and byte offsets
	// match what Go's own scanners report.
	Column int
	// Msg says what was wrong at Column.
	Msg string
}

// maxQuoted bounds how much of the input Error repeats, so that a huge
// generated selector does not produce a huge log line.
const maxQuoted = 96

// Error formats the error as `selector "a == " column 6: expected a quoted
// string`. Long inputs are shortened around the column.
func (e *ParseError) Error() string {
	in := e.Input
	if len(in) > maxQuoted {
		lo := max(0, min(e.Column-1-maxQuoted/2, len(in)-maxQuoted))
		hi := min(len(in), lo+maxQuoted)
		in = in[lo:hi]
		if lo > 0 {
			in = "..." + in
		}
		if hi < len(e.Input) {
			in += "..."
		}
	}
	return "selector " + strconv.Quote(in) + " column " + strconv.Itoa(e.Column) + ": " + e.Msg
}
