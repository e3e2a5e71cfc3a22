package integration

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// newCNIRunner gives a test a private OVS with br-int, the plugins built,
// and a runner with a fresh host-local state directory.
func newCNIRunner(t *testing.T, subnet, waitForAgent string) *cniRunner {
	t.Helper()
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	dir, err := cniBinDir()
	if err != nil {
		t.Fatal(err)
	}
	reapPodNetns()
	return &cniRunner{ovs: o, dir: dir, conf: cniConf(o, subnet, t.TempDir(), waitForAgent)}
}

func vsctl(t *testing.T, o *sandbox.OVS, args ...string) string {
	t.Helper()
	out, err := o.Vsctl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// TestK8sCNIAddCheckDel drives flowgate-cni as a runtime would, against
// real network namespaces and a private OVS: ADD attaches two pods (veth,
// host-local addresses, the port's identity in external_ids, checksum
// offload off on the userspace datapath) and TCP flows between them; CHECK
// passes, then fails when the port's identity is tampered with; DEL removes
// port, veth and address reservation, and succeeds again when repeated or
// when the namespace is already gone.
func TestK8sCNIAddCheckDel(t *testing.T) {
	r := newCNIRunner(t, "10.244.1.0/24", "0s")
	o := r.ovs
	a, err := r.add("shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.del(a) })
	b, err := r.add("shop", "client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.del(b) })
	if a.IP == b.IP || !netip.MustParsePrefix("10.244.1.0/24").Contains(a.IP) {
		t.Fatalf("host-local addresses %s and %s", a.IP, b.IP)
	}

	// The pod side: eth0 with the address and MAC the result names.
	out, err := a.Workload.Exec("ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil || !strings.Contains(out, a.IP.String()+"/24") {
		t.Fatalf("eth0 in %s: %v\n%s", a.NetNS, err, out)
	}
	out, _ = a.Workload.Exec("ip", "-o", "link", "show", "dev", "eth0")
	if !strings.Contains(out, a.MAC) {
		t.Fatalf("eth0 MAC is not %s: %s", a.MAC, out)
	}
	if out, err := a.Workload.Exec("ethtool", "-k", "eth0"); err != nil || !strings.Contains(out, "tx-checksumming: off") {
		t.Fatalf("TX checksum offload still on in the pod (userspace bridge): %v\n%s", err, out)
	}

	// The host side: a port on br-int carrying the pod's identity.
	ports := vsctl(t, o, "--columns=name,external_ids,ofport", "find", "Interface", `external_ids:iface-id="shop/web"`)
	if !strings.Contains(ports, `attached-mac="`+a.MAC+`"`) || strings.Contains(ports, "ofport              : -1") {
		t.Fatalf("OVS interface for shop/web:\n%s", ports)
	}

	// Real traffic between the two pods (NORMAL: no agent in this test).
	if _, err := o.Ofctl("add-flow", "br-int", "actions=NORMAL"); err != nil {
		t.Fatal(err)
	}
	ln, err := a.Workload.ListenTCP(8080)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !b.Workload.ProbeTCP(netip.AddrPortFrom(a.IP, 8080), 3*time.Second) {
		t.Fatal("shop/client cannot reach shop/web over the CNI-plumbed ports")
	}

	// A repeated ADD is refused and leaves the first attachment alone.
	if _, err := r.exec("ADD", a, nil); err == nil || !strings.Contains(err.Error(), "already attached") {
		t.Fatalf("second ADD: %v", err)
	}
	if !b.Workload.ProbeTCP(netip.AddrPortFrom(a.IP, 8080), 3*time.Second) {
		t.Fatal("a refused second ADD broke the first attachment")
	}

	// CHECK: passes as attached; fails once the identity is wrong.
	if _, err := r.exec("CHECK", a, r.withPrevResult(a.Result)); err != nil {
		t.Fatalf("CHECK of a healthy pod: %v", err)
	}
	host := vsctl(t, o, "--bare", "--columns=name", "find", "Interface", `external_ids:iface-id="shop/web"`)
	vsctl(t, o, "set", "Interface", host, `external_ids:iface-id="shop/other"`)
	if _, err := r.exec("CHECK", a, r.withPrevResult(a.Result)); err == nil || !strings.Contains(err.Error(), "iface-id") {
		t.Fatalf("CHECK with a tampered iface-id: %v", err)
	}
	vsctl(t, o, "set", "Interface", host, `external_ids:iface-id="shop/web"`)

	// DEL: port, veth and reservation gone; idempotent.
	state := filepath.Join(hostLocalDir(t, r), a.IP.String())
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("host-local has no reservation for %s: %v", a.IP, err)
	}
	if _, err := r.exec("DEL", a, nil); err != nil {
		t.Fatal(err)
	}
	if got := vsctl(t, o, "--bare", "--columns=name", "find", "Interface", `external_ids:iface-id="shop/web"`); got != "" {
		t.Fatalf("port %s still on the bridge after DEL", got)
	}
	if out, err := a.Workload.Exec("ip", "link", "show", "eth0"); err == nil {
		t.Fatalf("eth0 still in the pod after DEL: %s", out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("host-local reservation for %s kept after DEL: %v", a.IP, err)
	}
	if _, err := r.exec("DEL", a, nil); err != nil {
		t.Fatalf("second DEL: %v", err)
	}
	// The runtime may delete the namespace first.
	exec.Command("ip", "netns", "del", b.NetNS).Run()
	if _, err := r.exec("DEL", b, nil); err != nil {
		t.Fatalf("DEL after the netns is gone: %v", err)
	}
	if got := vsctl(t, o, "--bare", "--columns=name", "find", "Interface", `external_ids:iface-id="shop/client"`); got != "" {
		t.Fatalf("port %s still on the bridge after DEL", got)
	}
}

// TestK8sCNIWaitsForAgent: with waitForAgent set and no agent taking the
// port, ADD fails after the wait and leaves nothing behind (no port, no
// address reserved), so the runtime retries instead of starting a pod whose
// port no policy covers.
func TestK8sCNIWaitsForAgent(t *testing.T) {
	r := newCNIRunner(t, "10.244.2.0/24", "300ms")
	start := time.Now()
	_, err := r.add("shop", "web")
	if err == nil || !strings.Contains(err.Error(), "did not take port") {
		t.Fatalf("ADD without an agent: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("ADD gave up after %s, before waitForAgent", d)
	}
	if got := vsctl(t, r.ovs, "--bare", "--columns=name", "find", "Interface", `external_ids:iface-id="shop/web"`); got != "" {
		t.Fatalf("port %s left on the bridge by a failed ADD", got)
	}
	ents, _ := os.ReadDir(hostLocalDir(t, r))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "10.") {
			t.Fatalf("address %s left reserved by a failed ADD", e.Name())
		}
	}
}

// hostLocalDir is host-local's state directory for the network.
func hostLocalDir(t *testing.T, r *cniRunner) string {
	t.Helper()
	var c struct {
		IPAM struct {
			DataDir string `json:"dataDir"`
		} `json:"ipam"`
	}
	if err := jsonUnmarshal(r.conf, &c); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(c.IPAM.DataDir, "flowgate")
}
