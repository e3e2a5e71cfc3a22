package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ovs runs ovs-vsctl and ovs-ofctl against one bridge.
type ovs struct {
	bridge string
	db     string
	mgmt   string // the bridge's OpenFlow management socket
}

func newOVS(c *netConf) *ovs {
	return &ovs{
		bridge: c.Bridge,
		db:     c.OVSDB,
		mgmt:   "unix:" + filepath.Join(c.OVSRunDir, c.Bridge+".mgmt"),
	}
}

// cmdTimeout bounds every ovs-* command: a wedged ovsdb-server must fail
// the CNI call, which the runtime retries, not hang the pod's creation.
const cmdTimeout = 15 * time.Second

func (o *ovs) vsctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	full := append([]string{"--db=" + o.db, "--timeout=10"}, args...)
	out, err := exec.CommandContext(ctx, "ovs-vsctl", full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ovs-vsctl %s: %w: %s", strings.Join(args, " "), err, trimOutput(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// bridgeDatapath returns the bridge's datapath type ("system", "netdev"),
// failing if the bridge does not exist: the agent creates it, so a missing
// bridge means no agent, and a pod attached to nothing would be worse than
// a pod that waits.
func (o *ovs) bridgeDatapath() (string, error) {
	out, err := o.vsctl("--if-exists", "get", "Bridge", o.bridge, "datapath_type")
	if err != nil {
		return "", err
	}
	if out == "" {
		return "", fmt.Errorf("bridge %s does not exist (is the flowgate agent running on this node?)", o.bridge)
	}
	return strings.Trim(out, `"`), nil
}

// addPort adds the host end of the pod's veth to the bridge with the pod's
// identity, in one transaction, and returns its OpenFlow port once
// ovs-vswitchd has assigned it.
func (o *ovs) addPort(name, ifaceID, mac, containerID, ifname string) (int, error) {
	q := func(s string) string { return strconv.Quote(s) }
	_, err := o.vsctl("--", "--may-exist", "add-port", o.bridge, name,
		"--", "set", "Interface", name,
		"external_ids:iface-id="+q(ifaceID),
		"external_ids:attached-mac="+q(mac),
		"external_ids:iface-status=active",
		"external_ids:flowgate-cni-container="+q(containerID),
		"external_ids:flowgate-cni-ifname="+q(ifname))
	if err != nil {
		return 0, err
	}
	out, err := o.vsctl("get", "Interface", name, "ofport")
	if err != nil {
		return 0, err
	}
	ofport, err := strconv.Atoi(out)
	if err != nil || ofport <= 0 {
		errText, _ := o.vsctl("--if-exists", "get", "Interface", name, "error")
		return 0, fmt.Errorf("port %s on %s has no OpenFlow port (ofport %q): %s", name, o.bridge, out, errText)
	}
	return ofport, nil
}

// delPort removes the port; a missing port is not an error.
func (o *ovs) delPort(name string) error {
	_, err := o.vsctl("--if-exists", "del-port", o.bridge, name)
	return err
}

// checkPort verifies that the port is on the bridge, usable, and carries
// the pod's identity.
func (o *ovs) checkPort(name, ifaceID, mac string) error {
	br, err := o.vsctl("port-to-br", name)
	if err != nil {
		return fmt.Errorf("port %s: %w", name, err)
	}
	if br != o.bridge {
		return fmt.Errorf("port %s is on bridge %s, not %s", name, br, o.bridge)
	}
	for key, want := range map[string]string{"iface-id": ifaceID, "attached-mac": mac} {
		got, err := o.vsctl("--if-exists", "get", "Interface", name, "external_ids:"+key)
		if err != nil {
			return err
		}
		if got = strings.Trim(got, `"`); got != want {
			return fmt.Errorf("port %s: external_ids:%s is %q, want %q", name, key, got, want)
		}
	}
	out, err := o.vsctl("get", "Interface", name, "ofport")
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(out); err != nil || n <= 0 {
		return fmt.Errorf("port %s has no OpenFlow port (ofport %s)", name, out)
	}
	return nil
}

// waitTaken waits until the agent has taken the port: a flow in table 0
// (classify) matches it — the hold that drops its traffic until the pod is
// realized, or the pod's own flows. Before that the port would be, to the
// pipeline, an unknown port whose traffic skips policy, so ADD must not
// return (and the pod's containers must not start) earlier.
func (o *ovs) waitTaken(ofport int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	filter := fmt.Sprintf("table=0,in_port=%d", ofport)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		out, err := exec.CommandContext(ctx, "ovs-ofctl", "--no-names", "-O", "OpenFlow13", "dump-flows", o.mgmt, filter).CombinedOutput()
		cancel()
		if err == nil && strings.Contains(string(out), "in_port="+strconv.Itoa(ofport)) {
			return nil
		}
		if err != nil {
			last = trimOutput(out)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the flowgate agent did not take port %d of %s within %s (is it running? %s)", ofport, o.bridge, timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
