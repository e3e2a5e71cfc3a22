package main

import (
	"fmt"
	"os"

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

// loadWorld reads every -f input and builds the world, logging each problem;
// what is valid is used even when something else is not.
func loadWorld(c *cli.Context) (*policy.World, []error) {
	objs, errs := files.Read(c.StringSlice("filename"), os.Stdin)
	w, berrs := decode.Build(objs)
	errs = append(errs, berrs...)
	for _, err := range errs {
		logrus.WithError(err).Warn("ignoring invalid input")
	}
	logrus.WithFields(logrus.Fields{
		"policies": len(w.Policies), "endpoints": len(w.Endpoints), "namespaces": len(w.Namespaces),
		"networkSets": len(w.NetworkSets), "errors": len(errs),
	}).Debug("loaded world")
	return w, errs
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "validate policy and endpoint files and print every problem",
		Description: `Reads every -f input and prints each problem as
  file:line: Kind namespace/name: field: what is wrong
Warnings (valid input enforced otherwise than its author may expect: a
cluster-scoped policy's nodes or domainNames peer, two cluster-scoped
policies of one priority applying to one pod) print as
  file:line: Kind name: field: warning: what flowgate does
and do not change the exit code.
Exits 1 when anything is invalid, 0 when everything is.`,
		Flags: []cli.Flag{fileFlag},
		Action: func(c *cli.Context) error {
			objs, errs := files.Read(c.StringSlice("filename"), os.Stdin)
			w, berrs := decode.Build(objs)
			errs = append(errs, berrs...)
			for _, err := range errs {
				fmt.Fprintln(c.App.Writer, err)
			}
			for _, warn := range decode.Warnings(objs, w) {
				fmt.Fprintln(c.App.Writer, warn)
			}
			if len(errs) > 0 {
				return cli.Exit(fmt.Sprintf("%d problem(s) in %d valid object(s)", len(errs), len(objs)), 1)
			}
			fmt.Fprintf(c.App.Writer, "%d object(s), all valid\n", len(objs))
			return nil
		},
	}
}
