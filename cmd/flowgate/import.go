package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/translator/neutron"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:        "import",
		Usage:       "convert another system's network policy to Calico-style YAML",
		Subcommands: []*cli.Command{importOpenStackCommand()},
	}
}

func importOpenStackCommand() *cli.Command {
	return &cli.Command{
		Name:  "openstack",
		Usage: "convert Neutron security groups, ports and address groups (JSON) to Calico YAML",
		Description: `Reads Neutron's own JSON — the Neutron API's GET /v2.0/security-groups,
/v2.0/ports and /v2.0/address-groups, or the openstack client's
'security group show', 'port show' and 'address group show' with -f json —
and writes projectcalico.org/v3 NetworkPolicies (one per security group),
NetworkSets and WorkloadEndpoints (one per port, named by the port UUID that
Nova puts in external_ids:iface-id) that mean exactly what Neutron enforces.
The YAML goes to the agent's policy directory, and 'flowgate check', 'matrix'
and 'verdict' read it like any other policy. (The agent can also read the
JSON itself, converted the same way on every change: its config's
neutronPaths.)

  openstack security group list -f value -c ID |
    xargs -n1 openstack security group show -f json > groups.json
  openstack port list -f value -c ID |
    xargs -n1 openstack port show -f json > ports.json
  flowgate import openstack -f groups.json -f ports.json -o /etc/flowgate/policy/neutron.yaml

Export every port, not only this hypervisor's: a rule naming a remote
group matches the addresses of all the group's ports, wherever they run.
The agent enforces only the ports bound to its bridge.

Problems are printed as file:line: Object: field: why, on stderr; with
any problem nothing is written (an existing -o file is left as it was) and
the exit code is 1. Warnings (defaults
assumed, groups named but absent) do not change the exit code. With -o the file is replaced atomically, so an agent
watching the directory never reads half of it.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "filename", Aliases: []string{"f"}, Required: true,
				Usage: "Neutron JSON file, or directory of *.json files (repeatable; - for stdin)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the YAML to this file (atomically) instead of stdout"},
		},
		Action: runImportOpenStack,
	}
}

func runImportOpenStack(c *cli.Context) error {
	var inputs []*neutron.Input
	var problems []error
	for _, p := range c.StringSlice("filename") {
		names, err := neutronFiles(p)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		for _, name := range names {
			data, err := files.ReadInput(name, c.App.Reader)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			i, errs := neutron.Decode(name, data)
			problems = append(problems, errs...)
			inputs = append(inputs, i)
		}
	}
	im, errs := agent.ConvertNeutron(inputs)
	problems = append(problems, errs...)
	for _, p := range problems {
		fmt.Fprintln(c.App.ErrWriter, p)
	}
	for _, w := range im.Warnings {
		fmt.Fprintln(c.App.ErrWriter, "warning:", w)
	}
	if len(problems) > 0 {
		// A truncated or broken export must never replace a good file:
		// the agent would enforce the conversion's remains.
		return cli.Exit(fmt.Sprintf("%d problem(s) in the Neutron input; nothing written", len(problems)), 1)
	}
	var out bytes.Buffer
	if err := im.WriteYAML(&out); err != nil {
		return err
	}
	if path := c.String("output"); path != "" {
		if err := writeAtomically(path, out.Bytes()); err != nil {
			return cli.Exit(err.Error(), 1)
		}
	} else if _, err := c.App.Writer.Write(out.Bytes()); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	return nil
}

// neutronFiles expands a -f argument: a file as given, a directory's
// *.json files (recursively, in name order, hidden ones skipped), "-" for
// stdin.
func neutronFiles(p string) ([]string, error) {
	return files.Expand(p, agent.IsNeutronFile)
}

// writeAtomically replaces path with data through a hidden temporary file
// in the same directory (the agent skips hidden files) and a rename, so a
// reader sees the old file or the new one, never a mix.
func writeAtomically(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
