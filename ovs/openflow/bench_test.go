package openflow_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/translator/compiler"
)

// writeFlowFile writes flows as an ovs-ofctl add-flows file.
func writeFlowFile(b *testing.B, flows []compiler.Flow) string {
	b.Helper()
	var sb strings.Builder
	for _, f := range flows {
		sb.WriteString(f.String())
		sb.WriteByte('\n')
	}
	p := filepath.Join(b.TempDir(), "flows")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// rawOfctl runs ovs-ofctl directly, as an operator would.
func rawOfctl(b *testing.B, o *sandbox.OVS, args ...string) {
	b.Helper()
	bin, err := sandbox.LookBin("ovs-ofctl")
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = o.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ovs-ofctl %v: %v: %s", args, err, out)
	}
}

func clearBridge(b *testing.B, o *sandbox.OVS) {
	b.Helper()
	rawOfctl(b, o, "-O", "OpenFlow15", "del-flows", bridge)
}

// BenchmarkInstall is the install rate of N flows onto an empty bridge:
// Programmer.Sync of a fresh programmer (as at agent start) against raw
// `ovs-ofctl --bundle add-flows` of the same flows from a file. The two
// run alternately within each iteration, so that other load on the
// machine hits both alike; sync/raw is the ratio of their rates. The
// flows are compiler-shaped (conjunction clauses, masked ports, conj_id
// flows, a conntrack pipeline). ns/op covers both installs and the
// clearing between them. Recorded in docs/benchmarks.md.
func BenchmarkInstall(b *testing.B) {
	o := newSwitch(b)
	ctx := ctxT(b)
	for _, n := range []int{10_000, 100_000} {
		flows := flowSet(1, n, 0)
		file := writeFlowFile(b, flows)
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			var sync, raw time.Duration
			for range b.N {
				clearBridge(b, o)
				p := openflow.NewProgrammer(bridge, o.Env())
				start := time.Now()
				if _, err := p.Sync(ctx, flows); err != nil {
					b.Fatal(err)
				}
				sync += time.Since(start)

				clearBridge(b, o)
				start = time.Now()
				rawOfctl(b, o, "-O", "OpenFlow15", "--bundle", "add-flows", bridge, file)
				raw += time.Since(start)
			}
			b.ReportMetric(float64(n*b.N)/sync.Seconds(), "sync-flows/s")
			b.ReportMetric(float64(n*b.N)/raw.Seconds(), "raw-flows/s")
			b.ReportMetric(raw.Seconds()/sync.Seconds(), "sync/raw")
		})
	}
}

// BenchmarkRestartSync is an agent restart at 100k flows: the previous
// run's flows (another generation) are installed and a fresh programmer
// Syncs the new generation, alternating with `ovs-ofctl --bundle
// replace-flows` doing the same (the other way to do it) and with
// replace-flows when nothing changed (its floor: it always dumps and
// compares everything). Metrics are seconds per replacement.
func BenchmarkRestartSync(b *testing.B) {
	o := newSwitch(b)
	ctx := ctxT(b)
	const n = 100_000
	sets := [2][]compiler.Flow{flowSet(1, n, 0), flowSet(2, n, 0)}
	files := [2]string{writeFlowFile(b, sets[0]), writeFlowFile(b, sets[1])}
	rawOfctl(b, o, "-O", "OpenFlow15", "--bundle", "add-flows", bridge, files[0])
	cur := 0
	var sync, replace, unchanged time.Duration
	for range b.N {
		cur ^= 1
		start := time.Now()
		if _, err := openflow.NewProgrammer(bridge, o.Env()).Sync(ctx, sets[cur]); err != nil {
			b.Fatal(err)
		}
		sync += time.Since(start)
		cur ^= 1
		start = time.Now()
		rawOfctl(b, o, "-O", "OpenFlow15", "--bundle", "replace-flows", bridge, files[cur])
		replace += time.Since(start)
		start = time.Now()
		rawOfctl(b, o, "-O", "OpenFlow15", "--bundle", "replace-flows", bridge, files[cur])
		unchanged += time.Since(start)
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(sync), "sync-s")
	b.ReportMetric(per(replace), "replace-flows-s")
	b.ReportMetric(per(unchanged), "replace-flows-unchanged-s")
}

// BenchmarkIncremental is the steady state at 100k installed flows: a
// Sync that finds nothing to do, and Apply of a 100-flow delta (one
// policy's rules changing), which must not cost more because the bridge
// is big.
func BenchmarkIncremental(b *testing.B) {
	o := newSwitch(b)
	ctx := ctxT(b)
	const n = 100_000
	base := flowSet(1, n, 0)
	p := openflow.NewProgrammer(bridge, o.Env())
	if _, err := p.Sync(ctx, base); err != nil {
		b.Fatal(err)
	}
	b.Run("Sync-unchanged", func(b *testing.B) {
		for range b.N {
			if st, err := p.Sync(ctx, base); err != nil || st.Added+st.Removed+st.Changed != 0 {
				b.Fatal(st, err)
			}
		}
	})
	other := append(append([]compiler.Flow(nil), base...), ruleFlows(1, n+100, 3)[n:]...)
	fwd, back := compiler.Diff(base, other), compiler.Diff(other, base)
	// The same delta over the native OpenFlow connection (the default)
	// and through ovs-ofctl, with the bundle's and the purge's shares.
	for _, mode := range []struct {
		name   string
		native bool
	}{{"Apply-100-flow-delta", true}, {"Apply-100-flow-delta-ofctl", false}} {
		b.Run(mode.name, func(b *testing.B) {
			p.NativeOpenFlow(mode.native)
			defer p.NativeOpenFlow(true)
			var bundle, purge time.Duration
			for i := range b.N {
				d := fwd
				if i%2 == 1 {
					d = back
				}
				if err := p.Apply(ctx, d); err != nil {
					b.Fatal(err)
				}
				t := p.LastTimings()
				if t.Native != mode.native {
					b.Fatalf("bundle native = %v, want %v", t.Native, mode.native)
				}
				bundle += t.Bundle
				purge += t.Purge
			}
			b.ReportMetric(float64(bundle.Microseconds())/1000/float64(b.N), "bundle-ms/op")
			b.ReportMetric(float64(purge.Microseconds())/1000/float64(b.N), "purge-ms/op")
		})
	}
}
