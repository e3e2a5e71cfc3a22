package agent

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// HeapProfile, when set (flowgate agent --memprofile), is where the agent
// writes a Go heap profile as it stops, with its engine still live: what
// it keeps in memory between changes (docs/benchmarks.md, agent RSS).
var HeapProfile string

// WriteHeapProfile writes the heap profile after a GC to path (also
// `flowgate apply --memprofile`).
func WriteHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("memprofile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("memprofile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("memprofile: %w", err)
	}
	return nil
}
