// Command flowgate turns Calico and Kubernetes network policy into Open
// vSwitch flows, and answers questions about what that policy allows.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/endpoints/files"
)

// Exit codes, the same for every command (README "Exit codes").
const (
	// exitInvalid: invalid input or policy problems (check found
	// problems; verdict, matrix, compile refused; apply changed nothing),
	// or the bridge or a file could not be used.
	exitInvalid = 1
	// exitUsage: the command line itself is wrong (unknown command or
	// flag, a missing required flag, a flag value out of range).
	exitUsage = 2
	// exitDenied: verdict --exit-code answered DENIED.
	exitDenied = 3
)

// exitCodesHelp is the exit-code table every --help shows.
const exitCodesHelp = `Exit codes: 0 ok; 1 invalid input or policy problems (nothing answered or
changed); 2 usage error; 3 verdict --exit-code found the connection DENIED,
or diff found connections the change opens or closes.`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newApp().Run(os.Args); err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "flowgate:", msg)
		}
		os.Exit(exitCode(err))
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "flowgate",
		Usage: "enforce Calico and Kubernetes network policy with Open vSwitch flows",
		Description: `flowgate reads the policy you already write — projectcalico.org/v3
NetworkPolicy, GlobalNetworkPolicy, HostEndpoint and friends, networking.k8s.io/v1
NetworkPolicy — together with the pods, VMs and namespaces it applies to, and
answers what it allows (check, verdict, matrix).

Start with:
  flowgate check -f examples/seeds/database-allow-backends/
  flowgate matrix -f examples/seeds/namespace-isolation/

Every input file (and standard input) is limited to --max-input-mib MiB.

` + exitCodesHelp,
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log verbosity: debug, info, warn or error", EnvVars: []string{"FLOWGATE_LOG_LEVEL"}},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.Int64Flag{Name: "max-input-mib", Value: files.DefaultMaxInputMiB, EnvVars: []string{"FLOWGATE_MAX_INPUT_MIB"},
				Usage: "refuse any input file (or standard input) larger than this many MiB"},
		},
		Before:       setup,
		OnUsageError: usageError,
		Commands: withUsageErrors([]*cli.Command{
			checkCommand(),
			compileCommand(),
			applyCommand(),
			agentCommand(),
			statusCommand(),
			verdictCommand(),
			matrixCommand(),
			diffCommand(),
			traceCommand(),
			verifyCommand(),
			statsCommand(),
			importCommand(),
			versionCommand(),
		}),
	}
}

// setup applies the global flags before any command runs.
func setup(c *cli.Context) error {
	n := c.Int64("max-input-mib")
	if n < 1 || n > 1<<20 {
		return cli.Exit("--max-input-mib: want 1 to 1048576", exitUsage)
	}
	files.MaxInputBytes = n << 20
	return setupLogging(c)
}

// usageError makes a flag that does not parse exit 2, with the usage
// error, for the app and (through withUsageErrors) every command.
func usageError(_ *cli.Context, err error, _ bool) error {
	return cli.Exit(err.Error(), exitUsage)
}

// withUsageErrors gives every command and subcommand the app's usage-error
// handling and the exit-code table at the end of its --help.
func withUsageErrors(cmds []*cli.Command) []*cli.Command {
	for _, cmd := range cmds {
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = usageError
		}
		if cmd.Description != "" {
			cmd.Description += "\n\n" + exitCodesHelp
		}
		withUsageErrors(cmd.Subcommands)
	}
	return cmds
}

func setupLogging(c *cli.Context) error {
	logrus.SetOutput(os.Stderr)
	lvl, err := logrus.ParseLevel(c.String("log-level"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("--log-level: %v", err), exitUsage)
	}
	logrus.SetLevel(lvl)
	switch c.String("log-format") {
	case "text":
		logrus.SetFormatter(&logrus.TextFormatter{})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return cli.Exit("--log-format: want text or json", exitUsage)
	}
	return nil
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print flowgate's version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "flowgate %s\n", version)
			return nil
		},
	}
}

// exitCode returns the code a cli.Exit error asks for; a required flag
// left out is a usage error (urfave/cli does not export its type); any
// other error is 1.
func exitCode(err error) int {
	if ec, ok := err.(cli.ExitCoder); ok {
		return ec.ExitCode()
	}
	if strings.HasPrefix(err.Error(), "Required flag") {
		return exitUsage
	}
	return exitInvalid
}
