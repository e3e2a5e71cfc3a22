// Command flowgate-cni is the CNI plugin that attaches Kubernetes pods to
// flowgate's integration bridge: ADD creates a veth pair, moves one end into
// the pod's network namespace as CNI_IFNAME with the addresses and routes of
// the chained IPAM plugin (host-local, say), and adds the other end to the
// bridge with external_ids:iface-id=<namespace>/<pod> and attached-mac —
// the identity the flowgate agent binds the pod's policy to. DEL undoes it
// (and may be repeated), CHECK verifies it, STATUS says whether the bridge
// is there. `flowgate-cni install` (the DaemonSet's init container) puts the
// plugin on a node and writes its configuration for the node's pod CIDRs.
//
// The pod is never reachable before the agent has taken its port: the agent
// holds (drops) the traffic of pod ports it has not realized, and ADD
// returns only once the bridge shows that the agent has taken this port (a
// table-0 flow for it, the hold or the pod's own), within waitForAgent.
//
// Ports are added with ovs-vsctl (flowgate's ovs/ovsdb package reads the
// database and manages the bridge, but has no port operations), in one
// transaction that creates the port and sets its external_ids together, so
// the agent never sees the port without its identity.
//
// Configuration (deploy/cni/10-flowgate.conflist):
//
//	{"type": "flowgate-cni", "bridge": "br-int", "ovsRunDir": "/var/run/openvswitch",
//	 "mtu": 1500, "waitForAgent": "10s", "ipam": {"type": "host-local", ...}}
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/ipam"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/flowgate/flowgate/ovs/netdev"
)

// buildVersion is set at build time (-ldflags -X main.buildVersion=...).
var buildVersion = "dev"

// netConf is the plugin's network configuration.
type netConf struct {
	types.NetConf
	// Bridge is the integration bridge the agent enforces on.
	Bridge string `json:"bridge"`
	// OVSRunDir holds db.sock and the bridge's management socket.
	OVSRunDir string `json:"ovsRunDir"`
	// OVSDB is the ovsdb-server address; default unix:<ovsRunDir>/db.sock.
	OVSDB string `json:"ovsdb"`
	// MTU of the pod interface; 0 keeps the kernel's default.
	MTU int `json:"mtu"`
	// WaitForAgent bounds how long ADD waits for the agent to take the
	// port ("0s": do not wait).
	WaitForAgent string `json:"waitForAgent"`

	waitForAgent time.Duration
}

// k8sArgs are the CNI_ARGS a Kubernetes runtime passes.
type k8sArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE          types.UnmarshallableString //nolint:revive // the CNI_ARGS names
	K8S_POD_NAME               types.UnmarshallableString //nolint:revive
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString //nolint:revive
	K8S_POD_UID                types.UnmarshallableString //nolint:revive
}

func loadConf(data []byte) (*netConf, error) {
	c := &netConf{Bridge: "br-int", OVSRunDir: "/var/run/openvswitch", WaitForAgent: "10s"}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("parse network configuration: %w", err)
	}
	if c.OVSDB == "" {
		c.OVSDB = "unix:" + filepath.Join(c.OVSRunDir, "db.sock")
	}
	d, err := time.ParseDuration(c.WaitForAgent)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("waitForAgent %q: want a duration such as \"10s\"", c.WaitForAgent)
	}
	c.waitForAgent = d
	if c.IPAM.Type == "" {
		return nil, errors.New("ipam.type is required (flowgate-cni takes its addresses from an IPAM plugin such as host-local)")
	}
	return c, nil
}

// podIdentity reads the pod's namespace and name from CNI_ARGS: the port's
// iface-id, which is how the agent knows whose port it is.
func podIdentity(args string) (string, error) {
	var a k8sArgs
	if err := types.LoadArgs(args, &a); err != nil {
		return "", fmt.Errorf("CNI_ARGS: %w", err)
	}
	ns, name := string(a.K8S_POD_NAMESPACE), string(a.K8S_POD_NAME)
	if ns == "" || name == "" {
		return "", errors.New("CNI_ARGS must carry K8S_POD_NAMESPACE and K8S_POD_NAME (flowgate-cni attaches Kubernetes pods)")
	}
	return ns + "/" + name, nil
}

// hostVethName is the host end's name: derived from the container and
// interface, so DEL finds it without state, and at most 15 bytes.
func hostVethName(containerID, ifname string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + ifname))
	return "fg" + hex.EncodeToString(sum[:])[:11]
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "install" && os.Getenv("CNI_COMMAND") == "" {
		if err := runInstall(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "flowgate-cni install:", err)
			os.Exit(1)
		}
		return
	}
	skel.PluginMainFuncs(skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, Status: cmdStatus},
		version.PluginSupports("0.4.0", "1.0.0", "1.1.0"), "flowgate-cni "+buildVersion)
}

func cmdAdd(args *skel.CmdArgs) (err error) {
	conf, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	ifaceID, err := podIdentity(args.Args)
	if err != nil {
		return err
	}
	o := newOVS(conf)
	dpType, err := o.bridgeDatapath()
	if err != nil {
		return err
	}
	netns, err := ns.GetNS(args.Netns)
	if err != nil {
		return fmt.Errorf("open netns %q: %w", args.Netns, err)
	}
	defer netns.Close()
	host := hostVethName(args.ContainerID, args.IfName)
	if _, err := net.InterfaceByName(host); err == nil {
		// A second ADD for the same container and interface: refuse it
		// without touching the first one's address, veth or port.
		return fmt.Errorf("container %s interface %s is already attached (host interface %s); DEL it first", args.ContainerID, args.IfName, host)
	}

	r, err := ipam.ExecAdd(conf.IPAM.Type, args.StdinData)
	if err != nil {
		return fmt.Errorf("IPAM plugin %s: %w", conf.IPAM.Type, err)
	}
	defer func() {
		if err != nil { // leave nothing behind: addresses, port, veth
			_ = ipam.ExecDel(conf.IPAM.Type, args.StdinData)
			_ = o.delPort(host)
			_ = netns.Do(func(ns.NetNS) error { return ip.DelLinkByName(args.IfName) })
		}
	}()
	result, err := current.NewResultFromResult(r)
	if err != nil {
		return fmt.Errorf("IPAM result: %w", err)
	}
	if len(result.IPs) == 0 {
		return errors.New("IPAM plugin returned no addresses")
	}

	hostNS, err := ns.GetCurrentNS()
	if err != nil {
		return fmt.Errorf("open the host netns: %w", err)
	}
	defer hostNS.Close()
	var hostIface, contIface net.Interface
	err = netns.Do(func(ns.NetNS) error {
		var err error
		hostIface, contIface, err = ip.SetupVethWithName(args.IfName, host, conf.MTU, "", hostNS)
		if err != nil {
			return fmt.Errorf("create veth %s/%s: %w", args.IfName, host, err)
		}
		for _, ipc := range result.IPs {
			ipc.Interface = current.Int(1)
		}
		result.Interfaces = []*current.Interface{
			{Name: hostIface.Name, Mac: hostIface.HardwareAddr.String()},
			{Name: contIface.Name, Mac: contIface.HardwareAddr.String(), Sandbox: args.Netns},
		}
		if err := ipam.ConfigureIface(args.IfName, result); err != nil {
			return fmt.Errorf("configure %s: %w", args.IfName, err)
		}
		if dpType == "netdev" {
			// The userspace datapath's conntrack marks packets whose L4
			// checksum veth left to offload as invalid: compute it here.
			if err := netdev.SetTxChecksum(args.IfName, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	ofport, err := o.addPort(host, ifaceID, contIface.HardwareAddr.String(), args.ContainerID, args.IfName)
	if err != nil {
		return err
	}
	if conf.waitForAgent > 0 {
		if err := o.waitTaken(ofport, conf.waitForAgent); err != nil {
			return err
		}
	}
	return types.PrintResult(result, conf.CNIVersion)
}

func cmdDel(args *skel.CmdArgs) error {
	conf, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	var errs []error
	if err := ipam.ExecDel(conf.IPAM.Type, args.StdinData); err != nil {
		errs = append(errs, fmt.Errorf("IPAM plugin %s: %w", conf.IPAM.Type, err))
	}
	host := hostVethName(args.ContainerID, args.IfName)
	o := newOVS(conf)
	if err := o.delPort(host); err != nil {
		errs = append(errs, err)
	}
	// Deleting either end of a veth deletes both. The netns may already be
	// gone (and the veth with it): that is success.
	if args.Netns != "" {
		err := ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
			if err := ip.DelLinkByName(args.IfName); err != nil && !errors.Is(err, ip.ErrLinkNotFound) {
				return fmt.Errorf("delete %s: %w", args.IfName, err)
			}
			return nil
		})
		var nsErr ns.NSPathNotExistErr
		if err != nil && !errors.As(err, &nsErr) {
			errs = append(errs, err)
		}
	}
	if err := ip.DelLinkByName(host); err != nil && !errors.Is(err, ip.ErrLinkNotFound) {
		errs = append(errs, fmt.Errorf("delete %s: %w", host, err))
	}
	return errors.Join(errs...)
}

func cmdCheck(args *skel.CmdArgs) error {
	conf, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	ifaceID, err := podIdentity(args.Args)
	if err != nil {
		return err
	}
	if err := version.ParsePrevResult(&conf.NetConf); err != nil {
		return fmt.Errorf("prevResult: %w", err)
	}
	if conf.PrevResult == nil {
		return errors.New("CHECK needs prevResult")
	}
	prev, err := current.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return fmt.Errorf("prevResult: %w", err)
	}
	if err := ipam.ExecCheck(conf.IPAM.Type, args.StdinData); err != nil {
		return fmt.Errorf("IPAM plugin %s: %w", conf.IPAM.Type, err)
	}
	var mac string
	for _, i := range prev.Interfaces {
		if i.Sandbox != "" && i.Name == args.IfName {
			mac = i.Mac
		}
	}
	if mac == "" {
		return fmt.Errorf("prevResult has no interface %s in a sandbox", args.IfName)
	}
	err = ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		l, err := net.InterfaceByName(args.IfName)
		if err != nil {
			return fmt.Errorf("interface %s: %w", args.IfName, err)
		}
		if l.HardwareAddr.String() != mac {
			return fmt.Errorf("interface %s has MAC %s, prevResult says %s", args.IfName, l.HardwareAddr, mac)
		}
		if err := ip.ValidateExpectedInterfaceIPs(args.IfName, prev.IPs); err != nil {
			return err
		}
		return ip.ValidateExpectedRoute(prev.Routes)
	})
	if err != nil {
		return err
	}
	return newOVS(conf).checkPort(hostVethName(args.ContainerID, args.IfName), ifaceID, mac)
}

func cmdStatus(args *skel.CmdArgs) error {
	conf, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	if _, err := newOVS(conf).bridgeDatapath(); err != nil {
		return err
	}
	return nil
}

// trimOutput shortens command output for error messages.
func trimOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

func init() {
	// The plugin may run with a minimal PATH (kubelet, containerd).
	if !strings.Contains(os.Getenv("PATH"), "/usr/bin") {
		os.Setenv("PATH", os.Getenv("PATH")+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
}
