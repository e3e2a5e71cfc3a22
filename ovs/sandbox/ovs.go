package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SchemaPath is the vswitchd database schema shipped by Debian's
// openvswitch-common; a var so that other layouts can point elsewhere.
var SchemaPath = "/usr/share/openvswitch/vswitch.ovsschema"

// maxSockPath is the usable length of a unix socket path (sun_path is 108
// bytes with the NUL). Go clients such as libovsdb cannot dial longer
// paths, so Start refuses a dir that would produce one.
const maxSockPath = 107

// cmdTimeout bounds every command this package runs so that a wedged daemon
// turns into a test failure rather than a hung test binary.
const cmdTimeout = 2 * time.Minute

// readyTimeout bounds how long Start and RestartVswitchd wait for daemons.
const readyTimeout = 20 * time.Second

// OVS is one private Open vSwitch instance. Tests get a whole switch of
// their own, so they can run in parallel with each other (and with other
// packages' test binaries) and can restart or kill it freely.
// Its methods are safe for concurrent use.
type OVS struct {
	// Dir holds the database, sockets, pidfiles and logs; OVS_RUNDIR points
	// at it, so the logs to read after a failure are Dir/ovs-vswitchd.log
	// and Dir/ovsdb-server.log.
	Dir string
	// NetNS is the named network namespace both daemons run in; workload
	// host-side veths live here too (`ip netns exec NetNS ip link`).
	NetNS string

	id  string
	env []string

	mu        sync.Mutex
	stopped   bool
	seq       int
	workloads map[string]*Workload
}

// binPaths caches resolved executables: tests often run with a PATH that
// lacks /usr/sbin, where Debian puts ovs-vswitchd and ovsdb-server.
var binPaths sync.Map

// LookBin finds an executable on PATH or in the sbin/bin directories where
// Debian installs Open vSwitch and iproute2, so that a test environment with
// a minimal PATH still finds them.
func LookBin(name string) (string, error) {
	if p, ok := binPaths.Load(name); ok {
		return p.(string), nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"} {
			c := filepath.Join(d, name)
			if st, serr := os.Stat(c); serr == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				p, err = c, nil
				break
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("find %s: %w", name, err)
	}
	binPaths.Store(name, p)
	return p, nil
}

// randHex returns n random bytes as hex; instance ids must not collide
// between the test processes running at the same time.
func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// ovsNSName is the namespace of the daemons of instance id.
func ovsNSName(id string) string { return "fgovs-" + id }

// wlNSPrefix prefixes the namespaces of instance id's workloads.
func wlNSPrefix(id string) string { return "fgwl-" + id + "-" }

// Start creates a fresh database in dir and starts ovsdb-server and a
// userspace-datapath ovs-vswitchd inside a new network namespace, isolated
// from any system instance and from other sandboxes. It returns once both
// daemons answer. On error, whatever was started is stopped again.
func Start(dir string) (*OVS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox: resolve dir %q: %w", dir, err)
	}
	// The longest socket is ovs-vswitchd.<pid>.ctl (pid up to 7 digits);
	// bridge management sockets "<bridge>.mgmt" are shorter.
	if n := len(abs) + len("/ovs-vswitchd.4194304.ctl"); n > maxSockPath {
		return nil, fmt.Errorf("sandbox: dir %q too long: socket paths would be %d bytes, limit %d; use a shorter dir (os.MkdirTemp(\"\", \"fg\"))", abs, n, maxSockPath)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: create dir: %w", err)
	}
	if _, err := os.Stat(filepath.Join(abs, "conf.db")); err == nil {
		return nil, fmt.Errorf("sandbox: %s already holds a conf.db; Start needs a fresh dir", abs)
	}
	id := randHex(3)
	o := &OVS{
		Dir:       abs,
		NetNS:     ovsNSName(id),
		id:        id,
		workloads: map[string]*Workload{},
	}
	o.env = append(os.Environ(),
		"OVS_RUNDIR="+abs,
		"OVS_DBDIR="+abs,
		"OVS_LOGDIR="+abs,
		"OVS_SYSCONFDIR="+abs,
	)
	if err := register(id, abs); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := o.start(); err != nil {
		return nil, errors.Join(fmt.Errorf("sandbox: start: %w", err), o.Stop())
	}
	return o, nil
}

// start does the work of Start after the instance is registered.
func (o *OVS) start() error {
	if err := createNS(o.NetNS, nil); err != nil {
		return err
	}
	if _, err := o.run("ovsdb-tool", "", "create", filepath.Join(o.Dir, "conf.db"), SchemaPath); err != nil {
		return err
	}
	if err := o.daemon("ovsdb-server",
		filepath.Join(o.Dir, "conf.db"),
		"--remote=punix:"+filepath.Join(o.Dir, "db.sock"),
		"--pidfile="+filepath.Join(o.Dir, "ovsdb-server.pid"),
		"--log-file="+filepath.Join(o.Dir, "ovsdb-server.log"),
		"--detach", "--no-chdir",
	); err != nil {
		return err
	}
	if _, err := o.Vsctl("--no-wait", "init",
		"--", "set", "Open_vSwitch", ".", "external_ids:system-id=fgsandbox-"+o.id,
	); err != nil {
		return err
	}
	if err := o.startVswitchd(); err != nil {
		return err
	}
	return nil
}

// daemon starts one --detach daemon inside the instance's namespace through
// `ip netns exec`, which also remounts /sys for that namespace, and waits
// until it answers on its unixctl socket.
func (o *OVS) daemon(name string, args ...string) error {
	bin, err := LookBin(name)
	if err != nil {
		return err
	}
	// Output goes to a file: the detached grandchild inherits it, and a pipe
	// would make Wait block until the daemon closes it.
	out, err := os.OpenFile(filepath.Join(o.Dir, name+".out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s output: %w", name, err)
	}
	defer out.Close()
	ip, err := LookBin("ip")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ip, append([]string{"netns", "exec", o.NetNS, bin}, args...)...)
	cmd.Env = o.env
	cmd.Dir = o.Dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		tail, _ := os.ReadFile(out.Name())
		return fmt.Errorf("start %s: %w; output: %s", name, err, lastLines(string(tail), 10))
	}
	return o.waitAnswer(name)
}

// waitAnswer polls `ovs-appctl -t name version` until the daemon answers.
func (o *OVS) waitAnswer(name string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		_, err := o.Appctl("-t", name, "-T", "5", "version")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v: %w", name, readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startVswitchd starts ovs-vswitchd and waits until it answers and every
// bridge in the database has its OpenFlow management socket again.
func (o *OVS) startVswitchd() error {
	if err := o.daemon("ovs-vswitchd",
		"unix:"+filepath.Join(o.Dir, "db.sock"),
		"--pidfile="+filepath.Join(o.Dir, "ovs-vswitchd.pid"),
		"--log-file="+filepath.Join(o.Dir, "ovs-vswitchd.log"),
		"--detach", "--no-chdir",
	); err != nil {
		return err
	}
	out, err := o.Vsctl("list-br")
	if err != nil {
		return err
	}
	for _, br := range strings.Fields(out) {
		if err := o.waitBridge(br); err != nil {
			return err
		}
	}
	return nil
}

// waitBridge polls until ovs-ofctl can talk to br.
func (o *OVS) waitBridge(br string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		_, err := o.Ofctl("show", br)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bridge %s not reachable over OpenFlow within %v: %w", br, readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills both daemons (by their pidfiles) and deletes every namespace
// and veth the instance created, so nothing outlives a test. It is
// idempotent and keeps going past errors, returning all of them.
func (o *OVS) Stop() error {
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		return nil
	}
	o.stopped = true
	wls := make([]*Workload, 0, len(o.workloads))
	for _, w := range o.workloads {
		wls = append(wls, w)
	}
	o.workloads = map[string]*Workload{}
	o.mu.Unlock()

	var errs []error
	for _, name := range []string{"ovs-vswitchd", "ovsdb-server"} {
		if err := o.killDaemon(name); err != nil {
			errs = append(errs, err)
		}
	}
	// Anything the pidfiles missed (a daemon that never wrote one).
	for _, pid := range daemonsUsing(o.Dir) {
		if err := killPid(pid, 3*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	// Deleting a namespace destroys the veth ends in it, and with them their
	// peers. Workload namespaces are found by prefix as well, in case an
	// AddWorkload failed half-way.
	for _, w := range wls {
		if err := deleteNS(w.NetNS); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range listNS(wlNSPrefix(o.id)) {
		if err := deleteNS(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := deleteNS(o.NetNS); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := unregister(o.id); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sandbox: stop %s: %w", o.Dir, err)
	}
	return nil
}

// killDaemon stops the daemon named by Dir/<name>.pid, checking the pid
// still belongs to that program so a stale pidfile cannot kill a stranger.
func (o *OVS) killDaemon(name string) error {
	b, err := os.ReadFile(filepath.Join(o.Dir, name+".pid"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s pidfile: %w", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("bad %s pidfile %q", name, b)
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != name {
		return nil // already gone (or pid reused by something else)
	}
	if err := killPid(pid, 5*time.Second); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return nil
}

// RestartVswitchd kills ovs-vswitchd and starts it again against the same
// database, as an upgrade or crash would, so tests can check that the agent
// recovers. Ports and bridges come back from the database; OpenFlow flows do
// not (fail_mode=secure bridges start empty) until someone re-adds them.
func (o *OVS) RestartVswitchd() error {
	if err := o.killDaemon("ovs-vswitchd"); err != nil {
		return fmt.Errorf("sandbox: restart: %w", err)
	}
	if err := o.startVswitchd(); err != nil {
		return fmt.Errorf("sandbox: restart: %w", err)
	}
	return nil
}

// Env is the environment that makes the OVS command-line tools (and any
// library shelling out to them) talk to this instance instead of the
// system's: OVS_RUNDIR is how ovs-ofctl finds "<bridge>.mgmt" and
// ovs-appctl finds the daemons' control sockets.
func (o *OVS) Env() []string { return append([]string(nil), o.env...) }

// DBAddr is the OVSDB endpoint, in the form ovs-vsctl --db and libovsdb's
// WithEndpoint accept.
func (o *OVS) DBAddr() string { return "unix:" + filepath.Join(o.Dir, "db.sock") }

// Vsctl runs ovs-vsctl against this instance's database. Unless --no-wait is
// among args it waits for ovs-vswitchd to apply the change (bounded by a
// 30 s --timeout, since it would otherwise wait forever for a dead daemon).
func (o *OVS) Vsctl(args ...string) (string, error) {
	return o.run("ovs-vsctl", "", append([]string{"--db=" + o.DBAddr(), "--timeout=30"}, args...)...)
}

// Ofctl runs ovs-ofctl with Env(), so a bare bridge name reaches this
// instance's bridge.
func (o *OVS) Ofctl(args ...string) (string, error) {
	return o.run("ovs-ofctl", "", args...)
}

// OfctlInput is Ofctl with stdin, for `add-flows BR -` and `--bundle`
// batches that are too large for the command line.
func (o *OVS) OfctlInput(stdin string, args ...string) (string, error) {
	return o.run("ovs-ofctl", stdin, args...)
}

// Appctl runs ovs-appctl with Env(); without -t it talks to ovs-vswitchd
// (ofproto/trace, dpctl/dump-conntrack, fdb/show...).
func (o *OVS) Appctl(args ...string) (string, error) {
	return o.run("ovs-appctl", "", args...)
}

// run executes an OVS tool with Env() and returns stdout; the error carries
// the command and its stderr, which is where OVS tools explain themselves.
func (o *OVS) run(name, stdin string, args ...string) (string, error) {
	bin, err := LookBin(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = o.env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// AddBridge creates a userspace (netdev) bridge that drops everything until
// flows are installed (fail_mode=secure, so no NORMAL fallback hides a
// missing flow) and speaks OpenFlow 1.0 and 1.3–1.5 (1.4+ for bundles).
// It returns once the bridge answers OpenFlow.
func (o *OVS) AddBridge(name string) error {
	if _, err := o.Vsctl("--may-exist", "add-br", name,
		"--", "set", "Bridge", name,
		"datapath_type=netdev",
		"fail_mode=secure",
		"protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15",
	); err != nil {
		return fmt.Errorf("sandbox: add bridge %s: %w", name, err)
	}
	if err := o.waitBridge(name); err != nil {
		return fmt.Errorf("sandbox: add bridge %s: %w", name, err)
	}
	return nil
}

// lastLines returns the last n lines of s, to keep error messages short.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogTail returns the last n lines of ovs-vswitchd.log, for a failing test
// to print what the switch thought happened.
func (o *OVS) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(o.Dir, "ovs-vswitchd.log"))
	if err != nil {
		return fmt.Sprintf("(no ovs-vswitchd.log: %v)", err)
	}
	return lastLines(string(b), n)
}
