package main

import (
	"fmt"
	"io"

	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// printWouldBe adds, when w holds staged policies, the verdict the
// connection would get if they were committed: staged policies are never
// enforced, so the verdict above is what happens now and this is what
// would.
func printWouldBe(out io.Writer, w *policy.World, opts evaluator.Options, from, to evaluator.Participant, pkt evaluator.Packet, now evaluator.Verdict) {
	if len(w.Staged) == 0 {
		return
	}
	v := evaluator.New(w.WithStaged(), opts).Evaluate(from.Endpoint, to.Endpoint, pkt)
	change := "unchanged"
	if v.Allowed != now.Allowed {
		change = "changed"
	}
	fmt.Fprintf(out, "would be %s with the %d staged polic%s committed (%s):\n", verdictWord(v.Allowed), len(w.Staged), plural(len(w.Staged), "y", "ies"), change)
	for _, d := range []*evaluator.Decision{v.Egress, v.Ingress} {
		if d != nil {
			fmt.Fprintf(out, "  %-7s of %s: %s\n", d.Direction, d.Endpoint, d.Reason)
		}
	}
}

func verdictWord(allowed bool) string {
	if allowed {
		return "ALLOWED"
	}
	return "DENIED"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
