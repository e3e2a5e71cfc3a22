package integration

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// BenchmarkEstablishedRecheck measures what establishedConnections: cut
// and cut-initiator cost established traffic, against survive, through the
// real agent: the database admits the backend on 8080 after 100 rules that
// do not match (re-checked packets walk them), 200 connections are
// open. It reports echo round trips over all 200 connections, new
// connections per second (connect, one echo, close), bulk echo throughput
// on one, and the datapath flows (megaflows) the round trips left.
//
//	go test -run '^$' -bench EstablishedRecheck -benchtime 20x ./integration/
func BenchmarkEstablishedRecheck(b *testing.B) {
	for _, mode := range []string{"survive", "cut", "cut-initiator"} {
		b.Run(mode, func(b *testing.B) {
			benchEstablished(b, mode)
		})
	}
}

func manyRulePolicy(backend string) string {
	var r strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&r, "  - action: Allow\n    protocol: TCP\n    source: {nets: [10.200.%d.%d/32]}\n    destination: {ports: [8080]}\n", i/200, i%200+1)
	}
	fmt.Fprintf(&r, "  - action: Allow\n    protocol: TCP\n    source: {nets: [%s/32]}\n    destination: {ports: [8080]}\n", backend)
	return "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: many-rules, namespace: prod}\n" +
		"spec:\n  selector: app == 'database'\n  types: [Ingress]\n  ingress:\n" + r.String()
}

func benchEstablished(b *testing.B, mode string) {
	o, s, _ := establishedScene(b, mode, func(s *Scene) string { return manyRulePolicy(s.addr("dev/backend", 0).Addr().String()) })
	be, to := s.Workloads["dev/backend"], s.addr("prod/database", 8080)
	waitFor(b, "the backend allowed", 15*time.Second, func() bool { return be.ProbeTCP(to, 300*time.Millisecond) })
	const conns = 200
	cs := make([]*lineConn, conns)
	for i := range cs {
		c, err := be.DialTCP(to, 2*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs[i] = newLineConn(c)
	}
	o.Appctl("dpctl/del-flows")
	b.Run("roundtrips-200-conns", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			for i, c := range cs {
				tag := fmt.Sprintf("%d-%d", n, i)
				if err := c.send(tag); err != nil {
					b.Fatal(err)
				}
			}
			for i, c := range cs {
				if got, err := c.recv(5 * time.Second); err != nil || got != fmt.Sprintf("%d-%d", n, i) {
					b.Fatalf("conn %d: %q %v", i, got, err)
				}
			}
		}
		b.ReportMetric(float64(b.N*conns)/b.Elapsed().Seconds(), "roundtrips/s")
	})
	out, _ := o.Appctl("dpctl/dump-flows")
	b.Logf("%s: %d datapath flows after the round trips", mode, strings.Count(out, "\n"))
	b.Run("connect-echo-close", func(b *testing.B) {
		for n := 0; n < b.N; n++ {
			c, err := be.DialTCP(to, 2*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			l := newLineConn(c)
			if err := l.send("x"); err != nil {
				b.Fatal(err)
			}
			if got, err := l.recv(5 * time.Second); err != nil || got != "x" {
				b.Fatalf("%q %v", got, err)
			}
			c.Close()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
	})
	b.Run("bulk-1-conn", func(b *testing.B) {
		c, err := be.DialTCP(to, 2*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		chunk := make([]byte, 1<<20)
		b.SetBytes(int64(len(chunk)))
		done := make(chan error, 1)
		go func() {
			_, err := io.CopyN(io.Discard, c, int64(b.N)*int64(len(chunk)))
			done <- err
		}()
		for n := 0; n < b.N; n++ {
			if _, err := c.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	})
}
