package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgate/flowgate/audit"
)

// auditPolicy logs every TCP connection to prod/database:8080 and then
// allows only app == 'backend' pods of prod (a namespaced Calico policy's
// selector stays in its namespace), logs UDP to 9999 and allows it, and
// logs ICMP echo requests and allows ICMP.
const auditPolicy = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: audit-database
  namespace: prod
spec:
  selector: app == 'database'
  types: [Ingress]
  ingress:
  - action: Log
    protocol: TCP
    destination:
      ports: [8080]
  - action: Allow
    protocol: TCP
    source:
      selector: app == 'backend'
    destination:
      ports: [8080]
  - action: Log
    protocol: UDP
    destination:
      ports: [9999]
  - action: Allow
    protocol: UDP
    destination:
      ports: [9999]
  - action: Deny
    protocol: TCP
    destination:
      ports: [8081]
  - action: Log
    protocol: ICMP
    icmp:
      type: 8
  - action: Allow
    protocol: ICMP
`

// auditReadyLine is the agent's log line once its packet-in connection is
// up: what an audit test waits for besides the realization.
const auditReadyLine = `msg="audit log: receiving logged packets"`

// auditScene starts the backend scene and an agent enforcing auditPolicy
// with the audit log in a file, limited to rate lines per second (and
// bursts of burst); it returns the file.
func auditScene(t *testing.T, rate, burst int, extra string) (*Scene, *agentProc, string) {
	t.Helper()
	o, s := backendScene(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(backendSeed, "world.yaml"), filepath.Join(dir, "world.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "audit.yaml"), []byte(auditPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeAgentConfig(t, o, dir)
	file := filepath.Join(t.TempDir(), "audit.log")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "audit:\n  enabled: true\n  destination: file\n  file: %s\n  ratePerSecond: %d\n  burst: %d\n  reportInterval: 1s\n%s", file, rate, burst, extra)
	f.Close()
	a := startAgent(t, o, cfg)
	a.waitRealized(t, "the audit policy", 0)
	waitFor(t, "the audit log's packet-in connection", 15*time.Second, func() bool { return strings.Contains(a.log.String(), auditReadyLine) })
	return s, a, file
}

// readAudit parses the audit log file (missing: no lines yet).
func readAudit(t *testing.T, path string) []audit.Record {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// TestAuditLogOneLinePerConnection: a Log rule writes exactly one line per
// new connection — allowed or then denied — naming the policy, the rule,
// what followed, the packet and both endpoints; the packets of an open
// connection are not logged again.
func TestAuditLogOneLinePerConnection(t *testing.T) {
	s, _, file := auditScene(t, 100, 200, "")
	db := s.addr("prod/database", 8080)
	for i := 0; i < 3; i++ {
		c, err := s.Workloads["prod/backend"].DialTCP(db, 2*time.Second)
		if err != nil {
			t.Fatalf("prod/backend must reach prod/database:8080: %v", err)
		}
		// More packets of the open connection: logged once all the same.
		for j := 0; j < 3; j++ {
			if _, err := c.Write([]byte("ping\n")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("echo on an open connection: %v", err)
			}
		}
		c.Close()
	}
	if s.Workloads["dev/frontend"].ProbeTCP(db, 300*time.Millisecond) {
		t.Fatal("dev/frontend must not reach prod/database:8080")
	}
	waitFor(t, "4 audit lines", 10*time.Second, func() bool { return len(readAudit(t, file)) >= 4 })
	time.Sleep(time.Second) // anything more would be a second line for one connection
	recs := readAudit(t, file)
	if len(recs) != 4 {
		t.Fatalf("%d audit lines, want 4 (3 allowed connections, 1 denied):\n%+v", len(recs), recs)
	}
	allowed, denied := 0, 0
	ports := map[uint16]bool{}
	for _, r := range recs {
		want := audit.PolicyRef{Kind: "NetworkPolicy", Namespace: "prod", Name: "audit-database"}
		if r.Bridge != "br-int" || r.Direction != "ingress" || r.Tier != "default" || r.Policy != want || r.Rule != 0 || r.RuleAction != "Log" {
			t.Errorf("line names %s %s tier %q %+v rule %d %s, want br-int ingress tier default %+v rule 0 Log", r.Bridge, r.Direction, r.Tier, r.Policy, r.Rule, r.RuleAction, want)
		}
		if r.Protocol != "tcp" || r.DstPort == nil || *r.DstPort != 8080 || r.SrcPort == nil || r.Dst != db.Addr().String() || r.DstEndpoint != "prod/database" {
			t.Errorf("line's packet %+v, want tcp to prod/database %s", r, db)
		}
		if r.SrcPort != nil {
			ports[*r.SrcPort] = true
		}
		switch {
		case r.SrcEndpoint == "prod/backend" && r.Action == "Allow" && strings.Contains(r.DecidedBy, "ingress[1]"):
			allowed++
		case r.SrcEndpoint == "dev/frontend" && r.Action == "Deny":
			denied++
		default:
			t.Errorf("unexpected line: from %s action %s decided by %q", r.SrcEndpoint, r.Action, r.DecidedBy)
		}
	}
	if allowed != 3 || denied != 1 || len(ports) != 4 {
		t.Errorf("%d allowed and %d denied lines from %d source ports, want 3, 1 and 4", allowed, denied, len(ports))
	}
}

// TestAuditLogICMP: a Log rule for ICMP echo requests writes one line for
// a ping, with ICMP type 8 code 0 and no ports.
func TestAuditLogICMP(t *testing.T) {
	s, _, file := auditScene(t, 100, 200, "")
	db := s.Workloads["prod/database"].IPs[0].Addr()
	if !s.Workloads["dev/frontend"].Ping(db, 2*time.Second) {
		t.Fatal("dev/frontend must reach prod/database by ping (ICMP allowed)")
	}
	waitFor(t, "the ping's audit line", 10*time.Second, func() bool { return len(readAudit(t, file)) >= 1 })
	time.Sleep(time.Second)
	recs := readAudit(t, file)
	if len(recs) != 1 {
		t.Fatalf("%d audit lines, want 1 for the ping:\n%+v", len(recs), recs)
	}
	r := recs[0]
	if r.Protocol != "icmp" || r.ICMPType == nil || *r.ICMPType != 8 || r.ICMPCode == nil || *r.ICMPCode != 0 || r.SrcPort != nil || r.DstPort != nil {
		t.Errorf("ping's line: protocol %s, type %v code %v, ports %v %v; want icmp type 8 code 0, no ports", r.Protocol, r.ICMPType, r.ICMPCode, r.SrcPort, r.DstPort)
	}
	if r.SrcEndpoint != "dev/frontend" || r.DstEndpoint != "prod/database" || r.Policy.Name != "audit-database" || r.Rule != 5 || r.RuleAction != "Log" || r.Action != "Allow" {
		t.Errorf("ping's line names %s -> %s, %s rule %d %s then %s; want dev/frontend -> prod/database, audit-database rule 5 Log then Allow",
			r.SrcEndpoint, r.DstEndpoint, r.Policy.Name, r.Rule, r.RuleAction, r.Action)
	}
}

// droppedField reads a number from the agent's last drop report.
var droppedField = regexp.MustCompile(`msg="audit log: connections not logged \(rate limit\)".*switchDropped=(\d+)`)

// TestAuditLogFloodIsCapped: a flood of new connections through a Log rule
// is capped at the configured rate, and what was not logged is counted
// and reported in the agent's log — most of it dropped by the switch's
// controller meter before it reached the agent — and in /metrics, scraped
// on the metrics port (metricsAddress ":PORT") through a non-loopback
// address of the host: flowgate_audit_log_lines_total is the lines in
// the file, flowgate_audit_log_dropped_total is above 0.
func TestAuditLogFloodIsCapped(t *testing.T) {
	const rate, burst, flood = 5, 5, 300
	metrics := net.JoinHostPort(nonLoopbackAddr(t), strconv.Itoa(freePorts(t, 1)[0]))
	_, port, _ := net.SplitHostPort(metrics)
	s, a, file := auditScene(t, rate, burst, fmt.Sprintf("metricsAddress: \":%s\"\n", port))
	to := s.addr("prod/database", 9999)
	start := time.Now()
	for i := 0; i < flood; i++ {
		c, err := s.Workloads["prod/backend"].DialUDP(to)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		c.Close()
	}
	sent := time.Since(start)
	waitFor(t, "the agent to report connections not logged", 15*time.Second, func() bool {
		m := droppedField.FindAllStringSubmatch(a.log.String(), -1)
		return len(m) > 0 && m[len(m)-1][1] != "0"
	})
	time.Sleep(1500 * time.Millisecond) // let the last lines and report land
	elapsed := time.Since(start)
	lines := len(readAudit(t, file))
	limit := burst + int(rate*elapsed.Seconds()) + 1
	m := droppedField.FindAllStringSubmatch(a.log.String(), -1)
	switchDropped, _ := strconv.Atoi(m[len(m)-1][1])
	t.Logf("%d new connections in %s: %d lines in %s (limit %d), switch dropped %d", flood, sent, lines, elapsed, limit, switchDropped)
	if lines == 0 || lines > limit {
		t.Errorf("%d audit lines in %s, want 1..%d (rate %d/s, burst %d)", lines, elapsed, limit, rate, burst)
	}
	if switchDropped < flood/2 {
		t.Errorf("switch dropped %d of %d, want most: the controller meter caps the flood", switchDropped, flood)
	}
	code, body := healthGet(metrics, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics on %s (metricsAddress \":%s\"): %d", metrics, port, code)
	}
	lines = len(readAudit(t, file))
	if got := metricValue(body, "flowgate_audit_log_lines_total"); got != float64(lines) {
		t.Errorf("flowgate_audit_log_lines_total %v, want the %d lines written:\n%s", got, lines, grepLines(body, "flowgate_audit_"))
	}
	if got := metricSum(body, "flowgate_audit_log_dropped_total"); got <= 0 {
		t.Errorf("flowgate_audit_log_dropped_total %v, want above 0 after a flood:\n%s", got, grepLines(body, "flowgate_audit_"))
	}
}

// nonLoopbackAddr is an IPv4 address of this host other than loopback:
// where a scrape from off the host would come to.
func nonLoopbackAddr(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Fatal("this host has no non-loopback IPv4 address to scrape the metrics port through")
	return ""
}

// metricSum sums every sample of a metric (all its label sets).
func metricSum(metrics, name string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:\{[^}]*\})? (\S+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(metrics, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum
}

// TestAuditLogDenied: with logDenied, a connection a Deny rule refuses is
// logged naming that rule, one the tier's default refuses is logged naming
// the default — besides the Log rule's line, and once however often its
// SYN is retransmitted — and an allowed connection only by its Log rule.
func TestAuditLogDenied(t *testing.T) {
	s, _, file := auditScene(t, 100, 200, "  logDenied: true\n")
	db, db8081 := s.addr("prod/database", 8080), s.addr("prod/database", 8081)
	if !s.Workloads["prod/backend"].ProbeTCP(db, 2*time.Second) {
		t.Fatal("prod/backend must reach prod/database:8080")
	}
	// Long enough for the kernel to retransmit the SYN (after 1 s): the
	// retransmission is the same connection and writes no line.
	if s.Workloads["dev/frontend"].ProbeTCP(db, 1500*time.Millisecond) {
		t.Fatal("dev/frontend must not reach prod/database:8080")
	}
	if s.Workloads["dev/frontend"].ProbeTCP(db8081, 300*time.Millisecond) {
		t.Fatal("dev/frontend must not reach prod/database:8081")
	}
	waitFor(t, "4 audit lines", 10*time.Second, func() bool { return len(readAudit(t, file)) >= 4 })
	time.Sleep(time.Second)
	recs := readAudit(t, file)
	type line struct {
		from             string
		port             uint16
		ruleAction, rule string
	}
	got := map[line]int{}
	for _, r := range recs {
		l := line{from: r.SrcEndpoint, ruleAction: r.RuleAction}
		if r.DstPort != nil {
			l.port = *r.DstPort
		}
		if r.Policy.Name != "" {
			l.rule = fmt.Sprintf("%s[%d]", r.Policy.Name, r.Rule)
		} else if strings.Contains(r.DecidedBy, "end of tier") {
			l.rule = "tier default"
		}
		if r.RuleAction == "Deny" && r.Action != "Deny" {
			t.Errorf("a logged denial says %s followed: %+v", r.Action, r)
		}
		got[l]++
	}
	want := map[line]int{
		{"prod/backend", 8080, "Log", "audit-database[0]"}:  1,
		{"dev/frontend", 8080, "Log", "audit-database[0]"}:  1,
		{"dev/frontend", 8080, "Deny", "tier default"}:      1,
		{"dev/frontend", 8081, "Deny", "audit-database[4]"}: 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit lines %v, want %v\n%+v", got, want, recs)
	}
}

// TestAuditLogNeverHoldsTraffic: with the agent stopped (SIGSTOP: its
// packet-in connection open but never read), connections through a Log
// rule are decided and carried as before — the switch never waits for
// the log — and once it runs again, new connections are logged.
func TestAuditLogNeverHoldsTraffic(t *testing.T) {
	s, a, file := auditScene(t, 1000, 1000, "")
	db := s.addr("prod/database", 8080)
	a.cmd.Process.Signal(syscall.SIGSTOP)
	for i := 0; i < 300; i++ {
		if !s.Workloads["prod/backend"].ProbeTCP(db, 2*time.Second) {
			a.cmd.Process.Signal(syscall.SIGCONT)
			t.Fatalf("connection %d through a Log rule failed while the agent was stopped", i)
		}
	}
	if s.Workloads["dev/frontend"].ProbeTCP(db, 300*time.Millisecond) {
		a.cmd.Process.Signal(syscall.SIGCONT)
		t.Fatal("dev/frontend must not reach prod/database:8080 while the agent is stopped")
	}
	a.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(time.Second) // the backlog the switch kept, if any, is written
	before := len(readAudit(t, file))
	if !s.Workloads["prod/backend"].ProbeTCP(db, 2*time.Second) {
		t.Fatal("prod/backend must reach prod/database:8080")
	}
	waitFor(t, "a line for the connection after SIGCONT", 10*time.Second, func() bool { return len(readAudit(t, file)) > before })
}

// TestAuditLogSurvivesVswitchdRestart: ovs-vswitchd restarting drops the
// packet-in connection and forgets the meter; the agent reconnects,
// installs the meter again and goes on logging.
func TestAuditLogSurvivesVswitchdRestart(t *testing.T) {
	s, a, file := auditScene(t, 100, 200, "")
	if err := s.ovs.RestartVswitchd(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent to reconnect its packet-in connection", 30*time.Second, func() bool {
		return strings.Count(a.log.String(), auditReadyLine) >= 2
	})
	waitFor(t, "the meter to be installed again", 10*time.Second, func() bool {
		out, err := s.ovs.Ofctl("-O", "OpenFlow15", "dump-meters", "br-int")
		return err == nil && strings.Contains(out, "meter=controller") && strings.Contains(out, "rate=100")
	})
	db := s.addr("prod/database", 8080)
	waitFor(t, "a logged connection after the restart", 30*time.Second, func() bool {
		s.Workloads["prod/backend"].ProbeTCP(db, 500*time.Millisecond)
		return len(readAudit(t, file)) > 0
	})
}
