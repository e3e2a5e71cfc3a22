package integration

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// interplayWorld: vm-a has an address pair of all addresses with a MAC of
// its own (a MAC member of app == 'a'); vm-b admits TCP 80 from app == 'a'
// and nothing else; vm-a may send anything.
const interplayWorld = `
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: vm-a
  namespace: t
  labels: {app: a, neutron.openstack.org/network: n1, neutron.openstack.org/port-security: enabled}
  annotations: {neutron.openstack.org/allowed-address-pairs: "0.0.0.0/0@fa:16:3e:00:00:aa"}
spec: {node: local, interfaceName: tapa, mac: "fa:16:3e:00:00:01", ipNetworks: [10.0.0.1/32]}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: vm-b
  namespace: t
  labels: {app: b, neutron.openstack.org/network: n1, neutron.openstack.org/port-security: enabled}
spec: {node: local, interfaceName: tapb, mac: "fa:16:3e:00:00:02", ipNetworks: [10.0.0.2/32]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: b-in, namespace: t}
spec:
  selector: app == 'b'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: TCP, source: {selector: app == 'a'}, destination: {ports: [80]}}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-out, namespace: t}
spec:
  selector: app == 'a'
  types: [Egress]
  egress:
  - {action: Allow}
`

// compileInterplay compiles interplayWorld with every endpoint local: the
// bridge's flows (placed by shared, when it is not nil).
func compileInterplay(t *testing.T, est compiler.Established, shared *compiler.Shared) (map[string]compiler.Binding, []compiler.Flow) {
	t.Helper()
	objs, errs := decode.Decode("interplay.yaml", []byte(interplayWorld))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w, errs := decode.Build(objs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	locals := compiler.AllLocal(w, "local")
	c, errs := compiler.New(w, compiler.Options{Locals: locals, Established: est, Shared: shared,
		FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return locals, c.BridgeFlows(nil)
}

// TestCutReplyOfPairMACConnection: in cut mode, vm-a opens TCP to vm-b:80
// from its address pair's MAC and an address only the pair (0.0.0.0/0)
// gives it — allowed because vm-a is a MAC member of app == 'a'. vm-b's
// reply to that MAC is re-checked on a clone; the clone must be vm-a's
// packet (reg0 = vm-a's port from the pair MAC, source MAC the pair's),
// so the re-check allows it and the connection is not marked cut.
func TestCutReplyOfPairMACConnection(t *testing.T) {
	o := sandboxTraceBridge(t)
	locals, flows := compileInterplay(t, compiler.EstablishedCut, nil)
	if err := ReplaceFlows(o, "br-int", flows); err != nil {
		t.Fatal(err)
	}
	a, b := locals["t/vm-a"], locals["t/vm-b"]
	// The initiator's own packet, new and established, is allowed.
	req := "in_port=" + itoa(a.OFPort) + ",tcp,dl_src=fa:16:3e:00:00:aa,dl_dst=" + b.MAC.String() +
		",nw_src=10.9.9.9,nw_dst=10.0.0.2,tcp_src=40000,tcp_dst=80"
	for _, next := range []string{"trk,new", "trk,est"} {
		out, err := o.Appctl("ofproto/trace", "br-int", req+",ct_mark=0x1", "--ct-next", next)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !delivers(out) || strings.Contains(out, "0x2/0x2->ct_mark") && strings.Contains(datapathActions(out), "ct(commit") {
			t.Fatalf("vm-a's %s packet from its pair MAC not delivered:\n%s", next, out)
		}
	}
	reply := "in_port=" + itoa(b.OFPort) + ",tcp,dl_src=" + b.MAC.String() + ",dl_dst=fa:16:3e:00:00:aa" +
		",nw_src=10.0.0.2,nw_dst=10.9.9.9,tcp_src=80,tcp_dst=40000,ct_mark=0x1,ct_state=trk|est|rpl" +
		",ct_nw_proto=6,ct_nw_src=10.9.9.9,ct_nw_dst=10.0.0.2,ct_tp_src=40000,ct_tp_dst=80"
	out, err := o.Appctl("ofproto/trace", "br-int", reply, "--ct-next", "trk,est,rpl")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !delivers(out) {
		t.Fatalf("vm-b's reply not delivered:\n%s", out)
	}
	if strings.Contains(datapathActions(out), "ct(commit") {
		t.Errorf("vm-b's reply to vm-a's pair MAC marks the allowed connection cut:\n%s", out)
	}
	// Control: a reply to a connection the policy denies (port 81) is cut.
	denied := strings.ReplaceAll(strings.ReplaceAll(reply, "tcp_src=80", "tcp_src=81"), "ct_tp_dst=80", "ct_tp_dst=81")
	out, err = o.Appctl("ofproto/trace", "br-int", denied, "--ct-next", "trk,est,rpl")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(datapathActions(out), "ct(commit") {
		t.Errorf("a reply of a denied connection does not mark it cut:\n%s", out)
	}
}

// TestSharedEntryPairMAC: on a shared bridge, traffic from beyond the host
// (the uplink) to vm-a's address-pair MAC enters flowgate and meets vm-a's
// ingress policy (default deny), as traffic to its own MAC does.
func TestSharedEntryPairMAC(t *testing.T) {
	o := sandboxTraceBridge(t)
	shared := compiler.DefaultShared()
	_, flows := compileInterplay(t, compiler.EstablishedSurvive, &shared)
	flows = slices.Concat(neutronBase(), flows)
	if err := ReplaceFlows(o, "br-int", flows); err != nil {
		t.Fatal(err)
	}
	for _, mac := range []string{"fa:16:3e:00:00:01", "fa:16:3e:00:00:aa"} {
		pkt := "in_port=" + itoa(uplinkPort) + ",tcp,dl_src=02:aa:00:00:00:01,dl_dst=" + mac +
			",nw_src=192.168.7.7,nw_dst=10.0.0.1,tcp_src=40000,tcp_dst=80"
		got, out, err := Trace(o, "br-int", pkt)
		if err != nil {
			t.Fatal(err)
		}
		if got {
			t.Errorf("uplink -> vm-a at %s: delivered past vm-a's default deny\n%s", mac, out)
		}
	}
}

func itoa[T ~uint32 | ~int](v T) string { return strconv.Itoa(int(v)) }

// datapathActions is the last "Datapath actions:" line of a trace.
func datapathActions(trace string) string {
	last := ""
	for _, line := range strings.Split(trace, "\n") {
		if strings.HasPrefix(line, "Datapath actions:") {
			last = line
		}
	}
	return last
}

// untrackedLogWorld: vm-s is stateless (untracked); its ingress policy
// logs, then allows, TCP 80.
const untrackedLogWorld = `
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: vm-s
  namespace: t
  labels: {app: s, neutron.openstack.org/stateful: "false"}
spec: {node: local, interfaceName: taps, mac: "fa:16:3e:00:00:05", ipNetworks: [10.0.0.5/32]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: s-in, namespace: t}
spec:
  selector: app == 's'
  types: [Ingress]
  ingress:
  - {action: Log, protocol: TCP}
  - {action: Allow, protocol: TCP, destination: {ports: [80]}}
`

// TestCutLogsUntrackedPackets: an untracked endpoint's packets are each
// decided alone, never tracked, so in every mode its Log rules log them
// (the cut modes keep re-checks of tracked connections from logging, not
// packets that have no connection).
func TestCutLogsUntrackedPackets(t *testing.T) {
	o := sandboxTraceBridge(t)
	objs, errs := decode.Decode("untracked-log.yaml", []byte(untrackedLogWorld))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w, errs := decode.Build(objs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	locals := compiler.AllLocal(w, "local")
	s := locals["t/vm-s"]
	pkt := "in_port=" + itoa(uplinkPort) + ",tcp,dl_src=02:aa:00:00:00:01,dl_dst=" + s.MAC.String() +
		",nw_src=192.168.7.7,nw_dst=10.0.0.5,tcp_src=40000,tcp_dst=80"
	for _, est := range []compiler.Established{compiler.EstablishedSurvive, compiler.EstablishedCut, compiler.EstablishedCutInitiator} {
		c, errs := compiler.New(w, compiler.Options{Locals: locals, Established: est})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if err := ReplaceFlows(o, "br-int", c.BridgeFlows(nil)); err != nil {
			t.Fatal(err)
		}
		got, out, err := Trace(o, "br-int", pkt)
		if err != nil {
			t.Fatal(err)
		}
		if !got || !strings.Contains(out, "controller(") {
			t.Errorf("%s: a packet to the untracked vm-s:80: delivered %v, logged %v (want both)\n%s", est, got, strings.Contains(out, "controller("), out)
		}
	}
}
