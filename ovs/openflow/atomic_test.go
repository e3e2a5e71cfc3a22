package openflow_test

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/translator/compiler"
)

// prober opens TCP connections from a to b's echo server in a loop and
// counts those that fail. The timeout is short on purpose: a SYN lost to
// a missing flow is retransmitted only after 1 s, so any packet dropped in
// the middle of a flow change fails a probe instead of being hidden by a
// retry.
type prober struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
}

const probeTimeout = 300 * time.Millisecond

func startProbers(from *sandbox.Workload, dst netip.AddrPort, n int) *prober {
	pr := &prober{stop: make(chan struct{})}
	for range n {
		pr.wg.Add(1)
		go func() {
			defer pr.wg.Done()
			for {
				select {
				case <-pr.stop:
					return
				default:
				}
				if from.ProbeTCP(dst, probeTimeout) {
					pr.ok.Add(1)
				} else {
					pr.failed.Add(1)
				}
			}
		}()
	}
	return pr
}

// phase runs change while the probers run and returns how many probes
// overlapped it and how many of those failed.
func (pr *prober) phase(change func()) (probes, failed int64) {
	ok0, f0 := pr.ok.Load(), pr.failed.Load()
	change()
	ok1, f1 := pr.ok.Load(), pr.failed.Load()
	return ok1 - ok0 + f1 - f0, f1 - f0
}

func (pr *prober) halt() {
	close(pr.stop)
	pr.wg.Wait()
}

// TestReplacementDropsNoTraffic is make-before-break under real traffic:
// while one workload keeps opening connections to another through a
// conntrack pipeline, the bridge's whole flow set (10k flows) is replaced
// again and again by an equivalent one of another generation — by Sync
// with a cache, by Sync of a fresh programmer (an agent restart), and by
// Apply of the delta — and not one connection may fail. A control phase
// replaces the flows non-atomically (delete, then add) to show that the
// probes do notice a gap.
func TestReplacementDropsNoTraffic(t *testing.T) {
	o := newSwitch(t)
	ctx := ctxT(t)
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	a, err := o.AddWorkload(bridge, "a", "ns/a", mac("02:00:00:00:00:0a"), netip.MustParsePrefix("10.0.0.10/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := o.AddWorkload(bridge, "b", "ns/b", mac("02:00:00:00:00:0b"), netip.MustParsePrefix("10.0.0.11/24"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := b.ListenTCP(8080)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dst := netip.MustParseAddrPort("10.0.0.11:8080")

	const n = 10000
	sets := [2][]compiler.Flow{flowSet(1, n, 0), flowSet(2, n, 0)}
	p := openflow.NewProgrammer(bridge, o.Env())
	if _, err := p.Sync(ctx, sets[0]); err != nil {
		t.Fatal(err)
	}
	if !a.ProbeTCP(dst, 5*time.Second) {
		t.Fatal("no traffic through the pipeline before the test")
	}
	// Conntrack must be in the path, or the test proves less than it says.
	if out, _ := o.Appctl("dpctl/dump-conntrack"); !strings.Contains(out, "dport=8080") {
		t.Fatalf("connection not tracked:\n%s", out)
	}

	pr := startProbers(a, dst, 2)
	defer pr.halt()
	const rounds = 8
	cur := 0
	check := func(name string, change func()) {
		probes, failed := pr.phase(change)
		t.Logf("%-52s %5d probes, %d failed", name, probes, failed)
		if failed > 0 {
			t.Errorf("%s: %d of %d connections failed", name, failed, probes)
		}
		if probes < rounds {
			t.Errorf("%s: only %d probes overlapped the changes", name, probes)
		}
	}
	check("Sync with cache (all cookies change: full bundle)", func() {
		for range rounds {
			cur ^= 1
			st, err := p.Sync(ctx, sets[cur])
			if err != nil || !st.Full || st.Changed != len(sets[cur]) {
				t.Fatalf("Sync: %+v %v", st, err)
			}
		}
	})
	check("Sync by a fresh programmer (agent restart)", func() {
		for range rounds {
			cur ^= 1
			p = openflow.NewProgrammer(bridge, o.Env())
			if _, err := p.Sync(ctx, sets[cur]); err != nil {
				t.Fatal(err)
			}
		}
	})
	check("Apply of the delta (every flow overwritten)", func() {
		for range rounds {
			d := compiler.Diff(sets[cur], sets[cur^1])
			cur ^= 1
			if err := p.Apply(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	})
	wantInstalled(t, o, sets[cur])

	// Control: the same replacement done non-atomically must be seen.
	var file strings.Builder
	for _, f := range sets[0] {
		file.WriteString(f.String() + "\n")
	}
	probes, failed := pr.phase(func() {
		for range 4 {
			if _, err := o.Ofctl("-O", "OpenFlow15", "del-flows", bridge); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if out, err := o.OfctlInput(file.String(), "-O", "OpenFlow15", "add-flows", bridge, "-"); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Logf("%-52s %5d probes, %d failed", "control: del-flows, 100 ms, add-flows (not atomic)", probes, failed)
	if failed == 0 {
		t.Errorf("control phase: none of %d probes failed across 4 gaps of 100 ms; the probes cannot see drops", probes)
	}
}
