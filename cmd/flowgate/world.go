package main

import (
	"fmt"
	"io"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// fileFlag is the -f flag every command that reads policy takes.
var fileFlag = &cli.StringSliceFlag{
	Name:     "filename",
	Aliases:  []string{"f"},
	Usage:    "YAML or JSON file or directory to read (repeatable; - for stdin)",
	Required: true,
}

// skipInvalidFlag lets verdict, matrix and compile answer for the valid
// objects of an input that has invalid ones. Without it they refuse: an
// answer computed without a broken Deny would allow what the real policy
// denies.
var skipInvalidFlag = &cli.BoolFlag{
	Name: "skip-invalid",
	Usage: "answer for the valid objects even though some input is invalid; the answer is marked PARTIAL " +
		"(without it, any invalid input is refused: every problem on stderr, exit 1)",
}

// partialNotice is printed (on stderr always, and as the first line of
// text output) when --skip-invalid answered for part of the input.
func partialNotice(problems int) string {
	return fmt.Sprintf("PARTIAL: %d problem(s) in the input were skipped (--skip-invalid); this answer leaves out invalid objects and may allow what the full input denies", problems)
}

// partialLine is the first line of a text answer given with
// --skip-invalid for an input with problems.
const partialLine = "PARTIAL: some input is invalid and left out (--skip-invalid); this answer may allow what the full input denies (problems on stderr)"

// readWorld reads every -f input and builds the world. It returns every
// problem (unreadable files, invalid objects, duplicate names) and writes
// every warning to stderr.
func readWorld(c *cli.Context) (*policy.World, []error) {
	objs, errs := files.Read(c.StringSlice("filename"), c.App.Reader)
	printWarnings(c.App.ErrWriter, objs)
	w, berrs := decode.Build(objs)
	errs = append(errs, berrs...)
	logrus.WithFields(logrus.Fields{
		"policies": len(w.Policies), "endpoints": len(w.Endpoints), "namespaces": len(w.Namespaces),
		"networkSets": len(w.NetworkSets), "errors": len(errs),
	}).Debug("loaded world")
	return w, errs
}

// loadWorld is readWorld for commands that answer questions (verdict,
// matrix, compile): with any problem it refuses (exit 1), unless
// --skip-invalid, when partial says the answer is for the valid objects
// only.
func loadWorld(c *cli.Context) (w *policy.World, partial bool, err error) {
	w, errs := readWorld(c)
	partial, err = refuseInvalid(c, errs)
	return w, partial, err
}

// refuseInvalid lists every problem on stderr and returns the exit-1 error
// that refuses to answer, or, with --skip-invalid, partial = true and the
// PARTIAL notice on stderr.
func refuseInvalid(c *cli.Context, problems []error) (partial bool, err error) {
	if len(problems) == 0 {
		return false, nil
	}
	for _, p := range problems {
		fmt.Fprintln(c.App.ErrWriter, p)
	}
	if !c.Bool("skip-invalid") {
		return false, cli.Exit(fmt.Sprintf("%d problem(s) in the input: refusing to answer for part of it (fix them, or pass --skip-invalid for a partial answer)", len(problems)), exitInvalid)
	}
	fmt.Fprintln(c.App.ErrWriter, partialNotice(len(problems)))
	return true, nil
}

// printWarnings writes each object's warnings as "WARNING: file:line:
// object: field: why".
func printWarnings(out io.Writer, objs []decode.Object) int {
	n := 0
	for _, o := range objs {
		for _, w := range o.Warnings {
			fmt.Fprintln(out, "WARNING:", w)
			n++
		}
	}
	return n
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "validate policy and endpoint files and print every problem",
		Description: `Reads every -f input and prints each problem as
  file:line: Kind namespace/name: field: what is wrong
and each warning (valid input, as Calico and Kubernetes accept it, that is
probably not what its author meant: rules of a direction a policy's types
leaves out, which are ignored; a cluster-scoped policy's nodes or
domainNames peer, enforced fail-closed; two cluster-scoped policies of one
priority applying to one pod) as
  WARNING: file:line: Kind namespace/name: field: what flowgate does
Exits 1 when anything is invalid, 0 when everything is valid (warnings or
not), 2 on a usage error.`,
		Flags: []cli.Flag{fileFlag},
		Action: func(c *cli.Context) error {
			objs, errs := files.Read(c.StringSlice("filename"), c.App.Reader)
			warnings := printWarnings(c.App.Writer, objs)
			w, berrs := decode.Build(objs)
			errs = append(errs, berrs...)
			for _, err := range errs {
				fmt.Fprintln(c.App.Writer, err)
			}
			for _, warn := range decode.WorldWarnings(objs, w) {
				fmt.Fprintln(c.App.Writer, "WARNING:", warn)
				warnings++
			}
			if len(errs) > 0 {
				return cli.Exit(fmt.Sprintf("%d problem(s) in %d valid object(s)", len(errs), len(objs)), exitInvalid)
			}
			fmt.Fprintf(c.App.Writer, "%d object(s), all valid", len(objs))
			if warnings > 0 {
				fmt.Fprintf(c.App.Writer, ", %d warning(s)", warnings)
			}
			fmt.Fprintln(c.App.Writer)
			return nil
		},
	}
}
