package packetin_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/ofconn"
	"github.com/flowgate/flowgate/ovs/packetin"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// A UDP frame 10.0.0.1:1234 -> 10.0.0.2:80, as packet-out hex.
const udpFrame = "020000000002" + "020000000001" + "0800" +
	"4500001c00004000401100000a0000010a000002" + "04d200500008" + "0000"

// TestPacketInCarriesUserdataAndFrame sends a packet through a flow with a
// controller action and checks that the connection receives it with the
// flow's userdata, table, cookie and the frame's headers.
func TestPacketInCarriesUserdataAndFrame(t *testing.T) {
	o := sandboxtest.New(t)
	if err := o.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Ofctl("-O", "OpenFlow15", "add-flow", "br0", "cookie=0x42,table=3,priority=10,udp,actions=controller(userdata=01.00.12.34.56)"); err != nil {
		t.Fatal(err)
	}
	got := make(chan packetin.PacketIn, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := packetin.Dial(ctx, ofconn.SocketPath(o.Dir, "br0"), func(p packetin.PacketIn) { got <- p })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := o.Ofctl("-O", "OpenFlow15", "packet-out", "br0", "in_port=LOCAL packet="+udpFrame+" actions=resubmit(,3)"); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if !bytes.Equal(p.Userdata, []byte{1, 0, 0x12, 0x34, 0x56}) {
			t.Errorf("userdata %x, want 0100123456", p.Userdata)
		}
		if p.TableID != 3 || p.Cookie != 0x42 {
			t.Errorf("table %d cookie %#x, want 3 and 0x42", p.TableID, p.Cookie)
		}
		h := packetin.DecodeFrame(p.Frame)
		if h.Src != netip.MustParseAddr("10.0.0.1") || h.Dst != netip.MustParseAddr("10.0.0.2") || h.Protocol != 17 || h.SrcPort != 1234 || h.DstPort != 80 {
			t.Errorf("headers %+v, want udp 10.0.0.1:1234 -> 10.0.0.2:80", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no packet-in within 10s")
	}
}

// TestControllerMeter installs the controller meter, changes it, and reads
// its statistics back.
func TestControllerMeter(t *testing.T) {
	o := sandboxtest.New(t)
	if err := o.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := packetin.Dial(ctx, ofconn.SocketPath(o.Dir, "br0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, rate := range []uint32{100, 7} {
		if err := c.SetControllerMeter(ctx, rate, rate); err != nil {
			t.Fatal(err)
		}
		out, err := o.Ofctl("-O", "OpenFlow15", "dump-meters", "br0")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "meter=controller") || !strings.Contains(out, "rate="+itoa(rate)) {
			t.Fatalf("dump-meters after setting rate %d:\n%s", rate, out)
		}
	}
	if _, err := c.ControllerMeterCounts(ctx); err != nil {
		t.Fatal(err)
	}
}

func itoa(n uint32) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// TestDecodeFrameIPv6 reads an ICMPv6 echo request behind a VLAN tag and
// a hop-by-hop header.
func TestDecodeFrameIPv6(t *testing.T) {
	f := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0, 5, 0x86, 0xdd}
	ip := make([]byte, 40)
	ip[0], ip[6], ip[7] = 0x60, 0, 64 // next header: hop-by-hop
	copy(ip[8:24], netip.MustParseAddr("fd00::1").AsSlice())
	copy(ip[24:40], netip.MustParseAddr("fd00::2").AsSlice())
	hbh := []byte{58, 0, 1, 4, 0, 0, 0, 0} // next: ICMPv6
	f = append(append(append(f, ip...), hbh...), 128, 0, 0, 0)
	h := packetin.DecodeFrame(f)
	if h.Src != netip.MustParseAddr("fd00::1") || h.Dst != netip.MustParseAddr("fd00::2") || h.Protocol != 58 || !h.HasICMP || h.ICMPType != 128 || h.ICMPCode != 0 {
		t.Errorf("headers %+v, want icmpv6 echo request fd00::1 -> fd00::2", h)
	}
}
