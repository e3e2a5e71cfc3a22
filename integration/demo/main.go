// Command demo is `make demo`: flowgate's main job on an embedded default.
// It starts a private userspace Open vSwitch (touching no system service),
// brings the seed pages' scenarios to life as network namespaces on
// br-int, runs the real `flowgate apply` against it, probes every pair
// with real TCP connections, prints what traffic did beside what the
// policy says, and tears everything down.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowgate/flowgate/integration"
	"github.com/flowgate/flowgate/ovs/sandbox"
)

// scenes are the seed scenarios the demo walks through, with the ports
// their pages talk about.
var scenes = []struct {
	dir   string
	ports []int
	about string
}{
	{"examples/seeds/namespace-isolation", []int{80}, "customer1 and customer2 nginx servers: no traffic between the namespaces (Kubernetes NetworkPolicy)"},
	{"examples/seeds/database-allow-backends", []int{8080}, "prod/database admits prod/backend and dev/backend only: selectors in one peer are ANDed"},
	{"examples/seeds/database-allow-backends-trap", []int{8080}, "the same policy with the peer split in two: ORed, so every dev pod gets in"},
	{"examples/seeds/calico-namespace-rules/namespace-selector", []int{6379}, "Calico: color=red in production admits color=blue from shape=circle namespaces"},
	{"examples/cluster-policy/admin-denies-what-networkpolicy-allows", []int{8080}, "an Admin-tier ClusterNetworkPolicy denies dev pods what the NetworkPolicy allows them"},
	{"examples/cluster-policy/networkpolicy-overrides-baseline", []int{8080}, "a Baseline-tier ClusterNetworkPolicy denies dev pods into prod; the NetworkPolicy overrides it for the database"},
}

func main() {
	flowgate := flag.String("flowgate", "bin/flowgate", "the flowgate binary to run")
	timeout := flag.Duration("timeout", 400*time.Millisecond, "how long a TCP probe waits before counting as denied")
	flag.Parse()
	if err := run(*flowgate, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(flowgate string, timeout time.Duration) error {
	start := time.Now()
	dir, err := os.MkdirTemp("", "fgdemo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o, err := sandbox.Start(filepath.Join(dir, "ovs"))
	if err != nil {
		return fmt.Errorf("start a private Open vSwitch: %w", err)
	}
	defer o.Stop()
	fmt.Printf("private ovs-vswitchd (userspace datapath) running under %s\n", o.Dir)
	if err := o.AddBridge("br-int"); err != nil {
		return err
	}
	mismatches := 0
	for _, sc := range scenes {
		fmt.Printf("\n== %s\n   %s\n", sc.dir, sc.about)
		s, err := integration.StartScene(o, "br-int", sc.dir, sc.ports)
		if err != nil {
			return err
		}
		cmd := exec.Command(flowgate, "--log-level", "warn", "apply", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "--datapath-type", "netdev", "-f", sc.dir)
		cmd.Env = append(os.Environ(), o.Env()...)
		out, err := cmd.CombinedOutput()
		fmt.Printf("   $ flowgate apply --ovsdb %s --bridge br-int -f %s\n   %s", o.DBAddr(), sc.dir, strings.ReplaceAll(string(out), "\n", "\n   "))
		if err != nil {
			s.Stop()
			return fmt.Errorf("flowgate apply: %w", err)
		}
		cells := s.Probe(timeout)
		fmt.Println()
		fmt.Print(integration.FormatCells(cells))
		for _, c := range cells {
			if c.Observed != c.Expected {
				mismatches++
				fmt.Printf("MISMATCH %s -> %s tcp/%d: traffic %v, policy says %v (%s)\n", c.From, c.To, c.Port, c.Observed, c.Expected, c.Reason)
			}
		}
		s.Stop()
	}
	fmt.Printf("\nEach cell: observed then expected ('.' connected/allowed, 'X' refused/denied).\n")
	fmt.Printf("done in %s: %d mismatch(es)\n", time.Since(start).Round(time.Millisecond), mismatches)
	if mismatches > 0 {
		return fmt.Errorf("%d probes disagreed with the policy", mismatches)
	}
	return nil
}
