package sandbox_test

import (
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

const (
	probeOK   = 3 * time.Second // generous: the first packet also pays for ARP/ND and upcalls
	probeFail = 700 * time.Millisecond
)

func mac(t testing.TB, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pair starts a sandbox with br-int and two workloads.
func pair(t *testing.T, ip1, ip2 string) (*sandbox.OVS, *sandbox.Workload, *sandbox.Workload) {
	t.Helper()
	t0 := time.Now()
	o := sandboxtest.New(t)
	t.Logf("Start: %v", time.Since(t0))
	t0 = time.Now()
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	t.Logf("AddBridge: %v", time.Since(t0))
	t0 = time.Now()
	w1, err := o.AddWorkload("br-int", "a", "ns1/pod-a", mac(t, "0a:00:00:00:00:01"), netip.MustParsePrefix(ip1))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("AddWorkload a: %v (ofport %d, %s)", time.Since(t0), w1.OFPort, w1.HostIface)
	t0 = time.Now()
	w2, err := o.AddWorkload("br-int", "b", "ns1/pod-b", mac(t, "0a:00:00:00:00:02"), netip.MustParsePrefix(ip2))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("AddWorkload b: %v (ofport %d, %s)", time.Since(t0), w2.OFPort, w2.HostIface)
	return o, w1, w2
}

func listen(t *testing.T, w *sandbox.Workload, port int) {
	t.Helper()
	for _, f := range []func(int) (io.Closer, error){w.ListenTCP, w.ListenUDP} {
		c, err := f(port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

func ofctl(t *testing.T, o *sandbox.OVS, args ...string) string {
	t.Helper()
	out, err := o.Ofctl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIPv4NormalConntrackAndDrop(t *testing.T) {
	t.Parallel()
	o, w1, w2 := pair(t, "10.0.0.1/24", "10.0.0.2/24")
	listen(t, w2, 8080)
	listen(t, w1, 8080)
	a1, a2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")

	// fail_mode=secure: nothing passes before a flow exists.
	if w1.Ping(a2, probeFail) {
		t.Fatal("ping passed a bridge without flows")
	}

	ofctl(t, o, "add-flow", "br-int", "actions=NORMAL")
	t0 := time.Now()
	if !w1.ProbeTCP(netip.AddrPortFrom(a2, 8080), probeOK) {
		t.Fatal("TCP a->b failed with NORMAL")
	}
	t.Logf("first ProbeTCP (incl. ARP): %v", time.Since(t0))
	if !w2.ProbeTCP(netip.AddrPortFrom(a1, 8080), probeOK) {
		t.Fatal("TCP b->a failed with NORMAL")
	}
	if !w1.ProbeUDP(netip.AddrPortFrom(a2, 8080), probeOK) {
		t.Fatal("UDP a->b failed with NORMAL")
	}
	if !w1.Ping(a2, probeOK) || !w2.Ping(a1, probeOK) {
		t.Fatal("ping failed with NORMAL")
	}
	if out, err := w1.Exec("ip", "neigh", "show", "10.0.0.2"); err != nil || !strings.Contains(out, "0a:00:00:00:00:02") {
		t.Fatalf("a did not learn b's MAC through ARP: %q %v", out, err)
	}

	// Conntrack pipeline.
	ofctl(t, o, "del-flows", "br-int")
	flows := strings.Join([]string{
		"table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)",
		"table=0,priority=10,arp,actions=NORMAL",
		"table=1,priority=100,ip,ct_state=+trk+new,actions=ct(commit),NORMAL",
		"table=1,priority=100,ip,ct_state=+trk+est,actions=NORMAL",
	}, "\n") + "\n"
	if _, err := o.OfctlInput(flows, "add-flows", "br-int", "-"); err != nil {
		t.Fatal(err)
	}
	if out, err := o.Appctl("revalidator/purge"); err != nil { // see the drop flow below
		t.Fatalf("revalidator/purge: %v: %s", err, out)
	}
	if !w1.ProbeTCP(netip.AddrPortFrom(a2, 8080), probeOK) {
		t.Fatalf("TCP through conntrack failed:\n%s", ofctl(t, o, "dump-flows", "br-int"))
	}
	if !w1.ProbeUDP(netip.AddrPortFrom(a2, 8080), probeOK) || !w1.Ping(a2, probeOK) {
		t.Fatal("UDP/ICMP through conntrack failed")
	}
	ct, err := o.Appctl("dpctl/dump-conntrack")
	if err != nil || !strings.Contains(ct, "tcp,orig=(src=10.0.0.1,dst=10.0.0.2") {
		t.Fatalf("no TCP conntrack entry: %q %v", ct, err)
	}

	// Negative control: with TX checksum offload back on, conntrack sees
	// partial checksums and marks the connection +inv.
	if err := w1.SetTxChecksum(true); err != nil {
		t.Fatal(err)
	}
	if w1.ProbeTCP(netip.AddrPortFrom(a2, 8080), probeFail) {
		t.Error("TCP passed conntrack with TX checksum offload on; the offload fix is not what makes it work")
	}
	if err := w1.SetTxChecksum(false); err != nil {
		t.Fatal(err)
	}
	if !w1.ProbeTCP(netip.AddrPortFrom(a2, 8080), probeOK) {
		t.Fatal("TCP through conntrack failed after turning offload off again")
	}

	// A drop rule for the port wins over the +new flow.
	ofctl(t, o, "add-flow", "br-int", "table=1,priority=200,tcp,tp_dst=8080,actions=drop")
	// OVS 3.1's userspace datapath can keep serving a cached flow for
	// packets recirculated from ct() after the tables changed (flowgate's
	// programmer purges after every bundle for the same reason).
	if out, err := o.Appctl("revalidator/purge"); err != nil {
		t.Fatalf("revalidator/purge: %v: %s", err, out)
	}
	if w1.ProbeTCP(netip.AddrPortFrom(a2, 8080), probeFail) {
		t.Fatal("TCP to 8080 passed a drop flow")
	}
	if !w1.ProbeUDP(netip.AddrPortFrom(a2, 8080), probeOK) {
		t.Fatal("UDP to 8080 was dropped by a TCP-only drop flow")
	}
	if _, err := w1.DialTCP(netip.AddrPortFrom(a2, 8080), probeFail); err == nil {
		t.Fatal("DialTCP to a dropped port succeeded")
	}
}

func TestIPv6(t *testing.T) {
	t.Parallel()
	o, w1, w2 := pair(t, "fd00::1/64", "fd00::2/64")
	listen(t, w2, 8080)
	ofctl(t, o, "add-flow", "br-int", "actions=NORMAL")
	a1, a2 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	if !w1.ProbeTCP(netip.AddrPortFrom(a2, 8080), probeOK) {
		t.Fatal("TCP over IPv6 failed")
	}
	if !w1.ProbeUDP(netip.AddrPortFrom(a2, 8080), probeOK) {
		t.Fatal("UDP over IPv6 failed")
	}
	if !w2.Ping(a1, probeOK) {
		t.Fatal("ping6 failed")
	}
	if out, err := w1.Exec("ip", "-6", "neigh", "show", "fd00::2"); err != nil || !strings.Contains(out, "0a:00:00:00:00:02") {
		t.Fatalf("a did not learn b's MAC through ND: %q %v", out, err)
	}
}

func TestDualStackAndOffSubnet(t *testing.T) {
	t.Parallel()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	w1, err := o.AddWorkload("br-int", "a", "a", mac(t, "0a:00:00:00:00:01"),
		netip.MustParsePrefix("10.1.0.1/24"), netip.MustParsePrefix("fd01::1/64"))
	if err != nil {
		t.Fatal(err)
	}
	// b is on another subnet: the on-link default route makes a ARP for it
	// directly, so NORMAL still connects them (a service VIP would work the
	// same way once a flow rewrites it).
	w2, err := o.AddWorkload("br-int", "b", "b", mac(t, "0a:00:00:00:00:02"),
		netip.MustParsePrefix("10.2.0.2/24"), netip.MustParsePrefix("fd02::2/64"))
	if err != nil {
		t.Fatal(err)
	}
	listen(t, w2, 9000)
	ofctl(t, o, "add-flow", "br-int", "actions=NORMAL")
	for _, a := range []string{"10.2.0.2", "fd02::2"} {
		if !w1.ProbeTCP(netip.AddrPortFrom(netip.MustParseAddr(a), 9000), probeOK) {
			t.Errorf("TCP to %s failed", a)
		}
	}
	ext, err := o.Vsctl("get", "Interface", w1.HostIface, "external_ids")
	if err != nil || !strings.Contains(ext, `attached-mac="0a:00:00:00:00:01"`) || !strings.Contains(ext, `iface-id=a`) {
		t.Fatalf("external_ids = %q, %v", ext, err)
	}
	// A workload whose names collide is refused; removing one frees it.
	if _, err := o.AddWorkload("br-int", "a", "a2", mac(t, "0a:00:00:00:00:03")); err == nil {
		t.Fatal("duplicate workload name accepted")
	}
	if err := o.RemoveWorkload(w2); err != nil {
		t.Fatal(err)
	}
	if w1.ProbeTCP(netip.AddrPortFrom(netip.MustParseAddr("10.2.0.2"), 9000), probeFail) {
		t.Fatal("removed workload still answers")
	}
	if out, _ := o.Vsctl("list-ports", "br-int"); strings.Contains(out, w2.HostIface) {
		t.Fatalf("port %s still on bridge: %q", w2.HostIface, out)
	}
	if _, err := os.Stat("/run/netns/" + w2.NetNS); err == nil {
		t.Fatalf("netns %s still exists", w2.NetNS)
	}
	if err := o.RemoveWorkload(w2); err != nil {
		t.Fatalf("second RemoveWorkload: %v", err)
	}
}

func TestRestartVswitchd(t *testing.T) {
	t.Parallel()
	o, w1, w2 := pair(t, "10.0.0.1/24", "10.0.0.2/24")
	listen(t, w2, 8080)
	dst := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 8080)
	ofctl(t, o, "add-flow", "br-int", "actions=NORMAL")
	if !w1.ProbeTCP(dst, probeOK) {
		t.Fatal("TCP failed before restart")
	}
	t0 := time.Now()
	if err := o.RestartVswitchd(); err != nil {
		t.Fatal(err)
	}
	t.Logf("RestartVswitchd: %v", time.Since(t0))
	for _, w := range []*sandbox.Workload{w1, w2} {
		out, err := o.Vsctl("get", "Interface", w.HostIface, "ofport")
		if err != nil || strings.TrimSpace(out) != strconv.Itoa(w.OFPort) {
			t.Errorf("%s ofport after restart = %q (%v), want %d", w.HostIface, out, err, w.OFPort)
		}
	}
	// Documented behaviour: OpenFlow flows live in ovs-vswitchd only, so a
	// restart leaves a secure bridge empty until the controller re-adds them.
	flows := ofctl(t, o, "dump-flows", "br-int")
	t.Logf("flows after restart:\n%s", flows)
	if strings.Contains(flows, "actions=NORMAL") {
		t.Error("flows survived a vswitchd restart; update the RestartVswitchd doc")
	}
	if w1.ProbeTCP(dst, probeFail) {
		t.Fatal("TCP passed an empty secure bridge after restart")
	}
	ofctl(t, o, "add-flow", "br-int", "actions=NORMAL")
	if !w1.ProbeTCP(dst, probeOK) {
		t.Fatal("TCP failed after restart and re-adding flows")
	}
}

func TestTwoInstancesAtOnce(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	type inst struct {
		o      *sandbox.OVS
		w1, w2 *sandbox.Workload
	}
	insts := make([]inst, 2)
	for i := range insts {
		o, w1, w2 := pair(t, "10.0.0.1/24", "10.0.0.2/24") // same addresses: fully isolated
		listen(t, w2, 8080)
		ofctl(t, o, "add-flow", "br-int", "actions=NORMAL")
		insts[i] = inst{o, w1, w2}
	}
	if insts[0].o.NetNS == insts[1].o.NetNS {
		t.Fatal("two instances share a netns")
	}
	dst := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 8080)
	ok := make([]bool, len(insts))
	for i := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok[i] = insts[i].w1.ProbeTCP(dst, probeOK) && insts[i].w1.Ping(dst.Addr(), probeOK)
		}()
	}
	wg.Wait()
	for i := range ok {
		if !ok[i] {
			t.Errorf("instance %d: traffic failed", i)
		}
	}
	// Each bridge saw its own traffic only.
	for i, in := range insts {
		out := ofctl(t, in.o, "dump-flows", "br-int")
		if strings.Contains(out, "n_packets=0,") {
			t.Errorf("instance %d: NORMAL flow saw no packets: %s", i, out)
		}
	}
}

func TestStopCleansUp(t *testing.T) {
	t.Parallel()
	sandboxtest.Require(t)
	dir, err := os.MkdirTemp("", "fg")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	o, err := sandbox.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Stop()
	if err := o.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	w, err := o.AddWorkload("br0", "x", "x", mac(t, "0a:00:00:00:00:09"), netip.MustParsePrefix("192.168.7.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]string{}
	for _, d := range []string{"ovs-vswitchd", "ovsdb-server"} {
		b, err := os.ReadFile(filepath.Join(dir, d+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		pids[d] = strings.TrimSpace(string(b))
	}
	if err := o.Stop(); err != nil {
		t.Fatal(err)
	}
	for d, pid := range pids {
		// A zombie (not yet reaped by init) counts as gone.
		if b, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && strings.Contains(string(b), "("+d+")") && !strings.Contains(string(b), ") Z ") {
			t.Errorf("%s (pid %s) still running after Stop: %s", d, pid, b)
		}
	}
	for _, ns := range []string{o.NetNS, w.NetNS} {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("netns %s still exists after Stop", ns)
		}
	}
	if err := o.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := o.AddWorkload("br0", "y", "y", mac(t, "0a:00:00:00:00:0a")); err == nil {
		t.Fatal("AddWorkload after Stop succeeded")
	}
}

func TestStartReapsOrphans(t *testing.T) {
	t.Parallel()
	sandboxtest.Require(t)
	dir, err := os.MkdirTemp("", "fg")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	o, err := sandbox.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Stop()
	if err := o.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	w, err := o.AddWorkload("br0", "x", "x", mac(t, "0a:00:00:00:00:09"), netip.MustParsePrefix("192.168.7.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ovs-vswitchd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	// Pretend the owner died without Stop (a -timeout panic, SIGKILL).
	if err := o.OrphanForTest(); err != nil {
		t.Fatal(err)
	}
	sandboxtest.New(t) // any Start reaps
	if b, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
		t.Errorf("orphaned ovs-vswitchd %s still running: %s", pid, b)
	}
	for _, ns := range []string{o.NetNS, w.NetNS} {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("orphaned netns %s not reaped", ns)
		}
	}
	if err := o.Stop(); err != nil {
		t.Errorf("Stop after reaping: %v", err)
	}
}
