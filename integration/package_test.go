package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// The package's installed paths, as README's "Install on a hypervisor" promises.
const (
	installedBin    = "/usr/bin/flowgate"
	installedUnit   = "/usr/lib/systemd/system/flowgate-agent.service"
	installedConfig = "/etc/flowgate/agent.yaml"
	installedPolicy = "/etc/flowgate/policy"
	testDebVersion  = "0.0.0~integration"
)

// requireTools fails (CI=true) or skips when a command the test runs is
// missing.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := sandbox.LookBin(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing %s and CI=true", strings.Join(missing, ", "))
	}
	t.Skipf("missing %s", strings.Join(missing, ", "))
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDebianPackage builds the .deb with `make package`, checks what it
// holds, installs it into this machine with dpkg, runs the installed agent
// — with the installed unit's capability set, from a config derived from
// the installed agent.yaml — against a private Open vSwitch, checks that it
// enforces a policy put in the installed policy directory, and purges the
// package. No systemd unit is started: the agent runs as a child of the
// test, and the system's Open vSwitch is never touched.
func TestDebianPackage(t *testing.T) {
	sandboxtest.Require(t) // root and Open vSwitch: fails under CI=true, skips otherwise
	requireTools(t, "make", "dpkg", "dpkg-deb", "dpkg-query", "setpriv")
	if out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "flowgate").Output(); strings.Contains(string(out), "installed") {
		t.Fatalf("a flowgate package is already installed here (%s); this test installs and purges its own and will not replace it", out)
	}
	o := sandboxtest.New(t)

	// Build.
	start := time.Now()
	mustRun(t, "make", "-C", "..", "package", "DEB_VERSION="+testDebVersion)
	deb := filepath.Join("..", "dist", fmt.Sprintf("flowgate_%s_%s.deb", testDebVersion, runtime.GOARCH))
	t.Cleanup(func() { os.Remove(deb) })
	t.Logf("make package: %s in %s", deb, time.Since(start).Round(time.Second))

	// Contents and control fields.
	contents := mustRun(t, "dpkg-deb", "-c", deb)
	for _, want := range []string{
		`-rwxr-xr-x root/root .* \./usr/bin/flowgate\n`,
		`-rw-r--r-- root/root .* \./usr/lib/systemd/system/flowgate-agent\.service\n`,
		`-rw-r--r-- root/root .* \./etc/flowgate/agent\.yaml\n`,
		`drwxr-xr-x root/root .* \./etc/flowgate/policy/\n`,
	} {
		if !regexp.MustCompile(want).MatchString(contents) {
			t.Errorf("package lacks %s:\n%s", want, contents)
		}
	}
	if got := mustRun(t, "dpkg-deb", "-f", deb, "Package", "Version", "Depends"); got != "Package: flowgate\nVersion: "+testDebVersion+"\nDepends: openvswitch-switch\n" {
		t.Errorf("control fields:\n%s", got)
	}
	if got := mustRun(t, "dpkg-deb", "--info", deb, "conffiles"); strings.TrimSpace(got) != installedConfig {
		t.Errorf("conffiles = %q, want only %s (edits to it must survive upgrades)", got, installedConfig)
	}

	// Install into this machine; purge whatever happens next.
	t.Cleanup(func() {
		os.RemoveAll(filepath.Join(installedPolicy, "test-world.yaml"))
		if out, err := exec.Command("dpkg", "--purge", "flowgate").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge flowgate: %v\n%s", err, out)
		}
		for _, p := range []string{installedBin, installedUnit, installedConfig, installedPolicy} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s is still there after dpkg --purge", p)
			}
		}
	})
	mustRun(t, "dpkg", "--install", deb)
	if status := mustRun(t, "dpkg-query", "-W", "-f=${Status}", "flowgate"); status != "install ok installed" {
		t.Fatalf("dpkg status %q", status)
	}
	if _, err := os.Lstat("/etc/systemd/system/multi-user.target.wants/flowgate-agent.service"); err == nil {
		t.Error("installing enabled the unit; only `systemctl enable --now flowgate-agent` may")
	}
	unit, err := os.ReadFile(installedUnit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecStart="+installedBin+" agent --config "+installedConfig+"\n") {
		t.Errorf("the unit does not run the installed binary with the installed config:\n%s", unit)
	}
	if out := mustRun(t, installedBin, "version"); !strings.HasPrefix(out, "flowgate ") {
		t.Errorf("%s version: %q", installedBin, out)
	}

	// The config the agent would run with, pointed at the private OVS.
	cfgPath, healthAddr := derivedConfig(t, o)

	// Two VMs on br-int and a policy in the installed policy directory:
	// client may reach server on 80 and nothing else.
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	client, server := addVM(t, o, "client", "10.30.0.1", 1), addVM(t, o, "server", "10.30.0.2", 2)
	for _, port := range []int{80, 81} {
		ln, err := server.ListenTCP(port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	if err := os.WriteFile(filepath.Join(installedPolicy, "test-world.yaml"), []byte(packageWorld), 0o644); err != nil {
		t.Fatal(err)
	}

	// Run the installed agent with the unit's privileges, no more.
	caps := unitCapabilities(t, string(unit))
	args := []string{"--bounding-set", caps, "--inh-caps", caps, "--ambient-caps", caps,
		"--securebits", "+noroot,+noroot_locked", "--no-new-privs", installedBin, "agent", "--config", cfgPath}
	cmd := exec.Command("setpriv", args...)
	cmd.Env = o.Env()
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", log.String())
		}
	})
	checkPrivileges(t, cmd.Process.Pid, caps)

	to := netip.MustParseAddrPort("10.30.0.2:80")
	took := waitFor(t, "the installed agent to let client reach server:80", 20*time.Second, func() bool { return client.ProbeTCP(to, 300*time.Millisecond) })
	t.Logf("enforcing %s in %s", installedPolicy, took)
	if client.ProbeTCP(netip.MustParseAddrPort("10.30.0.2:81"), 500*time.Millisecond) {
		t.Error("client reached server:81, which no policy allows")
	}
	resp, err := http.Get("http://" + healthAddr + "/readyz")
	if err != nil {
		t.Fatalf("health endpoint: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %s", resp.Status)
	}
}

// packageWorld: two VMs (default-deny workload endpoints bound by
// iface-id) and a policy letting client reach server on TCP 80.
const packageWorld = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: client, namespace: hv, labels: {role: client}}
spec: {orchestrator: openstack, ipNetworks: [10.30.0.1/32], mac: "02:fd:30:00:00:01"}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: server, namespace: hv, labels: {role: server}}
spec: {orchestrator: openstack, ipNetworks: [10.30.0.2/32], mac: "02:fd:30:00:00:02"}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web, namespace: hv}
spec:
  selector: role == 'server'
  ingress:
    - action: Allow
      protocol: TCP
      source: {selector: role == 'client'}
      destination: {ports: [80]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: client-out, namespace: hv}
spec:
  selector: role == 'client'
  types: [Egress]
  egress:
    - action: Allow
`

func addVM(t *testing.T, o *sandbox.OVS, name, ip string, n byte) *sandbox.Workload {
	t.Helper()
	w, err := o.AddWorkload("br-int", name, name, net.HardwareAddr{0x02, 0xfd, 0x30, 0, 0, n}, netip.MustParsePrefix(ip+"/24"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.RemoveWorkload(w) })
	return w
}

// derivedConfig is the installed agent.yaml with only what a private OVS
// needs changed: its OVSDB, the userspace datapath, quick polling, a free
// health port and a private state directory. policyPaths stays the
// installed directory.
func derivedConfig(t *testing.T, o *sandbox.OVS) (path, health string) {
	t.Helper()
	data, err := os.ReadFile(installedConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", installedConfig, err)
	}
	if p, _ := cfg["policyPaths"].([]any); len(p) != 1 || p[0] != installedPolicy {
		t.Errorf("installed policyPaths = %v, want [%s]", cfg["policyPaths"], installedPolicy)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	health = ln.Addr().String()
	ln.Close()
	cfg["ovsdb"] = o.DBAddr()
	cfg["datapathType"] = "netdev"
	cfg["pollInterval"] = "100ms"
	cfg["checkInterval"] = "300ms"
	cfg["healthAddress"] = health
	if cfg["stateDir"] != "/var/lib/flowgate" {
		t.Errorf("installed stateDir = %v, want /var/lib/flowgate (the unit's StateDirectory)", cfg["stateDir"])
	}
	cfg["stateDir"] = t.TempDir() // not the host's
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, health
}

// unitCapabilities turns the unit's CapabilityBoundingSet into setpriv's
// form: "-all" for an empty set, "-all,+net_admin,..." otherwise.
func unitCapabilities(t *testing.T, unit string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^CapabilityBoundingSet=(.*)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("the unit sets no CapabilityBoundingSet: the agent would run with every capability")
	}
	s := "-all"
	for _, c := range strings.Fields(m[1]) {
		s += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
	}
	return s
}

// checkPrivileges confirms the agent really runs with the unit's
// restrictions (so the enforcement check below proves they are enough).
func checkPrivileges(t *testing.T, pid int, caps string) {
	t.Helper()
	var status string
	waitFor(t, "the agent to exec", 5*time.Second, func() bool {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		status = string(data)
		return exe == installedBin
	})
	want := map[string]string{"NoNewPrivs": "1"}
	if caps == "-all" {
		for _, f := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb"} {
			want[f] = "0000000000000000"
		}
	}
	sc := bufio.NewScanner(strings.NewReader(status))
	got := map[string]string{}
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			got[k] = strings.TrimSpace(v)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("agent %s = %q, want %q", k, got[k], v)
		}
	}
}
