package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/urfave/cli/v2"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
)

// cpuProfileFlag and memProfileFlag let `flowgate apply` be profiled as
// it runs on a real bridge (docs/benchmarks.md, "Beside OVN"): where a
// cold or a no-change apply spends its time and memory is measured, not
// guessed.
var (
	cpuProfileFlag = &cli.StringFlag{Name: "cpuprofile", Usage: "write a Go CPU profile of the whole run to this file, for `go tool pprof` (latency work)"}
	memProfileFlag = &cli.StringFlag{Name: "memprofile", Usage: "write a Go heap profile to this file at the end of the run (after a GC; allocations of the whole run are in it too), for `go tool pprof`"}
)

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// startProfiles starts what the profile flags ask for; stop writes the
// profiles.
func startProfiles(c *cli.Context) (stop func() error, err error) {
	stopCPU := func() {}
	if p := c.String(cpuProfileFlag.Name); p != "" {
		if stopCPU, err = startCPUProfile(p); err != nil {
			return nil, err
		}
	}
	return func() error {
		stopCPU()
		if p := c.String(memProfileFlag.Name); p != "" {
			return agent.WriteHeapProfile(p)
		}
		return nil
	}, nil
}
