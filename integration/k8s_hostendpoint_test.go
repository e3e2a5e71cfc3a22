package integration

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

const (
	autoHEPNode   = "hep-node-1"
	autoHEPHostIP = "192.168.77.10" // the node's InternalIP, on br-int's LOCAL port
	autoHEPCliIP  = "192.168.77.20"
	autoHEPHost2  = "192.168.77.30" // a second host interface, an explicit HostEndpoint
)

// denyWorkers is a GlobalNetworkPolicy selecting nodes by a Node label.
const denyWorkers = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-workers}
spec:
  selector: role == 'worker'
  types: [Ingress, Egress]
  ingress: [{action: Deny}]
  egress: [{action: Deny}]
`

// TestK8sAutoHostEndpoints: with kubernetes.autoHostEndpoints, the agent
// protects its node as Calico's automatic host endpoints would, on a real
// API server with real traffic. The node's host is the OVS namespace
// itself, reached through br-int's internal port (LOCAL) at the Node's
// InternalIP; the client is a machine beyond the uplink (a port that is no
// endpoint). A second host interface on its own port is declared with an
// explicit HostEndpoint object, which must keep working beside them.
//
//   - No policy: the automatic host endpoint has the default-allow profile,
//     so the node keeps all its traffic (while the explicit one, without
//     that profile, is default-deny but for the failsafes).
//   - A GlobalNetworkPolicy selecting role == 'worker' (a Node label):
//     denied but for the failsafe ports (SSH in, etcd out).
//   - kubectl label node role=db: no longer selected, allowed again; back
//     to role=worker: denied again. Deleting the explicit HostEndpoint
//     leaves its interface unfiltered.
func TestK8sAutoHostEndpoints(t *testing.T) {
	sandboxtest.Require(t)
	c := startK8s(t)
	c.install(t)
	c.kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %s
  labels: {role: worker, kubernetes.io/hostname: %s}
`, autoHEPNode, autoHEPNode), "apply", "-f", "-")
	patch := fmt.Sprintf(`{"status":{"addresses":[{"type":"InternalIP","address":%q},{"type":"Hostname","address":%q}]}}`, autoHEPHostIP, autoHEPNode)
	if _, err := c.client.CoreV1().Nodes().Patch(context.Background(), autoHEPNode, types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}

	n := newK8sNode(t, c, autoHEPNode)
	o := n.ovs
	// The host: the OVS namespace, addressed on br-int's internal port.
	for _, args := range [][]string{
		{"sysctl", "-qw", "net.ipv6.conf.br-int.disable_ipv6=1"},
		{"ip", "addr", "add", autoHEPHostIP + "/24", "dev", "br-int"},
		{"ip", "link", "set", "br-int", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", o.NetNS}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	host := &sandbox.Workload{Name: "node-host", NetNS: o.NetNS}
	client, err := o.AddWorkload("br-int", "client", "not-an-endpoint-client", net.HardwareAddr{0x02, 0xfd, 0x77, 0, 0, 20}, netip.MustParsePrefix(autoHEPCliIP+"/24"))
	if err != nil {
		t.Fatal(err)
	}
	host2, err := o.AddWorkload("br-int", "host2", "not-an-endpoint-host2", net.HardwareAddr{0x02, 0xfd, 0x77, 0, 0, 30}, netip.MustParsePrefix(autoHEPHost2+"/24"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.RemoveWorkload(client); o.RemoveWorkload(host2) })
	for _, l := range []struct {
		w    *sandbox.Workload
		port int
	}{{host, 22}, {host, 80}, {host2, 22}, {host2, 80}, {client, 2379}, {client, 80}} {
		ln, err := l.w.ListenTCP(l.port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	cli := netip.MustParseAddr(autoHEPCliIP)
	node := &hostScene{o: o, host: host, client: client, hostIP: netip.MustParseAddr(autoHEPHostIP), cliIP: cli}
	other := &hostScene{o: o, host: host2, client: client, hostIP: netip.MustParseAddr(autoHEPHost2), cliIP: cli}
	c.kubectl(t, fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: %s-eth1
  labels: {role: worker}
spec:
  node: %s
  interfaceName: %s
  expectedIPs: [%s]
`, autoHEPNode, autoHEPNode, host2.HostIface, autoHEPHost2), "apply", "-f", "-")

	n.autoHEP = true
	n.startAgent(t)
	waitFor(t, "the automatic host endpoint on LOCAL", 30*time.Second, func() bool {
		return strings.Contains(dumpFlows(t, n, "table=0"), "in_port=LOCAL")
	})
	node.expect(t, "auto host endpoint, no policy: default-allow profile", map[int]bool{22: true, 80: true}, map[int]bool{80: true, 2379: true})
	other.expect(t, "explicit host endpoint, no policy: default deny but failsafes", map[int]bool{22: true, 80: false}, map[int]bool{2379: true, 80: false})

	c.kubectl(t, denyWorkers, "apply", "-f", "-")
	node.expect(t, "deny role == 'worker'", map[int]bool{22: true, 80: false}, map[int]bool{2379: true, 80: false})

	c.kubectl(t, "", "label", "node", autoHEPNode, "role=db", "--overwrite")
	node.expect(t, "node relabelled role=db: not selected", map[int]bool{22: true, 80: true}, map[int]bool{80: true, 2379: true})
	other.expect(t, "the explicit host endpoint keeps its own labels", map[int]bool{22: true, 80: false}, map[int]bool{2379: true, 80: false})

	c.kubectl(t, "", "label", "node", autoHEPNode, "role=worker", "--overwrite")
	node.expect(t, "node relabelled role=worker: selected again", map[int]bool{22: true, 80: false}, map[int]bool{2379: true, 80: false})

	c.kubectl(t, "", "delete", "hostendpoints.projectcalico.org", autoHEPNode+"-eth1")
	other.expect(t, "explicit host endpoint deleted: unfiltered", map[int]bool{22: true, 80: true}, map[int]bool{80: true})
	node.expect(t, "the node is still denied", map[int]bool{22: true, 80: false}, map[int]bool{2379: true, 80: false})
}
