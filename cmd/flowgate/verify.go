package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "prove the live bridge against the policy: trace sampled connections and compare each with the evaluator",
		ArgsUsage: " ",
		Description: `Traces --sample connections through the bridge as it is now (as flowgate
trace does) and compares each with the reference evaluator: every local
endpoint as a source and as a destination, with the other endpoints and a
few addresses beyond the host, over the protocols and ports the policies
mention (and TCP 80, ICMP echo). --seed makes the sample repeatable.

  flowgate verify --bridge br-int -f /etc/flowgate/policy/
  flowgate verify --agent 127.0.0.1:9808 --sample 1000 --seed 7

verify exits 0 when the bridge decided every connection as the evaluator
does, and 1 listing each disagreement with its trace (or when no endpoint
is bound to the bridge: nothing could be proved). A connection with the
right verdict from another deciding rule than the evaluator's (or a rule
where the evaluator names a default) is listed apart, as RULE MISMATCH
with its trace, and counted in the summary; it does not change the exit
code. The agent can run it
on a timer (the config's verify section) and export the result as metrics.`,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "sample", Value: 200, Usage: "number of connections to trace"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "random seed of the sample"},
		}, liveTraceFlags...),
		Action: func(c *cli.Context) error {
			if c.Int("sample") < 1 {
				return cli.Exit("--sample: want at least 1", exitUsage)
			}
			t, w, done, err := liveTracer(c)
			if err != nil {
				return err
			}
			defer done()
			rep, err := t.Verify(w, c.Int("sample"), c.Int64("seed"))
			if err != nil {
				return cli.Exit(err.Error(), exitInvalid)
			}
			out := c.App.Writer
			for _, r := range rep.Disagreed {
				printTrace(out, r, true)
				fmt.Fprintln(out)
			}
			for _, r := range rep.RuleMismatches {
				fmt.Fprintln(out, "RULE MISMATCH: the verdict agrees, the deciding rule does not")
				printTrace(out, r, true)
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "%d connections traced, %d disagree with the evaluator, %d agree but by another deciding rule\n",
				rep.Traced, len(rep.Disagreed), len(rep.RuleMismatches))
			if rep.Traced == 0 {
				// Nothing proved is not a pass.
				return cli.Exit("no connection traced: no endpoint with an address is bound to the bridge (check -f/--agent and --node)", exitInvalid)
			}
			if len(rep.Disagreed) > 0 {
				return cli.Exit(fmt.Sprintf("%d connection(s): the bridge and the evaluator disagree", len(rep.Disagreed)), exitInvalid)
			}
			return nil
		},
	}
}
