package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/flowgate/flowgate/ovs/netdev"
)

// Workload stands in for a pod or VM: a network namespace whose only
// interface, eth0, is one end of a veth pair whose other end is an OVS port.
// Everything it sends goes through the bridge, ARP and ND included.
type Workload struct {
	// Name is the caller's name for the workload, unique per OVS instance.
	Name string
	// NetNS is the named network namespace (`ip netns exec NetNS ...`).
	NetNS string
	// HostIface is the veth end in the OVS namespace and also the OVS port
	// and interface name.
	HostIface string
	// Bridge is the bridge the port was added to.
	Bridge string
	// MAC is eth0's address, also published as external_ids:attached-mac.
	MAC net.HardwareAddr
	// IPs are eth0's addresses.
	IPs []netip.Prefix
	// OFPort is the OpenFlow port number OVS assigned to HostIface.
	OFPort int

	ovs *OVS
}

// validName keeps workload names usable in namespace and interface names.
var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// AddWorkload creates a workload namespace attached to bridge, the way a CNI
// plugin would attach a pod: the port carries external_ids:iface-id=ifaceID
// and external_ids:attached-mac=mac, which is what an agent keys on. An
// empty ifaceID leaves iface-id out: a machine beyond an uplink, which is
// no workload (flowgate holds a port whose iface-id names no endpoint).
// Inside, eth0 has mac and ips, lo is up, each address family present has a
// default route on-link via eth0 (so even off-subnet traffic is ARPed/NDed
// on the bridge), IPv6 is disabled when no IPv6 address is given (no
// RS/ND noise), DAD is off (addresses usable at once), and TX checksum
// offload is off so the userspace datapath's conntrack sees valid checksums.
// No static neighbours are installed.
func (o *OVS) AddWorkload(bridge, name, ifaceID string, mac net.HardwareAddr, ips ...netip.Prefix) (*Workload, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("sandbox: workload name %q: want 1-32 of [A-Za-z0-9_.-]", name)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("sandbox: workload %s: MAC %v is not an Ethernet address", name, mac)
	}
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		return nil, fmt.Errorf("sandbox: workload %s: instance stopped", name)
	}
	if _, dup := o.workloads[name]; dup {
		o.mu.Unlock()
		return nil, fmt.Errorf("sandbox: workload %s already exists", name)
	}
	o.seq++
	host := fmt.Sprintf("w%d-%s", o.seq, name)
	if len(host) > unix.IFNAMSIZ-1 {
		host = host[:unix.IFNAMSIZ-1]
	}
	w := &Workload{
		Name:      name,
		NetNS:     wlNSPrefix(o.id) + name,
		HostIface: host,
		Bridge:    bridge,
		MAC:       append(net.HardwareAddr(nil), mac...),
		IPs:       append([]netip.Prefix(nil), ips...),
		ovs:       o,
	}
	o.workloads[name] = w // reserve the name; removed again on failure
	o.mu.Unlock()

	if err := o.addWorkload(w, ifaceID); err != nil {
		o.mu.Lock()
		delete(o.workloads, name)
		o.mu.Unlock()
		_, _ = o.Vsctl("--if-exists", "del-port", bridge, host)
		return nil, errors.Join(fmt.Errorf("sandbox: add workload %s: %w", name, err), deleteNS(w.NetNS))
	}
	return w, nil
}

// addWorkload does the plumbing for AddWorkload.
func (o *OVS) addWorkload(w *Workload, ifaceID string) error {
	var has4, has6 bool
	for _, p := range w.IPs {
		if p.Addr().Is4() {
			has4 = true
		} else {
			has6 = true
		}
	}
	// Sysctls for interfaces that do not exist yet go to "default" before
	// the veth appears; "all" covers lo.
	err := createNS(w.NetNS, func() error {
		if !has6 {
			return errors.Join(
				writeSysctl("net.ipv6.conf.all.disable_ipv6", "1"),
				writeSysctl("net.ipv6.conf.default.disable_ipv6", "1"))
		}
		return errors.Join(
			writeSysctl("net.ipv6.conf.all.accept_dad", "0"),
			writeSysctl("net.ipv6.conf.default.accept_dad", "0"),
			writeSysctl("net.ipv6.conf.default.router_solicitations", "0"))
	})
	if err != nil {
		return err
	}

	ovsNS, err := netns.GetFromPath(nsPath(o.NetNS))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", o.NetNS, err)
	}
	defer ovsNS.Close()
	wlNS, err := netns.GetFromPath(nsPath(w.NetNS))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", w.NetNS, err)
	}
	defer wlNS.Close()

	hOVS, err := netlink.NewHandleAt(ovsNS, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", o.NetNS, err)
	}
	defer hOVS.Close()
	// The pair is created in the OVS namespace with its peer born directly
	// in the workload namespace, so neither name ever has to be unique in
	// the caller's namespace.
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: w.HostIface},
		PeerName:         "eth0",
		PeerHardwareAddr: w.MAC,
		PeerNamespace:    netlink.NsFd(int(wlNS)),
	}
	if err := hOVS.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s/eth0: %w", w.HostIface, err)
	}
	hostLink, err := hOVS.LinkByName(w.HostIface)
	if err != nil {
		return fmt.Errorf("find %s: %w", w.HostIface, err)
	}
	if err := hOVS.LinkSetUp(hostLink); err != nil {
		return fmt.Errorf("set %s up: %w", w.HostIface, err)
	}

	hWL, err := netlink.NewHandleAt(wlNS, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", w.NetNS, err)
	}
	defer hWL.Close()
	eth0, err := hWL.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0: %w", err)
	}
	if err := inNS(w.NetNS, func() error { return netdev.SetTxChecksum("eth0", false) }); err != nil {
		return fmt.Errorf("turn off tx checksum offload: %w", err)
	}
	if err := hWL.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("set eth0 up: %w", err)
	}
	for _, p := range w.IPs {
		a := &netlink.Addr{IPNet: prefixToIPNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := hWL.AddrAdd(eth0, a); err != nil {
			return fmt.Errorf("add address %s to eth0: %w", p, err)
		}
	}
	if has4 {
		if err := hWL.RouteAdd(&netlink.Route{
			LinkIndex: eth0.Attrs().Index,
			Scope:     netlink.SCOPE_LINK,
			Dst:       &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
		}); err != nil {
			return fmt.Errorf("add IPv4 default route: %w", err)
		}
	}
	if has6 {
		if err := hWL.RouteAdd(&netlink.Route{
			LinkIndex: eth0.Attrs().Index,
			Dst:       &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		}); err != nil {
			return fmt.Errorf("add IPv6 default route: %w", err)
		}
	}

	ids := []string{"external_ids:attached-mac=" + w.MAC.String()}
	if ifaceID != "" {
		ids = append(ids, "external_ids:iface-id="+ifaceID)
	}
	if _, err := o.Vsctl(append([]string{"add-port", w.Bridge, w.HostIface,
		"--", "set", "Interface", w.HostIface}, ids...)...); err != nil {
		return err
	}
	port, err := o.ofport(w.HostIface)
	if err != nil {
		return err
	}
	w.OFPort = port
	return nil
}

// ofport reads the OpenFlow port number of iface, polling briefly because
// ovs-vswitchd fills it in asynchronously.
func (o *OVS) ofport(iface string) (int, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := o.Vsctl("--no-wait", "get", "Interface", iface, "ofport")
		if err != nil {
			return 0, err
		}
		s := strings.TrimSpace(out)
		if n, perr := strconv.Atoi(s); perr == nil && n > 0 {
			return n, nil
		}
		if time.Now().After(deadline) {
			msg, _ := o.Vsctl("--no-wait", "get", "Interface", iface, "error")
			return 0, fmt.Errorf("interface %s has ofport %q: %s", iface, s, strings.TrimSpace(msg))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// prefixToIPNet converts a prefix keeping the host bits, as an interface
// address needs them.
func prefixToIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	bits := 32
	if a.Is6() && !a.Is4In6() {
		bits = 128
	}
	a = a.Unmap()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}

// RemoveWorkload deletes the workload's OVS port and namespace, like a pod
// being deleted. Removing an already removed workload is not an error.
func (o *OVS) RemoveWorkload(w *Workload) error {
	o.mu.Lock()
	cur, ok := o.workloads[w.Name]
	if ok && cur == w {
		delete(o.workloads, w.Name)
	}
	stopped := o.stopped
	o.mu.Unlock()
	if stopped {
		return nil
	}
	var errs []error
	if _, err := o.Vsctl("--if-exists", "del-port", w.Bridge, w.HostIface); err != nil {
		errs = append(errs, err)
	}
	if err := deleteNS(w.NetNS); err != nil {
		errs = append(errs, err)
	}
	// The workload namespace may live on (a socket of ours still in it), so
	// delete the host end too: that takes eth0 with it.
	if h, err := netns.GetFromPath(nsPath(o.NetNS)); err == nil {
		if nh, err := netlink.NewHandleAt(h, unix.NETLINK_ROUTE); err == nil {
			if l, err := nh.LinkByName(w.HostIface); err == nil {
				// The namespace's deletion may destroy the pair between the
				// lookup and the delete: a vanished link is what we want.
				if err := nh.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
					errs = append(errs, fmt.Errorf("delete %s: %w", w.HostIface, err))
				}
			}
			nh.Close()
		}
		h.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sandbox: remove workload %s: %w", w.Name, err)
	}
	return nil
}

// Exec runs a command inside the workload's namespace (`ip netns exec`),
// for the odd check no probe covers (ip neigh, ss, tcpdump). It returns
// stdout; the error carries stderr. It is bounded by a 2-minute timeout.
func (w *Workload) Exec(name string, args ...string) (string, error) {
	ip, err := LookBin("ip")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ip, append([]string{"netns", "exec", w.NetNS, name}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("sandbox: %s: %s %s: %w: %s", w.Name, name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
