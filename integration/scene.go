package integration

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/policy"
)

// Scene is an example world brought to life on a private bridge: every
// endpoint with an address becomes a network namespace joined to the
// bridge (iface-id = namespace/name), listening on the probed ports.
type Scene struct {
	// Dir holds the world and its policy (an examples/seeds directory).
	Dir string
	// Ports are the TCP ports probed between every ordered pair.
	Ports []int
	// Workloads by endpoint ID, once Start has run.
	Workloads map[string]*sandbox.Workload

	ovs       *sandbox.OVS
	bridge    string
	world     *policy.World
	listeners []io.Closer
}

// Cell is one probe: what the reference evaluator expects and what real
// traffic did.
type Cell struct {
	From, To           string
	Port               int
	Expected, Observed bool
	Reason             string
}

// StartScene creates the workloads of dir's world on bridge.
func StartScene(o *sandbox.OVS, bridge, dir string, ports []int) (*Scene, error) {
	objs, errs := files.Read([]string{dir}, os.Stdin)
	w, berrs := decode.Build(objs)
	if errs = append(errs, berrs...); len(errs) > 0 {
		return nil, fmt.Errorf("scene %s: %v", dir, errs)
	}
	s := &Scene{Dir: dir, Ports: ports, Workloads: map[string]*sandbox.Workload{}, ovs: o, bridge: bridge, world: w}
	eps := append([]*policy.Endpoint(nil), w.Endpoints...)
	sort.Slice(eps, func(i, j int) bool { return eps[i].ID() < eps[j].ID() })
	for i, e := range eps {
		if len(e.IPs) == 0 || e.Kind == policy.HostEndpoint {
			continue
		}
		mac := e.MAC
		if len(mac) != 6 {
			mac = net.HardwareAddr{0x02, 0xfd, 0, 0, byte(i >> 8), byte(i)}
		}
		var prefixes []netip.Prefix
		for _, a := range e.IPs {
			bits := 16
			if a.Is6() {
				bits = 64
			}
			prefixes = append(prefixes, netip.PrefixFrom(a, bits))
		}
		name := strings.NewReplacer("/", "-").Replace(e.ID())
		if len(name) > 32 {
			name = name[:32]
		}
		wl, err := o.AddWorkload(bridge, name, e.ID(), mac, prefixes...)
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("scene %s: %w", dir, err)
		}
		s.Workloads[e.ID()] = wl
		for _, p := range ports {
			ln, err := wl.ListenTCP(p)
			if err != nil {
				s.Stop()
				return nil, fmt.Errorf("scene %s: %w", dir, err)
			}
			s.listeners = append(s.listeners, ln)
		}
	}
	return s, nil
}

// Probe runs a real TCP connection for every ordered pair of workloads and
// port (concurrently: a denied probe waits out its timeout) and compares
// with the evaluator.
func (s *Scene) Probe(timeout time.Duration) []Cell {
	ev := evaluator.New(s.world, evaluator.DefaultOptions())
	var ids []string
	for id := range s.Workloads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var cells []Cell
	for _, from := range ids {
		for _, to := range ids {
			if from == to {
				continue
			}
			for _, p := range s.Ports {
				src, dst := ev.Endpoint(from), ev.Endpoint(to)
				pkt := evaluator.Packet{Src: src.IPs[0], Dst: dst.IPs[0], Protocol: policy.TCP, SrcPort: evaluator.SourcePort, DstPort: uint16(p)}
				v := ev.Evaluate(src, dst, pkt)
				cells = append(cells, Cell{From: from, To: to, Port: p, Expected: v.Allowed, Reason: v.Reason()})
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range cells {
		wg.Add(1)
		sem <- struct{}{}
		go func(c *Cell) {
			defer wg.Done()
			defer func() { <-sem }()
			dst := netip.AddrPortFrom(s.Workloads[c.To].IPs[0].Addr(), uint16(c.Port))
			c.Observed = s.Workloads[c.From].ProbeTCP(dst, timeout)
			if c.Observed != c.Expected {
				// The first connection after a failed one can wait for ARP;
				// slowness only ever makes an allowed pair look denied.
				c.Observed = s.Workloads[c.From].ProbeTCP(dst, 5*timeout)
			}
		}(&cells[i])
	}
	wg.Wait()
	return cells
}

// Stop removes the scene's workloads.
func (s *Scene) Stop() {
	for _, l := range s.listeners {
		l.Close()
	}
	for _, w := range s.Workloads {
		s.ovs.RemoveWorkload(w)
	}
	s.Workloads = map[string]*sandbox.Workload{}
}

// FormatCells prints a scene's probes as a matrix per port: rows are
// sources, columns destinations; "." allowed, "X" denied, and "!" marks a
// cell where real traffic disagreed with the expectation.
func FormatCells(cells []Cell) string {
	var b strings.Builder
	ports := map[int]bool{}
	names := map[string]bool{}
	for _, c := range cells {
		ports[c.Port] = true
		names[c.From], names[c.To] = true, true
	}
	var ids []string
	for n := range names {
		ids = append(ids, n)
	}
	sort.Strings(ids)
	var ps []int
	for p := range ports {
		ps = append(ps, p)
	}
	sort.Ints(ps)
	at := map[string]Cell{}
	for _, c := range cells {
		at[fmt.Sprintf("%s|%s|%d", c.From, c.To, c.Port)] = c
	}
	width := 0
	for _, id := range ids {
		width = max(width, len(id))
	}
	for _, p := range ps {
		fmt.Fprintf(&b, "tcp/%d  observed (expected)   rows: from, columns: to\n%*s", p, width, "")
		for i := range ids {
			fmt.Fprintf(&b, "  %2d", i+1)
		}
		b.WriteString("\n")
		for i, from := range ids {
			fmt.Fprintf(&b, "%-*s", width, from)
			for _, to := range ids {
				c, ok := at[fmt.Sprintf("%s|%s|%d", from, to, p)]
				mark := "  - "
				if ok {
					mark = "  " + tick(c.Observed) + tick(c.Expected)
					if c.Observed != c.Expected {
						mark = " !" + tick(c.Observed) + tick(c.Expected)
					}
				}
				b.WriteString(mark)
			}
			fmt.Fprintf(&b, "   %2d\n", i+1)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func tick(ok bool) string {
	if ok {
		return "."
	}
	return "X"
}
