package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/packetin"
)

// udpFrame is udp 10.0.0.1:sport -> 10.0.0.2:80.
func udpFrame(sport byte) []byte {
	f := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x04, sport, 0, 80, 0, 8, 0, 0}
	return f
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitCounts(t *testing.T, l *Logger, cond func(Counts) bool) Counts {
	t.Helper()
	for i := 0; i < 200; i++ {
		if c := l.Counts(); cond(c) {
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("counts %+v never reached the condition", l.Counts())
	return Counts{}
}

// TestRepeatedFirstPacketIsOneLine: the same connection's first packet
// arriving twice (a retransmission) writes one line; another source port
// is another connection.
func TestRepeatedFirstPacketIsOneLine(t *testing.T) {
	var out lockedBuffer
	l := New(Config{Bridge: "br", Rate: 1000, Burst: 1000, Dedupe: time.Minute}, &out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	ud := []byte{1, 0, 0, 8, 1}
	for _, sport := range []byte{1, 1, 2} {
		l.Handle(packetin.PacketIn{Userdata: ud, Frame: udpFrame(sport)})
	}
	c := waitCounts(t, l, func(c Counts) bool { return c.Lines+c.Duplicates == 3 })
	if c.Lines != 2 || c.Duplicates != 1 {
		t.Fatalf("counts %+v, want 2 lines and 1 duplicate", c)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r Record
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Bridge != "br" || r.Direction != "ingress" || r.Protocol != "udp" || r.Src != "10.0.0.1" || r.Dst != "10.0.0.2" ||
		r.SrcPort == nil || *r.SrcPort != 0x0401 || r.DstPort == nil || *r.DstPort != 80 || r.RuleAction != "Log" {
		t.Errorf("line %s", lines[0])
	}
}

// TestOverTheRateIsCounted: packets over the agent's limit are counted as
// dropped, never queued.
func TestOverTheRateIsCounted(t *testing.T) {
	var out lockedBuffer
	l := New(Config{Bridge: "br", Rate: 0.001, Burst: 2}, &out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	for i := 0; i < 10; i++ {
		l.Handle(packetin.PacketIn{Userdata: []byte{0, 0, 0, 8, 1}, Frame: udpFrame(byte(i))})
	}
	c := waitCounts(t, l, func(c Counts) bool { return c.Lines == 2 })
	if c.RateDropped != 8 || c.Dropped() != 8 {
		t.Errorf("counts %+v, want 8 dropped by the rate", c)
	}
}
