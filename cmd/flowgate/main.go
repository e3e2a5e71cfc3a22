// Command flowgate turns Calico and Kubernetes network policy into Open
// vSwitch flows, and answers questions about what that policy allows.
package main

import (
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "flowgate:", err)
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
  flowgate matrix -f examples/seeds/namespace-isolation/`,
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log verbosity: debug, info, warn or error", EnvVars: []string{"FLOWGATE_LOG_LEVEL"}},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
		},
		Before: setupLogging,
		Commands: []*cli.Command{
			checkCommand(),
			compileCommand(),
			applyCommand(),
			agentCommand(),
			statusCommand(),
			verdictCommand(),
			matrixCommand(),
			diffCommand(),
			importCommand(),
			versionCommand(),
		},
	}
}

func setupLogging(c *cli.Context) error {
	logrus.SetOutput(os.Stderr)
	lvl, err := logrus.ParseLevel(c.String("log-level"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("--log-level: %v", err), 2)
	}
	logrus.SetLevel(lvl)
	switch c.String("log-format") {
	case "text":
		logrus.SetFormatter(&logrus.TextFormatter{})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return cli.Exit("--log-format: want text or json", 2)
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

// exitCode returns the code a cli.Exit error asks for, 1 otherwise.
func exitCode(err error) int {
	if ec, ok := err.(cli.ExitCoder); ok {
		return ec.ExitCode()
	}
	return 1
}
