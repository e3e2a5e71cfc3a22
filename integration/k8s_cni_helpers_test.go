package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// This file runs flowgate-cni the way a container runtime does: the binary
// is executed with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME,
// CNI_ARGS and CNI_PATH in its environment and the network configuration
// on stdin, inside the "host" network namespace — here the private OVS's
// namespace, where the userspace datapath can open the host end of the
// veth. The IPAM plugin is host-local, built from containernetworking/plugins
// at the version go.mod pins.

var (
	cniOnce    sync.Once
	cniDir     string
	cniErr     error
	podNSCount atomic.Int64
)

// cniBinDir builds flowgate-cni and host-local into one directory, once per
// test binary: the CNI_PATH of every runner.
func cniBinDir() (string, error) {
	cniOnce.Do(func() {
		// Beside the flowgate binary: TestMain removes that directory.
		dir := filepath.Join(filepath.Dir(flowgateBin), "cni")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			cniErr = err
			return
		}
		for _, pkg := range []string{
			"github.com/flowgate/flowgate/cmd/flowgate-cni",
			"github.com/containernetworking/plugins/plugins/ipam/host-local",
		} {
			out, err := exec.Command("go", "build", "-o", dir+"/", pkg).CombinedOutput()
			if err != nil {
				cniErr = fmt.Errorf("build %s: %w\n%s", pkg, err, out)
				return
			}
		}
		cniDir = dir
	})
	return cniDir, cniErr
}

// cniPod is a pod sandbox as the runtime sees it: a network namespace under
// /run/netns, a container ID, and what ADD returned.
type cniPod struct {
	Namespace, Name string
	ContainerID     string
	NetNS           string // name under /run/netns
	IP              netip.Addr
	MAC             string
	Result          []byte // ADD's stdout
	// RequestIP, if set, asks host-local for this address (CNI_ARGS IP=).
	RequestIP string

	// Workload drives probes from inside the pod's namespace.
	Workload *sandbox.Workload
}

// NetNSPath is CNI_NETNS.
func (p *cniPod) NetNSPath() string { return "/run/netns/" + p.NetNS }

// cniRunner executes the plugin against one private OVS.
type cniRunner struct {
	ovs  *sandbox.OVS
	dir  string // CNI_PATH
	conf []byte
}

// cniConf is the network configuration the tests use: one /24, host-local
// state in stateDir, the sandbox's OVS run directory.
func cniConf(o *sandbox.OVS, subnet, stateDir string, waitForAgent string) []byte {
	c := map[string]any{
		"cniVersion":   "1.0.0",
		"name":         "flowgate",
		"type":         "flowgate-cni",
		"bridge":       "br-int",
		"ovsRunDir":    o.Dir,
		"waitForAgent": waitForAgent,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": subnet}}},
			"dataDir": stateDir,
		},
	}
	b, _ := json.Marshal(c)
	return b
}

// reapPodNetns deletes pod namespaces left by test processes that died.
func reapPodNetns() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		parts := strings.SplitN(e.Name(), "-", 3)
		if len(parts) != 3 || parts[0] != "fgk8s" {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// newPodNetns creates an empty pod network namespace with lo up, as the
// runtime does before calling the plugin.
func newPodNetns() (string, error) {
	name := fmt.Sprintf("fgk8s-%d-%d", os.Getpid(), podNSCount.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ip netns add %s: %w: %s", name, err, out)
	}
	if out, err := exec.Command("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return "", fmt.Errorf("lo up in %s: %w: %s", name, err, out)
	}
	return name, nil
}

// exec runs one CNI command for pod with conf (the runner's if nil).
func (r *cniRunner) exec(command string, pod *cniPod, conf []byte) ([]byte, error) {
	if conf == nil {
		conf = r.conf
	}
	cmd := exec.Command("ip", "netns", "exec", r.ovs.NetNS, filepath.Join(r.dir, "flowgate-cni"))
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND="+command,
		"CNI_CONTAINERID="+pod.ContainerID,
		"CNI_NETNS="+pod.NetNSPath(),
		"CNI_IFNAME=eth0",
		"CNI_ARGS="+cniArgs(pod),
		"CNI_PATH="+r.dir,
	)
	cmd.Stdin = bytes.NewReader(conf)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("flowgate-cni %s %s/%s: %w: %s %s", command, pod.Namespace, pod.Name, err, strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// cniArgs are the CNI_ARGS a Kubernetes runtime passes (and IP= for
// host-local when an address is requested).
func cniArgs(pod *cniPod) string {
	a := "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.Namespace + ";K8S_POD_NAME=" + pod.Name + ";K8S_POD_INFRA_CONTAINER_ID=" + pod.ContainerID
	if pod.RequestIP != "" {
		a += ";IP=" + pod.RequestIP
	}
	return a
}

// add creates a pod namespace and runs ADD for it.
func (r *cniRunner) add(namespace, name string) (*cniPod, error) {
	return r.addIP(namespace, name, "")
}

// addIP is add asking for a particular address ("" for any).
func (r *cniRunner) addIP(namespace, name, ip string) (*cniPod, error) {
	nsName, err := newPodNetns()
	if err != nil {
		return nil, err
	}
	pod := &cniPod{Namespace: namespace, Name: name, NetNS: nsName, ContainerID: "c-" + nsName, RequestIP: ip}
	out, err := r.exec("ADD", pod, nil)
	if err != nil {
		_ = exec.Command("ip", "netns", "del", nsName).Run()
		return nil, err
	}
	pod.Result = out
	var res struct {
		Interfaces []struct {
			Name, Mac, Sandbox string
		}
		IPs []struct {
			Address   string
			Interface *int
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return pod, fmt.Errorf("ADD result %s: %w", out, err)
	}
	for _, i := range res.Interfaces {
		if i.Sandbox != "" {
			pod.MAC = i.Mac
		}
	}
	if len(res.IPs) == 0 {
		return pod, fmt.Errorf("ADD result has no IPs: %s", out)
	}
	pfx, err := netip.ParsePrefix(res.IPs[0].Address)
	if err != nil {
		return pod, fmt.Errorf("ADD result address %q: %w", res.IPs[0].Address, err)
	}
	pod.IP = pfx.Addr()
	pod.Workload = &sandbox.Workload{Name: namespace + "-" + name, NetNS: nsName, IPs: []netip.Prefix{pfx}}
	return pod, nil
}

// del runs DEL and deletes the pod namespace, as the runtime does when a
// pod goes away.
func (r *cniRunner) del(pod *cniPod) error {
	_, err := r.exec("DEL", pod, nil)
	if out, nerr := exec.Command("ip", "netns", "del", pod.NetNS).CombinedOutput(); nerr != nil && !strings.Contains(string(out), "No such file") {
		return fmt.Errorf("%v; ip netns del %s: %s", err, pod.NetNS, out)
	}
	return err
}

// withPrevResult returns the runner's configuration with prevResult set,
// as a runtime sends CHECK.
func (r *cniRunner) withPrevResult(prev []byte) []byte {
	var c map[string]any
	_ = json.Unmarshal(r.conf, &c)
	var p any
	_ = json.Unmarshal(prev, &p)
	c["prevResult"] = p
	b, _ := json.Marshal(c)
	return b
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
